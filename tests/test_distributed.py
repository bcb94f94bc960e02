"""Several processes under torchrun (gloo, CPU) against one: same records, and a run killed
mid-stage resumes under another world size without losing or repeating a job."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tiny import learnable_run_inputs

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--iterations", "1", "--samples-per-task", "2", "--eval-samples", "2"]
SMALL += ["--wandb", "disabled"]
# 1 eval and 2 train tasks: icl 1, oracle 1, no_rl 2, rest_em 4, sft 1, seal 2
EXPECTED_JOBS = 11
ENV = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _args(inputs, out) -> list[str]:
    return [
        str(ROOT / "scripts" / "run_arc.py"),
        *("--config", str(inputs["config"]), "--subset", str(inputs["subset"])),
        *("--model", str(inputs["model"]), "--output-dir", str(out), *SMALL),
    ]


def _torchrun(n: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n}"]


def _records(run_dir: Path) -> dict[tuple, dict]:
    out = {}
    for path in sorted(run_dir.glob("records*.jsonl")):
        for line in path.read_text().splitlines():
            r = json.loads(line)
            key = (r["stage"], r["iteration"], r["task_id"], r["sample"])
            assert key not in out, f"{key} recorded twice"
            out[key] = r
    return out


def _verdict(r: dict) -> tuple:
    return (r.get("solved"), r.get("cell_accuracy"), r.get("attempts"), r.get("self_edit"))


@pytest.mark.slow
def test_two_ranks_killed_mid_stage_then_resumed_by_one_process_record_what_one_records(tmp_path):
    inputs = learnable_run_inputs(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    done = subprocess.run(
        [sys.executable, *_args(inputs, one)], env=ENV, capture_output=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # the first rank to append its third record kills itself; torchrun then ends the other
    stop = {"ARC_SEAL_STOP_AFTER_RECORDS": "3", "ARC_SEAL_STOP_SIGNAL": "SIGKILL"}
    killed = subprocess.run(
        _torchrun(2) + _args(inputs, two), env=ENV | stop, capture_output=True, timeout=600
    )
    assert killed.returncode != 0
    before = _partial(two)
    assert len(before) >= 3 and not (two / "results.json").exists()
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_arc.py"), "--resume", str(two)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = _records(one), _records(two)  # raises if a job was recorded twice
    assert a.keys() == b.keys() and len(a) == EXPECTED_JOBS
    assert not list(two.glob("records.rank-*.jsonl"))  # merged into records.jsonl
    for key, line in before.items():
        assert b[key] == json.loads(line)  # kept as written, not run again
    for key in a:
        if key[0] != "sft":
            assert _verdict(a[key]) == _verdict(b[key]), key
    assert a[("sft", 1, "*", 0)]["pairs"] == b[("sft", 1, "*", 0)]["pairs"]
    assert (
        json.loads((one / "results.json").read_text())["rows"]
        == json.loads((two / "results.json").read_text())["rows"]
    )


def _partial(run_dir: Path) -> dict[tuple, str]:
    """Complete lines written so far, by key."""
    out = {}
    for path in sorted(run_dir.glob("records*.jsonl")):
        for line in path.read_text().splitlines(keepends=True):
            if line.endswith("\n"):
                r = json.loads(line)
                out[(r["stage"], r["iteration"], r["task_id"], r["sample"])] = line
    return out


@pytest.mark.slow
def test_an_evaluation_under_two_ranks_records_what_one_process_records(tmp_path):
    inputs = learnable_run_inputs(tmp_path)
    args = ["--synthetic", "1", "--limit", "3", "--max-side", "4", "--rows", "icl", "oracle"]
    args += ["--config", str(inputs["config"]), "--model", str(inputs["model"])]
    args += ["--wandb", "disabled"]
    one, two = tmp_path / "one", tmp_path / "two"
    script = str(ROOT / "scripts" / "evaluate_model.py")
    for command, out in (([sys.executable], one), (_torchrun(2), two)):
        done = subprocess.run(
            [*command, script, *args, "--out", str(out)],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    assert "(2 ranks)" in done.stdout
    a, b = _records(one), _records(two)
    assert a.keys() == b.keys() and len(a) == 6
    assert not list(two.glob("records.rank-*.jsonl"))  # merged into records.jsonl
    for key in a:
        assert _verdict(a[key]) == _verdict(b[key]), key
    summary = [json.loads((d / "benchmark.json").read_text())["summary"] for d in (one, two)]
    for row in ("icl", "oracle"):  # the same verdicts; only the seconds differ
        for s in summary:
            s[row]["all"].pop("seconds_per_job")
        assert summary[0][row]["all"] == summary[1][row]["all"]
