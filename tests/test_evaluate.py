import json

from arc_seal.evaluate import ROWS, row_summary


def _results(seed: int, solved: dict[str, list[bool]], cell: float) -> dict:
    rows = {}
    for row in ROWS:
        records = [
            {"task_id": t, "sample": i, "solved": s, "cell_accuracy": cell, "shape_accuracy": 1.0}
            for t, outcomes in solved.items()
            for i, s in enumerate(outcomes)
        ]
        rows[row] = row_summary(records, list(solved))
    return {"subset": "simplified", "model": "m", "seed": seed, "rows": rows}


def test_runs_over_seeds_give_mean_and_range(tmp_path, run_script):
    runs = [
        _results(0, {"a": [True, False], "b": [False, False]}, 0.5),
        _results(1, {"a": [True, True], "b": [False, True]}, 0.25),
        _results(2, {"a": [False, False], "b": [False, False]}, 0.75),
    ]
    for i, results in enumerate(runs):
        (tmp_path / f"r{i}").mkdir()
        (tmp_path / f"r{i}" / "results.json").write_text(json.dumps(results))
    done = run_script("compare_runs.py", *(str(tmp_path / f"r{i}") for i in range(3)))
    assert done.returncode == 0, done.stderr
    # pass@2 25%, 75%, 0% -> mean 33.3%; cell accuracy 0.5, 0.25, 0.75 -> mean 0.5
    assert "| ICL (no TTT) | 33.3% [0.0, 75.0] | 0.500 [0.250, 0.750] |" in done.stdout
    assert "3 runs (seeds 0, 1, 2)" in done.stdout


def test_comparing_a_run_that_has_not_finished_is_one_line(tmp_path, run_script):
    (tmp_path / "unfinished").mkdir()
    done = run_script("compare_runs.py", str(tmp_path / "unfinished"))
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"error: {tmp_path / 'unfinished'}: no results.json (the run has not finished)"
    )
