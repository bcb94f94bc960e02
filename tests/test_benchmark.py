"""Scoring a model without the loop: the benchmark command and the sanity check."""

import json

import numpy as np
import pytest
from tiny import challenges_subset, learnable_run_inputs

from arc_seal.benchmark import held_out_loss, sanity_tasks
from arc_seal.cli import main
from arc_seal.encoding import TaskEncoder
from arc_seal.models import load_model
from arc_seal.synthetic import RULES, make_task
from arc_seal.ttt import TTTConfig, TTTEngine


def test_sanity_tasks_cover_every_family_and_are_fresh():
    tasks = sanity_tasks(2)
    assert len(tasks) == 2 * len(RULES)
    assert {t.id.rsplit("-", 1)[0] for t in tasks} == set(RULES)
    assert [t.to_json() for t in tasks] == [t.to_json() for t in sanity_tasks(2)]  # seeded


def test_held_out_loss_falls_when_the_model_learns_the_task(tmp_path):
    inputs = learnable_run_inputs(tmp_path)
    model, tok = load_model(inputs["model"], "cpu")
    task = make_task("flip_lr", np.random.default_rng(0), n_train=3, min_side=2, max_side=3)
    encoder = TaskEncoder(tok)
    before = held_out_loss(model, encoder, [task])
    engine = TTTEngine(model, tok, TTTConfig(lora_r=8, lora_alpha=8))
    config = TTTConfig(epochs=8, learning_rate=1e-2, max_sequences=8, lora_r=8, lora_alpha=8)
    assert engine.train(task, config).ok
    after = held_out_loss(engine.model, encoder, [task])
    assert after["loss"] < before["loss"] and before["tasks"] == 1
    assert 0 <= before["token_accuracy"] <= after["token_accuracy"]
    # an answer counts as right only when every one of its tokens is
    assert after["answers_right"] == int(after["token_accuracy"] == 1.0)
    assert held_out_loss(model, encoder, [task], max_length=5)["tasks"] == 0  # too long: skipped


def test_evaluate_command_writes_per_family_scores(tmp_path, capsys):
    inputs = learnable_run_inputs(tmp_path)
    out = tmp_path / "bench"
    with pytest.raises(SystemExit) as done:
        main(
            [
                "evaluate",
                "--synthetic",
                "1",
                "--model",
                str(inputs["model"]),
                "--config",
                str(inputs["config"]),
                "--rows",
                "icl",
                "oracle",
                "--limit",
                "3",
                "--max-side",
                "4",
                "--loss",
                "--out",
                str(out),
            ]
        )
    assert done.value.code == 0
    report = json.loads((out / "benchmark.json").read_text())
    assert {s["stage"] for s in report["tasks"]} == {"icl", "oracle"} and len(report["tasks"]) == 6
    assert report["summary"]["icl"]["all"]["total"] == 3
    assert report["summary"]["icl"]["identity"]["total"] == 1  # the first family
    assert report["held_out_loss"]["tasks"] == 3
    by_family = report["held_out_loss_by_family"]
    assert list(by_family) == list(RULES)[:3] and all(r["tasks"] == 1 for r in by_family.values())
    text = (out / "benchmark.md").read_text()
    assert "| icl | all | " in text and "grids up to 4" in text
    assert f"| {list(RULES)[0]} | " in text.split("Per family, teacher-forced")[1]
    with pytest.raises(SystemExit) as done:
        main(["evaluate", "--model", str(inputs["model"])])
    assert done.value.code == 2
    assert "give exactly one of --subset and --synthetic" in capsys.readouterr().err


def test_evaluate_answers_tasks_without_known_outputs_and_reports_them_not_scored(tmp_path, capsys):
    inputs = learnable_run_inputs(tmp_path)
    subset = challenges_subset(tmp_path)
    out = tmp_path / "bench"
    argv = ["evaluate", "--subset", str(subset), "--model", str(inputs["model"])]
    argv += ["--config", str(inputs["config"]), "--rows", "icl", "--loss", "--out", str(out)]
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    assert "| icl | all | not scored (3 tasks without known outputs) |" in capsys.readouterr().out
    report = json.loads((out / "benchmark.json").read_text())
    summary = report["summary"]["icl"]["all"]
    assert summary["jobs"] == 3 and not summary["scored"] and summary["accuracy"] is None
    for score in report["tasks"]:  # answered: attempts for each test input, no verdict
        assert score["solved"] is None and score["failure"] is None
        assert len(score["attempts"]) == 1 and 1 <= len(score["attempts"][0]) <= 2


def _evaluate_argv(tmp_path, row: str, tasks: int) -> tuple[list[str], object]:
    """`arc-seal evaluate` of the tiny model on the first sanity tasks, into tmp_path/bench."""
    inputs = learnable_run_inputs(tmp_path)
    out = tmp_path / "bench"
    argv = ["evaluate", "--synthetic", "1", "--limit", str(tasks), "--max-side", "4"]
    argv += ["--rows", row, "--model", str(inputs["model"]), "--config", str(inputs["config"])]
    return [*argv, "--out", str(out)], out


def test_evaluate_takes_the_ttt_predict_and_oracle_setting_flags(tmp_path, capsys):
    argv, out = _evaluate_argv(tmp_path, "oracle", 1)
    with pytest.raises(SystemExit) as done:
        main([*argv, "--ttt.max-steps", "1", "--oracle-epochs", "3"])
    assert done.value.code == 0
    [score] = json.loads((out / "benchmark.json").read_text())["tasks"]
    assert score["failure"].endswith("over the budget of 1")
    with pytest.raises(SystemExit) as done:
        main([*argv, "--predict.orders", "0"])
    assert done.value.code == 2
    assert "predict.orders" in capsys.readouterr().err


def test_an_interrupted_evaluation_resumes_without_redoing_a_job(tmp_path, capsys):
    argv, out = _evaluate_argv(tmp_path, "icl", 2)
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    lines = (out / "records.jsonl").read_text().splitlines()
    (out / "records.jsonl").write_text(lines[0] + "\n")  # as if stopped after the first job
    with pytest.raises(SystemExit) as done:
        main([*argv, "--resume"])
    assert done.value.code == 0
    again = (out / "records.jsonl").read_text().splitlines()
    assert again[0] == lines[0] and len(again) == 2  # the first job kept, the second redone
    assert json.loads((out / "benchmark.json").read_text())["summary"]["icl"]["all"]["jobs"] == 2
    with pytest.raises(SystemExit) as done:  # other settings: refused
        main([*argv, "--resume", "--predict.orders", "2"])
    assert done.value.code == 2 and "ran under other settings" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:  # a second evaluation into the same folder
        main(argv)
    assert done.value.code == 2
