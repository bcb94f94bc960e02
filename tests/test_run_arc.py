"""The main job end to end, on synthetic tasks and a tiny checkpoint the test builds."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny import learnable_run_inputs

from arc_seal.config import from_dict, load_yaml
from arc_seal.evaluate import ROWS
from arc_seal.seal import Experiment

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--iterations", "1", "--samples-per-task", "2", "--eval-samples", "1"]
EXPECTED_JOBS = 1 + 1 + 1 + 2 * 2 + 1 + 1  # icl, oracle, no_rl, rest_em, sft, seal


def _command(inputs, out, *extra):
    return [
        sys.executable,
        str(ROOT / "scripts" / "run_arc.py"),
        "--config",
        str(inputs["config"]),
        "--subset",
        str(inputs["subset"]),
        "--model",
        str(inputs["model"]),
        "--output-dir",
        str(out),
        *SMALL,
        *extra,
    ]


def _keys(run_dir):
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    return [
        tuple(json.loads(x)[k] for k in ("stage", "iteration", "task_id", "sample")) for x in lines
    ]


def test_whole_loop_writes_a_complete_run_directory(tmp_path):
    inputs = learnable_run_inputs(tmp_path)
    out = tmp_path / "run"
    done = subprocess.run(
        _command(inputs, out, "--wandb", "offline", "--oracle-learning-rate", "0.005"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| ICL (no TTT) |" in done.stdout

    config = from_dict(load_yaml(out / "config.yaml"))
    assert config.samples_per_task == 2 and config.ttt.lora_r == 32  # flags and YAML resolved
    keys = _keys(out)
    assert len(keys) == len(set(keys)) == EXPECTED_JOBS

    results = json.loads((out / "results.json").read_text())
    assert set(results) >= {"subset", "model", "seed", "rows", "seconds"}
    assert set(results["rows"]) == set(ROWS)
    for row in results["rows"].values():
        assert set(row) == {
            "accuracy",
            "correct",
            "total",
            "per_task",
            "cell_accuracy",
            "shape_accuracy",
        }
        assert row["accuracy"] == row["correct"] / row["total"]
        assert all(isinstance(x, bool) for v in row["per_task"].values() for x in v)
    assert results["rows"]["no_rl"]["total"] == 1

    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    for r in (r for r in records if r["stage"] in ("rest_em", "no_rl", "seal")):
        assert r["self_edit"] is not None and r["self_edit_text"] and r["seconds"] >= 0
        assert r["ttt"]["steps"] > 0 and len(r["ttt"]["losses"]) == r["ttt"]["steps"]
    (oracle,) = (r for r in records if r["stage"] == "oracle")
    assert oracle["ttt"]["learning_rate"] == 0.005 and oracle["ttt"]["epochs"] == 2
    sft = next(r for r in records if r["stage"] == "sft")
    assert sft["pairs"] == len(sft["reinforced"]) > 0  # this tiny model does learn these tasks
    assert (out / "policy" / "iteration-1" / "adapter_model.safetensors").exists()

    table = (out / "results.md").read_text()
    assert "SEAL (TTT + self-edit after ReST-EM)" in table
    submission = json.loads((out / "submission.json").read_text())
    (task_id,) = submission
    assert set(submission[task_id][0]) == {"attempt_1", "attempt_2"}
    assert (out / "pictures" / f"{task_id}.png").exists()
    assert list((out / "wandb").glob("offline-run-*/run-*.wandb"))


def test_killed_run_resumes_without_redoing_or_losing_jobs(tmp_path):
    inputs = learnable_run_inputs(tmp_path)
    out = tmp_path / "run"
    proc = subprocess.Popen(
        _command(inputs, out, "--wandb", "disabled"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if (out / "records.jsonl").exists() and len(_keys(out)) >= 4:  # into the ReST-EM stage
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = (out / "records.jsonl").read_text().splitlines()
    assert 4 <= len(before) < EXPECTED_JOBS

    cmd = [sys.executable, str(ROOT / "scripts" / "run_arc.py"), "--resume", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    after = (out / "records.jsonl").read_text().splitlines()
    assert after[: len(before)] == before  # nothing redone or rewritten
    keys = _keys(out)
    assert len(keys) == len(set(keys)) == EXPECTED_JOBS
    assert json.loads((out / "results.json").read_text())["rows"]["seal"]["total"] == 1


def test_a_failing_ttt_job_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch):
    inputs = learnable_run_inputs(tmp_path)
    values = load_yaml(inputs["config"]) | {
        "subset": str(inputs["subset"]),
        "model": str(inputs["model"]),
        "iterations": 1,
        "samples_per_task": 1,
        "eval_samples": 1,
        "wandb": "disabled",
    }
    config = from_dict(values)
    experiment = Experiment(config)
    broken = experiment.subset.train[0].id
    real_train = type(experiment.engine).train

    def train(engine, task, ttt_config):
        if task.id == broken:
            raise RuntimeError("CUDA error: device-side assert triggered")
        return real_train(engine, task, ttt_config)

    monkeypatch.setattr(type(experiment.engine), "train", train)
    (tmp_path / "run").mkdir()
    results = experiment.run(tmp_path / "run")
    failed = experiment.records.get(("rest_em", 1, broken, 0))
    assert failed["failure"] == "RuntimeError: CUDA error: device-side assert triggered"
    assert failed["solved"] is False
    other = experiment.records.get(("rest_em", 1, experiment.subset.train[1].id, 0))
    assert other["failure"] is None and other["ttt"]["steps"] > 0
    assert results["rows"]["seal"]["total"] == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--subset", "nope"], "error: unknown subset 'nope'; known: "),
        (
            ["--model", "/no/such/model", "--subset", "simplified"],
            "error: cannot load model '/no/such/model'",
        ),
        (["--config", "/no/such.yaml"], "error: /no/such.yaml: no such config file"),
    ],
)
def test_user_errors_exit_2_with_one_line(tmp_path, args, message):
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "run_arc.py"),
        "--output-dir",
        str(tmp_path / "r"),
        *args,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "r").exists()  # nothing is left behind
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), done.stderr


def test_malformed_task_file_in_a_subset_exits_2(tmp_path):
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "bad.json").write_text(
        '{"train": [{"input": [[1, 2], [3]], "output": [[1]]}], "test": []}'
    )
    (tmp_path / "s.json").write_text(json.dumps({"dataset": "tasks", "train": ["bad"], "eval": []}))
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "run_arc.py"),
        "--subset",
        str(tmp_path / "s.json"),
        "--output-dir",
        str(tmp_path / "r"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    where = f"{tmp_path}/tasks/bad.json: task 'bad' train[0].input"
    assert done.stderr.strip() == f"error: {where} row 1 has 1 cells, expected 2"
