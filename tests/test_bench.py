import json

import pytest
from tiny import learnable_run_inputs


@pytest.mark.slow
def test_bench_ttt_runs_and_reports_every_figure(run_script):
    result = run_script("bench_ttt.py", "--max-sequences", "6", "--families", "", "--epochs", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("arc_seal_s", "baseline_s", "ttt_tokens_per_s", "bare_tokens_per_s", "speedup"):
        assert report[key] > 0, key
    assert 0 <= report["padding_fraction"] < 1
    assert report["sequences"] == 6  # the benchmark trained on what it was asked to


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


def test_ablation_adds_one_lever_per_row_and_writes_markdown_and_json(run_script, tmp_path):
    inputs = learnable_run_inputs(tmp_path)
    out = tmp_path / "ablation"
    result = run_script(
        "ablate_prediction.py",
        *("--model", str(inputs["model"]), "--subset", str(inputs["subset"])),
        *("--config", str(inputs["config"]), "--limit", "1", "--tokens-per-epoch", "300"),
        *("--out", str(out)),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads((out / "ablation.json").read_text())
    assert [r["row"] for r in rows] == [
        "default",
        "+ TTT budget",
        "+ full fine-tuning",
        "+ DFS candidates",
        "+ PoE scoring",
    ]
    for r in rows:
        assert set(r["splits"]) == {"eval", "train"}
        for split in r["splits"].values():
            assert split["tasks"] == 1 and 0 <= split["truth_in_candidates"] <= 1
    budget = 2 * 300  # the oracle's 2 epochs of 300 tokens, within one batch
    assert budget <= rows[1]["tasks"]["eval"][0]["ttt_tokens"] < budget + 400
    text = (out / "ablation.md").read_text()
    assert "| + PoE scoring | train | " in text
