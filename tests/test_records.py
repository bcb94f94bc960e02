import json
import os
import subprocess
import sys

import pytest

from arc_seal.config import from_dict, store_config, stored_config
from arc_seal.errors import ConfigError
from arc_seal.records import (
    REJECTED,
    Choices,
    JobRecord,
    PolicyUpdate,
    Records,
    Stage,
    TTTStats,
    from_json,
    new_run_dir,
    to_json,
)


def _rec(stage, task, sample, **kw):
    return JobRecord(stage, 0, task, sample, **kw)


def test_records_append_and_reload_as_typed_records(tmp_path):
    records = Records(tmp_path)
    stats = TTTStats(1e-3, 2, 4, 8, 0, 400, 0.1, [1.0, 0.5, 0.4, 0.3], 0.5)
    records.add(_rec("icl", "a", 0, solved=True, ttt=stats))
    records.add(_rec("no_rl", "a", 1, solved=False))
    records.add(PolicyUpdate(1, "note", "binary", 0.5, [["a", 0]], 1, 3))
    again = Records(tmp_path)
    assert again.get(("icl", 0, "a", 0)) == _rec("icl", "a", 0, solved=True, ttt=stats)
    assert [r.sample for r in again.jobs("no_rl")] == [1]
    assert again.updates() == [PolicyUpdate(1, "note", "binary", 0.5, [["a", 0]], 1, 3)]
    with pytest.raises(ValueError, match="already recorded"):
        again.add(_rec("icl", "a", 0))


def test_listeners_hear_each_new_record_once_whoever_wrote_it(tmp_path):
    Records(tmp_path).add(_rec("icl", "old", 0))  # on disk before: not news
    rank0, rank1 = (
        Records(tmp_path, "records.rank-0.jsonl"),
        Records(tmp_path, "records.rank-1.jsonl"),
    )
    heard = []
    rank0.listeners.append(lambda record: heard.append(record.key))
    rank0.add(_rec("icl", "a", 0))
    rank1.add(_rec("icl", "b", 0))
    rank0.refresh()
    rank0.refresh()  # nothing new
    assert heard == [("icl", 0, "a", 0), ("icl", 0, "b", 0)]


def test_a_line_cut_off_by_a_crash_is_dropped_and_the_file_stays_valid(tmp_path):
    records = Records(tmp_path)
    records.add(_rec("icl", "a", 0))
    with open(tmp_path / "records.jsonl", "a") as f:
        f.write('{"stage": "icl", "iteration": 0, "task_id": "b", "sam')
    resumed = Records(tmp_path)
    assert list(resumed.done) == [("icl", 0, "a", 0)]
    resumed.add(_rec("icl", "b", 0))
    lines = (tmp_path / "records.jsonl").read_text().splitlines()
    assert [json.loads(line)["task_id"] for line in lines] == ["a", "b"]


def test_damaged_lines_are_reported_set_aside_and_their_jobs_redone(tmp_path, caplog):
    records = Records(tmp_path)
    for task in "abc":
        records.add(_rec("icl", task, 0))
    lines = (tmp_path / "records.jsonl").read_text().splitlines()
    lines[1] = lines[1].replace('"task_id"', '"task_id', 1)  # broken JSON in the middle
    lines.insert(2, json.dumps({"iteration": 0, "task_id": "x", "sample": 0, "nonsense": 1}))
    lines.insert(3, "[" * 100_000 + "]" * 100_000)  # too deep for the JSON parser
    (tmp_path / "records.jsonl").write_text("\n".join(lines) + "\n")
    resumed = Records(tmp_path)
    assert sorted(k[2] for k in resumed.done) == ["a", "c"]  # b will run again
    assert "records.jsonl line 2 is damaged" in caplog.text
    assert "records.jsonl line 3 is damaged" in caplog.text
    assert "records.jsonl line 4 is damaged (nested too deeply)" in caplog.text
    assert len((tmp_path / REJECTED).read_text().splitlines()) == 3
    resumed.add(_rec("icl", "b", 0))
    assert sorted(k[2] for k in Records(tmp_path).done) == ["a", "b", "c"]


def test_run_directories_never_collide(tmp_path):
    a = new_run_dir(tmp_path, "simplified")
    b = new_run_dir(tmp_path, "simplified")
    assert a != b and a.is_dir() and b.is_dir()
    assert a.name.endswith("-simplified")


def test_stored_config_is_the_truth_and_an_edited_one_is_refused(tmp_path):
    config = from_dict({"seed": 7, "ttt": {"epochs": 3}})
    store_config(config, tmp_path)
    assert stored_config(tmp_path) == config
    text = (tmp_path / "config.yaml").read_text()
    (tmp_path / "config.yaml").write_text(text.replace("seed: 7", "seed: 0"))
    with pytest.raises(ConfigError, match="config.yaml: edited since the run started"):
        stored_config(tmp_path)
    with pytest.raises(ConfigError, match="not a run directory"):
        stored_config(tmp_path / "nothing")


def test_one_writer_per_run_directory_and_a_dead_holder_blocks_nothing(tmp_path, capsys):
    from arc_seal.cli import main
    from arc_seal.records import run_lock

    store_config(from_dict({}), tmp_path)  # a run directory, as `arc-seal run` leaves one
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from arc_seal.records import run_lock\n"
            f"with run_lock({str(tmp_path)!r}):\n"
            "    print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        busy = rf"in use by another process \(pid {holder.pid}\)"
        with pytest.raises(ConfigError, match=busy), run_lock(tmp_path):
            pass
        with pytest.raises(SystemExit) as done:  # a second resume of the run: one line
            main(["run", "--resume", str(tmp_path)])
        assert done.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err == (
            f"error: {tmp_path}: in use by another process (pid {holder.pid}); one process "
            "writes a run directory at a time"
        )
    finally:
        holder.kill()  # dies holding the lock, leaving its lock file behind
        holder.wait()
    with run_lock(tmp_path):  # the kernel released it with the process
        assert (tmp_path / "run.lock").read_text() == f"{os.getpid()}\n"


def test_choices_are_their_own_record_and_old_ones_written_as_job_records_still_read():
    new = Choices(2, "t", [0.25, 0.75], seconds=0.5)
    assert from_json(to_json(new)) == new and set(json.loads(to_json(new))) == {
        "stage",
        "iteration",
        "task_id",
        "sample",
        "probabilities",
        "seconds",
        "failure",
    }
    old = json.loads(to_json(JobRecord(Stage.ICL, 2, "t", 0))) | {"stage": "choices"}
    old |= {"probabilities": [0.25, 0.75], "seconds": 0.5}  # as a run of before wrote it
    assert from_json(json.dumps(old)) == new
    with pytest.raises(ValueError, match="unknown fields"):  # a choice holds no verdict
        from_json(json.dumps(old | {"solved": True}))
