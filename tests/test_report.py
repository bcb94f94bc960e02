import json

import pytest

from arc_seal.report import Records, new_run_dir


def _rec(stage, task, sample, **kw):
    return {"stage": stage, "iteration": 0, "task_id": task, "sample": sample} | kw


def test_records_append_and_reload(tmp_path):
    records = Records(tmp_path)
    records.add(_rec("icl", "a", 0, solved=True))
    records.add(_rec("no_rl", "a", 1, solved=False))
    again = Records(tmp_path)
    assert again.get(("icl", 0, "a", 0))["solved"] is True
    assert [r["sample"] for r in again.stage("no_rl")] == [1]
    with pytest.raises(ValueError, match="already recorded"):
        again.add(_rec("icl", "a", 0))


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


def test_run_directories_never_collide(tmp_path):
    a = new_run_dir(tmp_path, "simplified")
    b = new_run_dir(tmp_path, "simplified")
    assert a != b and a.is_dir() and b.is_dir()
    assert a.name.endswith("-simplified")
