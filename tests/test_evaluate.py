import pytest

from arc_seal.errors import ConfigError
from arc_seal.evaluate import ROWS, Results, RowSummary, expected_row, row_summary
from arc_seal.records import JobRecord
from arc_seal.render import render_choices
from arc_seal.report import choice_panels, results_markdown, seeds_markdown
from arc_seal.self_edit import SelfEdit


def _job(task, sample, solved=False, cell=0.5, failure=None):
    scored = failure is None and solved is not None
    return JobRecord(
        "no_rl",
        0,
        task,
        sample,
        solved=solved if failure is None else None,
        cell_accuracy=cell if scored else None,
        trivial_cell_accuracy=0.6 if scored else None,
        shape_accuracy=1.0 if scored else None,
        failure=failure,
    )


def _results(seed: int, solved: dict[str, list[bool]], cell: float) -> Results:
    rows = {}
    for row in ROWS:
        records = [
            _job(t, i, s, cell) for t, outcomes in solved.items() for i, s in enumerate(outcomes)
        ]
        rows[row] = row_summary(records, list(solved))
    return Results("simplified", "m", seed, rows)


def test_failed_jobs_count_as_wrong_are_left_out_of_dense_scores_and_grouped_by_reason():
    records = [
        _job("a", 0, True, cell=1.0),
        _job("a", 1, False, cell=0.5),
        _job("b", 0, failure="needs 416 steps, over the budget of 375"),
        _job("b", 1, failure="needs 52 steps, over the budget of 16"),
        _job("b", 2, failure="loss is nan at step 3"),
    ]
    r = row_summary(records, ["a", "b"])
    assert (r.correct, r.total, r.accuracy) == (1, 5, 0.2)
    assert r.cell_accuracy == 0.75  # the two jobs that answered
    assert (r.jobs, r.failed) == (5, 3)
    assert r.failures == {"needs N steps, over the budget of N": 2, "loss is nan at step N": 1}
    text = results_markdown(Results("s", "m", 0, {"no_rl": r}))
    assert r.trivial_cell_accuracy == 0.6 and r.per_task_cells["a"] == [
        [1.0, 0.6],
        [0.5, 0.6],
    ]
    assert "| TTT + self-edit, no RL | 20.0% | 1 / 5 | 0.750 | 0.600 | 1.000 | 3 / 5 |" in text
    assert "Failed in TTT + self-edit, no RL: 2 x needs N steps" in text


def test_a_row_whose_jobs_all_failed_says_so_instead_of_zero():
    r = row_summary([_job("a", 0, failure="x"), _job("b", 0, failure="x")], ["a", "b"])
    assert r.accuracy is None and r.cell_accuracy is None
    text = results_markdown(Results("s", "m", 0, {"icl": r}))
    assert "| ICL (no TTT) | all 2 jobs failed | 0 / 2 | - | - | - | 2 / 2 |" in text


def test_a_row_of_tasks_without_known_outputs_is_not_scored():
    r = row_summary([_job("a", 0, solved=None), _job("b", 0, solved=None)], ["a", "b"])
    assert r.scored is False and r.accuracy is None and r.failed == 0
    text = results_markdown(Results("s", "m", 0, {"icl": r}))
    assert "| ICL (no TTT) | not scored |" in text


def test_runs_over_seeds_give_mean_and_range(tmp_path, run_script):
    runs = [
        _results(0, {"a": [True, False], "b": [False, False]}, 0.5),
        _results(1, {"a": [True, True], "b": [False, True]}, 0.25),
        _results(2, {"a": [False, False], "b": [False, False]}, 0.75),
    ]
    for i, results in enumerate(runs):
        (tmp_path / f"r{i}").mkdir()
        (tmp_path / f"r{i}" / "results.json").write_text(results.to_json())
    done = run_script("compare_runs.py", *(str(tmp_path / f"r{i}") for i in range(3)))
    assert done.returncode == 0, done.stderr
    # pass@2 25%, 75%, 0% -> mean 33.3%; cell accuracy 0.5, 0.25, 0.75 -> mean 0.5
    assert "| ICL (no TTT) | 33.3% [0.0, 75.0] | 0.500 [0.250, 0.750] |" in done.stdout
    assert "| 0.500 [0.250, 0.750] | 0.600 [0.600, 0.600] | 1.000" in done.stdout  # trivial
    assert "3 runs (seeds 0, 1, 2)" in done.stdout


def test_comparing_a_run_that_has_not_finished_is_one_line(tmp_path, run_script):
    (tmp_path / "unfinished").mkdir()
    done = run_script("compare_runs.py", str(tmp_path / "unfinished"))
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"error: {tmp_path / 'unfinished'}: no results.json (the run has not finished)"
    )


def _edit(lr: float, epochs: int, basic: bool) -> SelfEdit:
    return SelfEdit(basic, False, False, False, "train_using_output_tokens", lr, epochs)


def test_self_edit_choices_before_and_after_rest_em_are_shares_averaged_over_runs():
    def run(seed: int, before: list[SelfEdit], after: list[SelfEdit]) -> Results:
        rows = {}
        for row, edits in (("no_rl", before), ("seal", after)):
            records = [_job("a", i) for i in range(len(edits))]
            for r, e in zip(records, edits, strict=True):
                r.self_edit = e
            rows[row] = row_summary(records, ["a"])
        return Results("s", "m", seed, rows)

    flat = [_edit(1e-3, 1, True), _edit(1e-2, 2, False)]
    runs = [
        run(0, flat, [_edit(1e-2, 2, False), _edit(1e-2, 2, False)]),
        run(1, flat, [_edit(1e-2, 2, False), _edit(1e-3, 1, False)]),
    ]
    assert runs[0].rows["no_rl"].choices["learning rate 0.001"] == 0.5
    assert runs[0].rows["seal"].choices["basic augmentations"] == 0.0
    text = seeds_markdown(runs)
    header = "| option | TTT + self-edit, no RL | SEAL (TTT + self-edit after ReST-EM) |"
    assert header in text
    assert "| learning rate 0.01 | 50% | 75% |" in text  # after: 100% and 50%
    assert "| basic augmentations | 50% | 0% |" in text
    assert "| loss output_tokens | 100% | 100% |" in text


def test_a_row_read_from_a_results_file_of_before_keeps_its_count_or_its_expectation():
    counted = RowSummary.from_json(
        {"jobs": 8, "failed": 0, "failures": {}, "scored": True, "accuracy": 0.25}
        | {"correct": 2, "total": 8, "per_task": {}}
    )
    expected = RowSummary.from_json(
        {"jobs": 4, "failed": 0, "failures": {}, "scored": True, "accuracy": 0.3125}
        | {"correct": 1.25, "total": 4, "per_task": {}}  # an expected row, as once written
    )
    assert (counted.correct, counted.expected, counted.solved) == (2, None, "2 / 8")
    assert (expected.correct, expected.expected, expected.solved) == (None, 1.25, "1.25 / 4")


def _policy_run(seed: int, seal: dict[str, float], choices: dict[str, list[float]]) -> Results:
    """A finished run on a grid subset with two eval tasks of two families: its expected rows
    and its choices per task after ReST-EM."""
    grid = {
        "best_fixed": {"rot90-0": 0.0, "flip_lr-0": 1.0},
        "train_mixture": {"rot90-0": 0.5, "flip_lr-0": 0.5},
        "best_per_family": {"rot90-0": 1.0, "flip_lr-0": 1.0},
        "grid_oracle": {"rot90-0": 1.0, "flip_lr-0": 1.0},
        "no_rl_expected": {"rot90-0": 0.5, "flip_lr-0": 0.5},
        "seal_expected": seal,
    }
    rows = {name: expected_row(v) for name, v in grid.items()}
    uniform = [0.5, 0.5]
    return Results(
        "s",
        "m",
        seed,
        rows,
        choices_by_family={
            "no_rl": {"rot90": uniform, "flip_lr": uniform},
            "seal": {"rot90": choices["rot90-0"], "flip_lr": choices["flip_lr-0"]},
        },
        grid_by_family={"rot90": [1, 0], "flip_lr": [0, 1]},
        choices_by_task={"no_rl": {"rot90-0": uniform, "flip_lr-0": uniform}, "seal": choices},
        best_by_family={"rot90": [0], "flip_lr": [1]},
    )


def test_comparing_runs_with_their_blind_twins_puts_both_side_by_side_with_intervals(tmp_path):
    reads = {"rot90-0": [0.9, 0.1], "flip_lr-0": [0.2, 0.8]}
    one_for_all = {"rot90-0": [0.3, 0.7], "flip_lr-0": [0.3, 0.7]}
    runs = [_policy_run(s, {"rot90-0": 0.9, "flip_lr-0": 0.8}, reads) for s in (0, 1)]
    blind = [_policy_run(s, {"rot90-0": 0.3, "flip_lr-0": 0.7}, one_for_all) for s in (1, 0)]
    text = seeds_markdown(runs, blind)
    assert (
        "| SEAL-blind (the same ReST-EM, no demonstration in the policy's prompt), expected |"
        in text
    )
    # SEAL 0.85 on average, the twin 0.5: every resample of tasks and runs says +35 points
    assert (
        "| SEAL (TTT + self-edit after ReST-EM), expected - SEAL-blind (the same ReST-EM, no "
        "demonstration in the policy's prompt), expected | +35.0 | [+10.0, +60.0] |"
    ) in text
    # the gap from the train mixture (50%) to the best per family (100%): SEAL 85%
    assert "closes 70% of the gap from the train mixture" in text
    assert "favoured, SEAL-blind" in text
    assert "train: no RL 50%, SEAL 100%, SEAL-blind 50% of (eval task, run) pairs" in text
    panels = choice_panels(runs, blind)
    assert list(panels) == [
        "SEAL, before RL",
        "SEAL, after RL",
        "SEAL-blind, before RL",
        "SEAL-blind, after RL",
    ]
    assert panels["SEAL, after RL"]["rot90"] == [0.9, 0.1]
    assert render_choices(panels, tmp_path / "c.png").stat().st_size > 0
    with pytest.raises(ConfigError, match="one SEAL-blind twin of the same seed"):
        seeds_markdown(runs, blind[:1])


def test_the_compare_command_reads_blind_twins_and_draws_the_choices(tmp_path, run_script):
    reads = {"rot90-0": [0.9, 0.1], "flip_lr-0": [0.2, 0.8]}
    dirs = []
    for name, seal in (("seal", reads), ("blind", {t: [0.5, 0.5] for t in reads})):
        d = tmp_path / name
        d.mkdir()
        expected = {t: p[0] if t.startswith("rot90") else p[1] for t, p in seal.items()}
        (d / "results.json").write_text(_policy_run(0, expected, seal).to_json())
        dirs.append(str(d))
    picture = tmp_path / "choices.png"
    done = run_script("compare_runs.py", dirs[0], "--blind", dirs[1], "--picture", str(picture))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "expected - SEAL-blind" in done.stdout and picture.stat().st_size > 0
    done = run_script("compare_runs.py", dirs[0], "--blind", dirs[0], dirs[1])
    assert done.returncode == 2 and "one SEAL-blind twin of the same seed" in done.stderr
