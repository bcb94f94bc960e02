import json

import pytest


@pytest.mark.slow
def test_bench_ttt_runs_and_reports_every_figure(run_script):
    result = run_script("bench_ttt.py", "--max-sequences", "6", "--families", "", "--epochs", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("arc_seal_s", "baseline_s", "ttt_tokens_per_s", "bare_tokens_per_s", "speedup"):
        assert report[key] > 0, key
    assert 0 <= report["padding_fraction"] < 1
    assert report["sequences"] == 6  # the benchmark trained on what it was asked to
