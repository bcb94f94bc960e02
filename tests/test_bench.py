import json

import pytest


def test_bench_ttt_prints_its_figures(run_script):
    result = run_script("bench_ttt.py", "--max-sequences", "6", "--families", "", "--epochs", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for key in (
        "arc_seal_s",
        "baseline_s",
        "padding_fraction",
        "ttt_tokens_per_s",
        "bare_tokens_per_s",
    ):
        assert report[key] >= 0
    assert report["speedup"] == pytest.approx(report["baseline_s"] / report["arc_seal_s"], rel=0.01)
    assert report["sequences"] == 6
