"""The main job end to end, on synthetic tasks and a tiny checkpoint the test builds."""

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import transformers
from tiny import (
    EXPECTED_JOBS,
    SMALL,
    WHOLE_RUN,
    challenges_subset,
    learnable_run_inputs,
    run_command,
)
from wandb_history import history

from arc_seal.cli import main
from arc_seal.config import from_dict, load_yaml, store_config
from arc_seal.evaluate import ROWS
from arc_seal.jobs import Job
from arc_seal.records import Stage
from arc_seal.report import check_wandb_login
from arc_seal.seal import Experiment
from arc_seal.self_edit import SelfEdit

ROOT = Path(__file__).resolve().parent.parent


def _command(inputs, out, *extra):
    return run_command(inputs, out, *extra)


def _keys(run_dir):
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    return [
        tuple(json.loads(x)[k] for k in ("stage", "iteration", "task_id", "sample")) for x in lines
    ]


def test_whole_loop_writes_a_complete_run_directory(whole_run):
    inputs, out, done = whole_run
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| ICL (no TTT) |" in done.stdout

    config = from_dict(load_yaml(out / "config.yaml"))
    assert config.samples_per_task == 2 and config.ttt.lora_r == 32  # flags and YAML resolved
    keys = _keys(out)
    assert len(keys) == len(set(keys)) == EXPECTED_JOBS

    results = json.loads((out / "results.json").read_text())
    assert set(results) >= {"subset", "model", "seed", "rows", "seconds"}
    assert set(results["rows"]) == set(ROWS)
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    for name, row in results["rows"].items():
        assert row["scored"] and row["failed"] == 0 and row["jobs"] == row["total"]
        # the row's count is what its jobs' records say, task by task
        mine = [r for r in records if r["stage"] == name]
        assert row["correct"] == sum(r["solved"] for r in mine) and row["total"] == len(mine)
        for task_id, outcomes in row["per_task"].items():
            assert outcomes == [r["solved"] for r in mine if r["task_id"] == task_id]
    assert results["rows"]["no_rl"]["total"] == 1

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
    (wandb_file,) = (out / "wandb").glob("offline-run-*/run-*.wandb")
    entries = history(wandb_file)
    jobs = [e for e in entries if "job/index" in e]
    assert sorted(e["job/index"] for e in jobs) == list(range(1, EXPECTED_JOBS))  # all but sft
    fields = ("stage", "iteration", "task", "solved", "cell_accuracy", "shape_accuracy")
    fields += ("steps", "final_loss", "seconds")
    for e in jobs:
        assert all(f"job/{f}" in e for f in fields), e
    assert {(e["job/stage"], e["job/task"]) for e in jobs} == {
        (k[0], k[2]) for k in keys if k[0] != "sft"
    }
    rows = [e for e in entries if "seal/accuracy" in e]
    assert len(rows) == 1 and {
        f"icl/{m}" for m in ("accuracy", "cell_accuracy", "shape_accuracy")
    } <= set(rows[0])
    stages = {k.split("/")[1] for e in entries for k in e if k.startswith("self_edit/")}
    assert {"no_rl", "rest_em-1", "seal"} <= stages  # no-RL and SEAL choices side by side


def _stopped(command: list[str], signal_name: str, after: int) -> subprocess.CompletedProcess:
    """``command``, which sends itself ``signal_name`` right after its ``after``-th record."""
    env = os.environ | {
        "ARC_SEAL_STOP_AFTER_RECORDS": str(after),
        "ARC_SEAL_STOP_SIGNAL": signal_name,
    }
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def _resume_command(out) -> list[str]:
    return [sys.executable, str(ROOT / "scripts" / "run_arc.py"), "--resume", str(out)]


def _contents(run_dir) -> list[dict]:
    """The run's records without their timings."""
    out = []
    for line in (run_dir / "records.jsonl").read_text().splitlines():
        record = {k: v for k, v in json.loads(line).items() if k != "seconds"}
        if record.get("ttt"):
            record["ttt"].pop("seconds")
        out.append(record)
    return out


def test_a_run_stopped_by_sigterm_then_killed_resumes_to_the_records_of_an_uninterrupted_one(
    tmp_path, whole_run
):
    inputs, whole, _ = whole_run
    out = tmp_path / "run"
    command = _command(inputs, out, *WHOLE_RUN, "--wandb", "disabled")  # as the session's run
    stopped = _stopped(command, "SIGTERM", after=3)
    assert stopped.returncode == 143  # 128 + SIGTERM, as a scheduler expects
    assert stopped.stderr.strip().splitlines()[-1] == (
        f"interrupted: every finished job is recorded; finish the run with "
        f"`arc-seal run --resume {out}`"
    )
    assert "Traceback" not in stopped.stderr
    assert [k[0] for k in _keys(out)] == ["icl", "oracle", "no_rl"]

    killed = _stopped(_resume_command(out), "SIGKILL", after=2)  # into the ReST-EM stage
    assert killed.returncode == -signal.SIGKILL
    before = (out / "records.jsonl").read_text().splitlines()
    assert len(before) == 5

    done = subprocess.run(_resume_command(out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]  # the dead run's lock does not block it
    assert (out / "records.jsonl").read_text().splitlines()[:5] == before  # nothing redone
    assert len(_keys(out)) == len(set(_keys(out))) == EXPECTED_JOBS
    assert _contents(out) == _contents(whole)


def _experiment(tmp_path, **changes):
    inputs = learnable_run_inputs(tmp_path)
    values = load_yaml(inputs["config"]) | {
        "subset": str(inputs["subset"]),
        "model": str(inputs["model"]),
        "iterations": 1,
        "samples_per_task": 1,
        "eval_samples": 1,
        "wandb": "disabled",
    }
    return Experiment(from_dict(values | changes))


def test_a_job_out_of_memory_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch):
    experiment = _experiment(tmp_path)
    broken = experiment.subset.train[0].id
    real_train = type(experiment.engine).train

    def train(engine, task, ttt_config):
        if task.id == broken:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_train(engine, task, ttt_config)

    monkeypatch.setattr(type(experiment.engine), "train", train)
    (tmp_path / "run").mkdir()
    results = experiment.run(tmp_path / "run")
    failed = experiment.records.get(("rest_em", 1, broken, 0))
    assert failed.failure == "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
    assert failed.solved is None
    other = experiment.records.get(("rest_em", 1, experiment.subset.train[1].id, 0))
    assert other.failure is None and other.ttt.steps > 0
    assert results.rows["seal"].total == 1


def test_a_bug_in_a_job_ends_the_run_with_its_traceback_and_keeps_what_was_done(
    tmp_path, monkeypatch
):
    experiment = _experiment(tmp_path)

    def broken(*args, **kwargs):
        raise KeyError("a programming error")

    monkeypatch.setattr("arc_seal.policy.sample_schema", broken)
    (tmp_path / "run").mkdir()
    with pytest.raises(KeyError, match="a programming error"):
        experiment.run(tmp_path / "run")
    assert [k[0] for k in _keys(tmp_path / "run")] == ["icl", "oracle"]


def _run(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()  # what set-up printed
    with pytest.raises(SystemExit) as done:
        main(["run", *argv])
    out, err = capsys.readouterr()
    return done.value.code, out, err


def _one_line_error(capsys, *argv) -> str:
    code, _, err = _run(capsys, *argv)
    lines = [x for x in err.splitlines() if x.strip() and not x.startswith("run directory")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: ")
    return lines[0]


def _yaml(path: Path, **values) -> str:
    import yaml

    path.write_text(yaml.safe_dump(values))
    return str(path)


def test_user_errors_exit_2_with_one_line_and_leave_nothing_behind(tmp_path, capsys):
    inputs = learnable_run_inputs(tmp_path)
    out = tmp_path / "r"
    base = ["--output-dir", str(out)]
    cases = {
        "error: unknown subset 'nope'; known: ": ["--subset", "nope"],
        "error: cannot load model '/no/such/model'": ["--model", "/no/such/model"],
        "error: /no/such.yaml: no such config file": ["--config", "/no/such.yaml"],
        "error: default config: device = 'tpu': expected a value matching": ["--device", "tpu"],
        f"error: {tmp_path / 'bad.yaml'}: trust_remote_code = 'no': expected true or false": [
            "--config",
            _yaml(tmp_path / "bad.yaml", trust_remote_code="no"),
        ],
        f"error: {tmp_path / 'int.yaml'}: subset = 123: expected a non-empty string": [
            "--config",
            _yaml(tmp_path / "int.yaml", subset=123),
        ],
    }
    for message, argv in cases.items():
        assert _one_line_error(capsys, *base, *argv).startswith(message), message
        assert not out.exists()
    (tmp_path / "file").write_text("")
    at_file = _one_line_error(
        capsys,
        "--output-dir",
        str(tmp_path / "file"),
        "--model",
        str(inputs["model"]),
        "--subset",
        str(inputs["subset"]),
    )
    assert at_file == f"error: {tmp_path / 'file'}: is a file, not a directory for a run"
    under_file = _one_line_error(
        capsys,
        "--output-dir",
        str(tmp_path / "file" / "run"),
        "--model",
        str(inputs["model"]),
        "--subset",
        str(inputs["subset"]),
    )
    assert "cannot create the run directory" in under_file


def test_wandb_online_without_a_login_is_refused_before_any_job(tmp_path, capsys, monkeypatch):
    inputs = learnable_run_inputs(tmp_path)
    for name in ("WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))  # no key anywhere
    out = tmp_path / "run"
    argv = ["--config", str(inputs["config"]), "--subset", str(inputs["subset"])]
    argv += ["--model", str(inputs["model"]), "--output-dir", str(out), "--wandb", "online"]
    assert _one_line_error(capsys, *argv) == (
        "error: --wandb online needs a W&B login: run `wandb login` (or set WANDB_API_KEY), "
        "or log to files with --wandb offline"
    )
    assert not out.exists()
    (tmp_path / "netrc").write_text("machine api.wandb.ai login user password key\n")
    check_wandb_login("online")  # a login W&B would find is let through


def test_broken_models_and_subsets_are_one_line(tmp_path, capsys):
    inputs = learnable_run_inputs(tmp_path)
    model = inputs["model"]
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps(config | {"num_hidden_layers": "two"}))
    line = _one_line_error(capsys, "--model", str(model), "--subset", str(inputs["subset"]))
    assert line.startswith(f"error: cannot load model '{model}'")
    (model / "config.json").write_text(json.dumps(config))
    (model / "model.safetensors").write_bytes(b"not a safetensors file")
    line = _one_line_error(capsys, "--model", str(model), "--subset", str(inputs["subset"]))
    assert line.startswith(f"error: cannot load model '{model}'")
    (tmp_path / "s5.json").write_text(json.dumps({"dataset": 5, "train": [], "eval": []}))
    line = _one_line_error(capsys, "--subset", str(tmp_path / "s5.json"))
    assert line.startswith(f"error: {tmp_path / 's5.json'}: 'dataset' is 5; expected")


def test_resume_refuses_changed_flags_and_an_edited_config(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    store_config(from_dict({"seed": 7, "eval_samples": 2}), run_dir)
    line = _one_line_error(capsys, "--resume", str(run_dir), "--seed", "5")
    assert line == (
        f"error: {run_dir}: --seed 5 differs from the run's seed 7; a resumed run keeps its "
        "settings (start a new run to change them)"
    )
    line = _one_line_error(capsys, "--resume", str(run_dir), "--subset", "nosuch")
    assert "--subset 'nosuch' differs from the run's subset 'simplified'" in line
    text = (run_dir / "config.yaml").read_text()
    (run_dir / "config.yaml").write_text(text.replace("seed: 7", "seed: 0"))
    line = _one_line_error(capsys, "--resume", str(run_dir))
    assert (
        line == f"error: {run_dir / 'config.yaml'}: edited since the run started; its "
        "records were made under the old settings (start a new run to change them)"
    )


def test_a_run_whose_rows_all_fail_shows_it_and_exits_non_zero(tmp_path, capsys):
    inputs = learnable_run_inputs(tmp_path)
    out = tmp_path / "run"
    code, stdout, err = _run(
        capsys,
        *_command(inputs, out, "--wandb", "disabled", "--iterations", "0", "--ttt.max-steps", "1")[
            2:
        ],
    )
    assert code == 1 and "every job failed in: oracle, no_rl, seal" in err
    table = (out / "results.md").read_text()
    assert "| Oracle TTT config | all 1 jobs failed | 0 / 1 | - | - | - | 1 / 1 |" in table
    assert "Failed in Oracle TTT config: 1 x needs N steps, over the budget of N" in table
    assert "| ICL (no TTT) |" in table and (out / "submission.json").exists()


def test_prediction_only_run_on_a_challenges_file_without_solutions(tmp_path, capsys):
    inputs = learnable_run_inputs(tmp_path)
    subset = challenges_subset(tmp_path)
    ids = json.loads(subset.read_text())["eval"]
    out = tmp_path / "run"
    code, stdout, _ = _run(
        capsys,
        "--config",
        str(inputs["config"]),
        "--subset",
        str(subset),
        "--model",
        str(inputs["model"]),
        "--output-dir",
        str(out),
        "--iterations",
        "0",
        "--eval-samples",
        "1",
        "--wandb",
        "disabled",
    )
    assert code == 0
    assert "| ICL (no TTT) | not scored |" in stdout
    assert "| SEAL (TTT + self-edit after ReST-EM) | not scored |" in stdout
    submission = json.loads((out / "submission.json").read_text())
    assert sorted(submission) == ids
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    for task_id in ids:  # the SEAL row's own answers, not placeholders
        (entry,) = submission[task_id]
        (seal,) = (r for r in records if r["stage"] == "seal" and r["task_id"] == task_id)
        assert seal["failure"] is None and seal["solved"] is None
        assert entry["attempt_1"] == seal["attempts"][0][0]
    results = json.loads((out / "results.json").read_text())
    assert all(not r["scored"] and r["failed"] == 0 for r in results["rows"].values())


def test_a_task_id_that_is_a_path_is_refused(tmp_path, capsys):
    task = {"train": [{"input": [[1]], "output": [[1]]}], "test": [{"input": [[1]]}]}
    (tmp_path / "c_challenges.json").write_text(json.dumps({"../../../X": task}))
    (tmp_path / "s.json").write_text(
        json.dumps({"dataset": "c_challenges.json", "train": [], "eval": ["../../../X"]})
    )
    line = _one_line_error(capsys, "--subset", str(tmp_path / "s.json"))
    assert "task '../../../X' is not a plain name" in line
    with pytest.raises(SystemExit) as done:
        main(["show", str(tmp_path / "c_challenges.json"), "--out", str(tmp_path / "pics")])
    assert done.value.code == 2
    assert not list(tmp_path.parent.glob("X.png")) and not (tmp_path / "pics").exists()


def test_malformed_task_file_in_a_subset_exits_2(tmp_path, capsys):
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "bad.json").write_text(
        '{"train": [{"input": [[1, 2], [3]], "output": [[1]]}], "test": []}'
    )
    (tmp_path / "s.json").write_text(json.dumps({"dataset": "tasks", "train": ["bad"], "eval": []}))
    line = _one_line_error(
        capsys, "--subset", str(tmp_path / "s.json"), "--output-dir", str(tmp_path / "r")
    )
    where = f"{tmp_path}/tasks/bad.json: task 'bad' train[0].input"
    assert line == f"error: {where} row 1 has 1 cells, expected 2"
    assert not (tmp_path / "r").exists()


def test_full_fine_tuning_search_and_poe_run_the_whole_loop(tmp_path, capsys):
    inputs = learnable_run_inputs(tmp_path)
    spec = json.loads(inputs["subset"].read_text())  # a curated subset carries its grid
    ids = spec["train"] + spec["eval"]
    configs = [
        SelfEdit(*[False] * 4, "train_using_output_tokens", lr, 1).to_json() for lr in (1e-3, 1e-2)
    ]
    spec["grid"] = {"configurations": configs, "solved": {ids[0]: [1], ids[1]: [1], ids[2]: [0]}}
    inputs["subset"].write_text(json.dumps(spec))
    out = tmp_path / "run"
    levers = ["--ttt.method", "full", "--ttt.tokens-per-epoch", "400", "--ttt.max-steps", "none"]
    levers += ["--predict.candidates", "dfs", "--predict.scoring", "poe"]
    levers += ["--predict.scoring-views", "2", "--oracle-learning-rate", "0.001"]
    code, stdout, err = _run(capsys, *_command(inputs, out, "--wandb", "disabled", *levers)[2:])
    assert code == 0, err[-3000:]
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == EXPECTED_JOBS
    oracle = next(r for r in records if r["stage"] == "oracle")
    assert oracle["failure"] is None and 800 <= oracle["ttt"]["tokens"] < 800 + 400
    assert oracle["truth_in_candidates"] is not None and oracle["trivial_cell_accuracy"] > 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    # config 1 solves both train tasks but not the eval task; config 0 does
    assert (rows["best_fixed"]["expected"], rows["grid_oracle"]["expected"]) == (0, 1)
    assert (
        "| Grid oracle (any config, from the grid) | 100.0% |" in (out / "results.md").read_text()
    )


def test_search_with_a_chat_model_is_refused_before_the_run(tmp_path, capsys):
    from tiny import chat_tokenizer

    from arc_seal.models import new_llama

    inputs = learnable_run_inputs(tmp_path)
    chat = tmp_path / "chat-model"
    new_llama(chat_tokenizer(), hidden_size=32, layers=1, heads=2).save_pretrained(chat)
    chat_tokenizer().save_pretrained(chat)
    argv = _command(inputs, tmp_path / "run", "--predict.candidates", "dfs")[2:]
    argv[argv.index("--model") + 1] = str(chat)
    code, _, err = _run(capsys, *argv)
    errors = [x for x in err.splitlines() if x.startswith("error: ")]
    assert code == 2 and "Traceback" not in err and len(errors) == 1, err
    assert "predict.candidates" in errors[0] and "chat" in errors[0]
    assert not (tmp_path / "run").exists()


def test_the_seal_row_is_scored_after_every_iteration_when_asked(tmp_path, capsys):
    inputs = learnable_run_inputs(tmp_path)
    out = tmp_path / "run"
    extra = ["--wandb", "disabled", "--iterations", "2", "--seal-each-iteration"]
    code, stdout, err = _run(capsys, *_command(inputs, out, *extra)[2:])
    assert code == 0, err[-3000:]
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert rows["seal@1"]["total"] == rows["seal"]["total"] == 1
    keys = _keys(out)
    assert ("seal", 1, rows["seal"]["per_task"].popitem()[0], 0) in keys
    assert sum(k[0] == "sft" for k in keys) == 2
    table = (out / "results.md").read_text()
    assert table.index("SEAL after ReST-EM iteration 1") < table.index("| SEAL (TTT + self-edit")


def test_a_model_type_transformers_does_not_know_is_named_and_a_bug_keeps_its_traceback(
    tmp_path, capsys, monkeypatch
):
    from transformers import LlamaForCausalLM

    inputs = learnable_run_inputs(tmp_path)
    model = inputs["model"]
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps(config | {"model_type": "frobnicator"}))
    line = _one_line_error(capsys, "--model", str(model), "--subset", str(inputs["subset"]))
    assert line.endswith(
        "its config.json names model_type 'frobnicator', which transformers "
        f"{transformers.__version__} does not know"
    )
    assert "tokenizer" not in line
    (model / "config.json").write_text(json.dumps(config))

    def broken_init(self, config):  # a bug in model code, not the user's to fix
        raise AttributeError("'LlamaConfig' object has no attribute 'frobnication'")

    monkeypatch.setattr(LlamaForCausalLM, "__init__", broken_init)
    with pytest.raises(AttributeError, match="frobnication"):
        main(["run", "--model", str(model), "--subset", str(inputs["subset"])])


def test_a_full_disk_ends_the_run_with_one_line_and_resume_finishes_every_job_once(
    tmp_path, capsys, monkeypatch
):
    import arc_seal.records

    inputs = learnable_run_inputs(tmp_path)
    out = tmp_path / "run"
    real_open, appended = open, []

    class FullDisk:
        """A records file on a disk that fills up halfway through the fourth record."""

        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, text):
            appended.append(text)
            if len(appended) == 4:
                self.f.write(text[: len(text) // 2])
                self.f.flush()
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(text)

        def __getattr__(self, name):
            return getattr(self.f, name)

    def full_disk_open(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        return FullDisk(f) if Path(path).name == "records.jsonl" and "a" in mode else f

    monkeypatch.setattr(arc_seal.records, "open", full_disk_open, raising=False)
    argv = ["--config", str(inputs["config"]), "--subset", str(inputs["subset"])]
    argv += ["--model", str(inputs["model"]), "--output-dir", str(out), *SMALL]
    code, _, err = _run(capsys, *argv, "--wandb", "disabled")
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"error: {out / 'records.jsonl'}: No space left on device; every finished job is "
        f"recorded; free some space, then finish the run with `arc-seal run --resume {out}`"
    )
    assert not (out / "records.jsonl").read_text().endswith("\n")  # the half-written line
    monkeypatch.undo()  # space freed

    code, _, err = _run(capsys, "--resume", str(out))
    assert code == 0, err
    keys = _keys(out)
    assert len(keys) == len(set(keys)) == EXPECTED_JOBS
    assert keys[:3] == [k for k in keys if k[0] in ("icl", "oracle", "no_rl")]


def test_a_failed_policy_update_then_resume_gives_the_records_of_an_uninterrupted_run(
    tmp_path, capsys, monkeypatch, request
):
    import arc_seal.models
    import arc_seal.rest_em

    def diverging(*args, **kwargs):
        raise FloatingPointError("loss is nan")

    # bfloat16, as on a GPU, where SFT in float32 could leave the policy in the wrong dtype
    monkeypatch.setattr(arc_seal.models, "default_dtype", lambda device: torch.bfloat16)
    monkeypatch.setattr(arc_seal.rest_em, "train_steps", diverging)
    inputs = learnable_run_inputs(tmp_path)
    argv = ["--config", str(inputs["config"]), "--subset", str(inputs["subset"])]
    argv += ["--model", str(inputs["model"]), *SMALL, "--wandb", "disabled"]
    code, _, err = _run(capsys, *argv, "--output-dir", str(tmp_path / "whole"))
    assert code == 0, err

    # Ctrl-C as at a terminal: a shell that starts the tests in the background has them
    # ignore SIGINT
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    sft_at = 1 + 1 + 1 + 2 * 2 + 1  # icl, oracle, no_rl, rest_em: the policy update is 8th
    monkeypatch.setenv("ARC_SEAL_STOP_AFTER_RECORDS", str(sft_at))
    monkeypatch.setenv("ARC_SEAL_STOP_SIGNAL", "SIGINT")
    code, _, _ = _run(capsys, *argv, "--output-dir", str(tmp_path / "split"))
    assert code == 130
    monkeypatch.delenv("ARC_SEAL_STOP_AFTER_RECORDS")
    code, _, err = _run(capsys, "--resume", str(tmp_path / "split"))
    assert code == 0, err

    def records(run_dir):
        lines = (run_dir / "records.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in lines]

    whole, split = records(tmp_path / "whole"), records(tmp_path / "split")
    (update,) = (r for r in whole if r["stage"] == "sft")
    assert update["failure"].startswith("FloatingPointError: loss is nan")
    for r in whole + split:
        if r.get("ttt"):
            r["ttt"].pop("seconds")
    assert split == whole


def test_resampling_an_invalid_self_edit_is_bounded_and_recorded(tmp_path, monkeypatch):
    from arc_seal.config import config_path

    assert from_dict(load_yaml(config_path("llama-1b"))).max_invalid_retries == 1000
    tries = []

    def never_valid(*args, **kwargs):
        tries.append(1)
        return "I would rather not say."

    monkeypatch.setattr("arc_seal.policy.sample_free", never_valid)
    experiment = _experiment(tmp_path, decoding="free", max_invalid_retries=50)
    task = experiment.subset.eval[0]
    record = experiment.self_edit(Job(Stage.NO_RL, 0, task, 0, seed=0))
    assert len(tries) == 51 and record.tries == 51
    assert record.failure.startswith("invalid self-edit: ")
    assert record.self_edit_text == "I would rather not say." and record.self_edit is None
