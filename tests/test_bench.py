import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from tiny import learnable_run_inputs

from arc_seal.config import load_yaml
from arc_seal.data import load_subset
from arc_seal.distributed import Ranks
from arc_seal.grid import Example, Task
from arc_seal.models import load_model
from arc_seal.predict import build_queries
from arc_seal.records import JobRecord, Stage
from arc_seal.sweep import VARIANTS, Sweep, variant_config
from arc_seal.ttt import TTTEngine

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_ttt_runs_and_reports_every_figure(run_script):
    result = run_script("bench_ttt.py", "--max-sequences", "6", "--families", "", "--epochs", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("arc_seal_s", "baseline_s", "ttt_tokens_per_s", "bare_tokens_per_s", "speedup"):
        assert report[key] > 0, key
    assert 0 <= report["padding_fraction"] < 1
    assert report["sequences"] == 6  # the benchmark trained on what it was asked to


def test_bench_pretrain_prints_throughput_and_utilisation_of_padded_and_packed_steps(run_script):
    tiny = ["--hidden", "32", "--layers", "1", "--heads", "2", "--max-length", "1024"]
    tiny += ["--batch-tokens", "4096", "--steps", "2", "--warmup", "1", "--threads", "1"]
    result = run_script("bench_pretrain.py", *tiny)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["data_path_tokens_per_s"] > 0 and report["model_flops_per_token"] > 0
    for mode in ("padded", "packed"):
        assert report[mode]["tokens_per_s"] > 0 and 0 < report[mode]["mfu"] < 1
        assert report[mode]["steps"] == 2
    # rows of 1,024 tokens hold many sequences: less padding than length-grouped rows
    assert report["packed"]["padding_fraction"] < report["padded"]["padding_fraction"]
    assert report["packed_over_padded"] > 0


def test_bench_decode_compares_the_search_with_generate(run_script, tmp_path):
    inputs = learnable_run_inputs(tmp_path)
    result = run_script(
        "bench_decode.py",
        *("--model", str(inputs["model"]), "--subset", str(inputs["subset"])),
        *("--config", str(inputs["config"]), "--limit", "1", "--threads", "1"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["queries"] == 1
    for key in ("generate_tokens_per_s", "search_greedy_tokens_per_s", "speedup"):
        assert report[key] > 0, key
    assert report["dfs_candidates_per_query"] >= 1  # the greedy answer at least


def _script_module(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_swept_setting_changes_what_is_trained_or_how_it_is_answered(tmp_path):
    inputs = learnable_run_inputs(tmp_path)
    base = load_yaml(inputs["config"]) | {"oracle_learning_rate": 1e-3}
    base["ttt"] |= {"tokens_per_epoch": 600, "max_sequences": 8}
    task = load_subset(str(inputs["subset"])).eval[0]

    def trained(config):
        model, tok = load_model(inputs["model"], "cpu")
        engine = TTTEngine(model, tok, config.ttt)
        result = engine.train(task, config.oracle_ttt())
        assert result.ok, result.failure
        weights = torch.cat([p.detach().flatten() for p in engine.model.parameters()])
        return weights, result.tokens

    default = variant_config(base, {}, "default")
    default_weights, default_tokens = trained(default)
    for name, changes in VARIANTS.items():
        config = variant_config(base, changes, name)
        if config == default:  # the config as given (or a variant naming its own values)
            continue
        if config.predict != default.predict and "predict.views" in changes:  # asked more ways
            assert len(build_queries(task, 0, config.predict)) > len(
                build_queries(task, 0, default.predict)
            ), name
        if all(key.startswith("predict.") for key in changes):  # training untouched
            assert config.predict != default.predict, name
            assert config.oracle_ttt() == default.oracle_ttt() and config.ttt == default.ttt
            continue
        weights, tokens = trained(config)
        if set(changes) <= {"ttt.stop_patience", "ttt.stop_min_delta"}:  # cut short, or not
            assert tokens <= default_tokens, name
            continue
        changed = weights.shape != default_weights.shape or not torch.equal(
            weights, default_weights
        )
        assert changed, f"{name} trains exactly what the default trains"
        if "ttt.tokens_per_epoch" in changes:
            assert tokens != default_tokens


def test_sweep_scores_each_variant_once_and_resumes(run_script, tmp_path, capsys, caplog):
    inputs = learnable_run_inputs(tmp_path)
    out = tmp_path / "sweep"
    variants = ["icl", "default", "no augmentation"]
    args = ("--model", str(inputs["model"]), "--subset", str(inputs["subset"]))
    args += ("--config", str(inputs["config"]), "--out", str(out), "--variants", *variants)
    result = run_script("sweep_ttt.py", *args)
    assert result.returncode == 0, result.stderr[-2000:]
    folders = {"icl": "icl", "default": "oracle", "no-augmentation": "oracle"}
    records = {name: (out / name / "records.jsonl").read_text() for name in folders}
    for name, row in folders.items():  # a run directory per variant, with its settings
        assert [json.loads(x)["stage"] for x in records[name].splitlines()] == [row]
        assert (out / name / "config.yaml").is_file()
    assert "oracle_families: []" in (out / "no-augmentation" / "config.yaml").read_text()
    text = (out / "sweep.md").read_text()
    for name in variants:
        assert f"| {name} | all | " in text

    # the same sweep again, in this process: finished, nothing runs again
    base = load_yaml(inputs["config"]) | {"model": str(inputs["model"])}
    tasks = load_subset(str(inputs["subset"])).eval
    sweep = Sweep(base, variants, tasks, "again")
    capsys.readouterr()
    assert sweep.run(out, Ranks()) is not None
    assert "0 of 1 tasks to run" in capsys.readouterr().out
    assert {name: (out / name / "records.jsonl").read_text() for name in folders} == records
    (out / "icl" / "records.jsonl").write_text("{damaged\n")
    sweep.run(out, Ranks())  # the damaged line is set aside, its task redone
    assert "line 1 is damaged" in caplog.text
    assert (out / "icl" / "records.rejected.jsonl").read_text() == "{damaged\n"
    redone = (out / "icl" / "records.jsonl").read_text().splitlines()
    assert [json.loads(x)["stage"] for x in redone] == ["icl"]


def test_the_curve_trains_each_budget_records_it_and_resumes(run_script, tmp_path):
    inputs = learnable_run_inputs(tmp_path)
    config = load_yaml(inputs["config"])
    config["ttt"] |= {"tokens_per_epoch": 150}
    (tmp_path / "budget.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "curve"
    args = ("--model", str(inputs["model"]), "--benchmark", str(inputs["subset"]))
    args += ("--config", str(tmp_path / "budget.yaml"), "--budgets", "1", "4", "--out", str(out))
    result = run_script("ttt_curve.py", *args)
    assert result.returncode == 0, result.stderr[-2000:]
    trained = {}
    for budget in (1, 4):
        run_dir = out / "subset" / f"x{budget}"
        (line,) = (run_dir / "records.jsonl").read_text().splitlines()
        ttt = json.loads(line)["ttt"]
        assert ttt["tokens_per_epoch"] == 150 * budget  # the budget, in the job's record
        assert f"tokens_per_epoch: {150 * budget}" in (run_dir / "config.yaml").read_text()
        trained[budget] = ttt["tokens"]
    assert trained[4] >= 2 * 150 * 4 and 2 * 150 <= trained[1] < trained[4] / 2
    text = (out / "curve.md").read_text()
    assert (
        f"| subset | 1x | {trained[1]:,} | " in text
        and f"| subset | 4x | {trained[4]:,} | " in text
    )
    assert (out / "curve.png").stat().st_size > 0
    again = run_script("ttt_curve.py", *args)  # finished: nothing runs again
    assert again.returncode == 0 and again.stdout.count("0 of 1 tasks to run") == 2


def test_the_curve_counts_solves_by_the_largest_grid_side():
    curve = _script_module("ttt_curve")
    task = Task("t", [Example(np.zeros((3, 14)), np.zeros((2, 2)))], [Example(np.zeros((1, 1)))])
    assert curve.largest_side(task) == 14
    sizes = {"a": 5, "b": 12, "c": 13, "d": 30}
    records = [JobRecord(Stage.ORACLE, 0, t, 0, solved=t in "bd") for t in sizes]
    assert curve.solved_by_size(records, sizes) == {
        "1-12": [1, 2],
        "13-20": [0, 1],
        "21-30": [1, 1],
    }
