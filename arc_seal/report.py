"""What a run shows a person: the results table, Kaggle-format predictions, and W&B.

``results.json`` is the machine-readable summary, ``results.md`` the same as a table (with each
row's failed jobs and why), ``submission.json`` the ARC Prize format. ``Tracker`` logs to W&B,
offline inside the run directory unless asked otherwise.
"""

from __future__ import annotations

import json
import netrc
import os
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from arc_seal.augment import FAMILIES
from arc_seal.errors import ConfigError
from arc_seal.evaluate import AFTER, ROWS, Results, Row, RowSummary, expected, row_title
from arc_seal.grid import Task
from arc_seal.records import JobRecord, Record
from arc_seal.reward import RewardTable
from arc_seal.self_edit import FLAGS

TABLE_ROWS = (
    Row.ICL,
    Row.NO_RL,
    expected(Row.NO_RL),
    Row.SEAL,
    expected(Row.SEAL),
    Row.SEAL_BLIND,
    expected(Row.SEAL_BLIND),
    Row.ORACLE,
    Row.ORACLE_TRAIN,
    Row.UNIFORM,
    Row.TRAIN_MIXTURE,
    Row.BEST_FIXED,
    Row.BEST_PER_FAMILY,
    Row.GRID_ORACLE,
)


def table_rows(names) -> list[str]:
    """The rows present, in table order; SEAL rows of earlier iterations before the last,
    each sampled row followed by its expected one."""
    out = []
    for name in TABLE_ROWS:
        if name == Row.SEAL:
            earlier = [n for n in names if n.startswith(Row.SEAL + AFTER)]
            out += sorted(earlier, key=lambda n: (int(n[5:].split("_")[0]), n))
        if name in names:
            out.append(name)
    return out


def markdown_table(header: list[str], rows: list[list]) -> list[str]:
    """A markdown table's lines: every table this project prints or writes is made here."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows]


def _accuracy(r: RowSummary) -> str:
    if r.jobs and r.failed == r.jobs:
        return f"all {r.jobs} jobs failed"
    if not r.scored:
        return "not scored"
    return f"{100 * r.accuracy:.1f}%"


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def results_markdown(results: Results) -> str:
    """A run's ``results`` as ``results.md``."""
    rows = results.rows
    header = ["setting", "pass@2 accuracy", "correct / total", "cell accuracy"]
    header += ["trivial answer", "shape accuracy", "failed"]
    table = [
        [row_title(name), _accuracy(r), r.solved, _score(r.cell_accuracy)]
        + [_score(r.trivial_cell_accuracy), _score(r.shape_accuracy), f"{r.failed} / {r.jobs}"]
        for name in table_rows(rows)
        for r in [rows[name]]
    ]
    lines = [f"# {results.subset}: {results.model} (seed {results.seed})", ""]
    lines += markdown_table(header, table)
    for name in (n for n in table_rows(rows) if rows[n].failures):
        reasons = "; ".join(f"{n} x {why}" for why, n in rows[name].failures.items())
        lines.append(f"\nFailed in {row_title(name)}: {reasons}")
    for name, rate in results.train_reward_rate.items():
        lines.append(f"\nReST-EM iteration {name}: train reward rate {100 * rate:.1f}%")
    per_task = []
    for t in next((r.per_task for n, r in rows.items() if n != Row.ORACLE_TRAIN), {}):
        cells = []
        for row in ROWS:
            outcomes = rows[row].per_task.get(t, []) if row in rows else []
            cells.append(f"{sum(outcomes)}/{len(outcomes)}" if outcomes else "-")
        per_task.append([t, *cells])
    lines += ["", "## Per task (solved samples)", ""] + markdown_table(["task", *ROWS], per_task)
    seconds = ", ".join(f"{k} {v:.0f}s" for k, v in results.seconds.items())
    note = (
        "Trivial answer: the cell accuracy of the better of two answers that need no "
        "understanding, at the true shape (the output's most common colour everywhere, or the "
        "input copied), on the same jobs; a cell accuracy below it is no evidence of skill."
    )
    lines += ["", note, "", f"Time: {seconds}", ""]
    lines += effect_markdown([results], [])
    return "\n".join(lines + choices_markdown([rows]))


def _spread(values: list[float], fmt: str, unit: str = "") -> str:
    return f"{np.mean(values):{fmt}}{unit} [{min(values):{fmt}}, {max(values):{fmt}}]"


def read_results(run_dirs: list[Path]) -> list[Results]:
    """Finished runs' ``results.json``: runs of one subset and model, to be put side by
    side."""
    runs = []
    for run_dir in run_dirs:
        path = run_dir / "results.json"
        if not path.is_file():
            raise ConfigError(f"{run_dir}: no results.json (the run has not finished)")
        runs.append(Results.from_json(json.loads(path.read_text())))
    settings = {(r.subset, r.model) for r in runs}
    if len(settings) > 1:
        raise ConfigError(f"the runs differ in subset or model: {sorted(settings)}")
    return runs


def with_blind(runs: list[Results], blind: list[Results]) -> list[Results]:
    """The runs with their SEAL-blind twins' SEAL rows beside their own (as ``seal_blind``
    and ``seal_blind_expected``): twin and run paired by RL seed."""
    by_seed = {r.seed: r for r in blind}
    missing = sorted({r.seed for r in runs} - set(by_seed))
    if missing or len(by_seed) != len(blind) or len(blind) != len(runs):
        raise ConfigError(
            f"each run needs one SEAL-blind twin of the same seed: runs of seeds "
            f"{sorted(r.seed for r in runs)}, twins of seeds {sorted(r.seed for r in blind)}"
        )
    out = []
    for run in runs:
        twin = by_seed[run.seed]
        rows = dict(run.rows)
        for mine, theirs in (
            (Row.SEAL_BLIND, Row.SEAL),
            (expected(Row.SEAL_BLIND), expected(Row.SEAL)),
        ):
            if theirs in twin.rows:
                rows[mine] = twin.rows[theirs]
        out.append(replace(run, rows=rows))
    return out


def seeds_markdown(runs: list[Results], blind: list[Results] | None = None) -> str:
    """One table over several runs (seeds) of the same setting: each row's mean with the
    lowest and highest run beside it, so a gap between rows can be read against the spread;
    with ``blind``, each run's SEAL-blind twin's rows beside its own, and the contrasts."""
    if blind:
        runs = with_blind(runs, blind)
    seeds = ", ".join(str(r.seed) for r in runs)
    header = ["setting", "pass@2 accuracy", "cell accuracy", "trivial answer", "shape accuracy"]
    table = []
    for row in table_rows(runs[0].rows):
        present: list[RowSummary] = [r.rows[row] for r in runs if row in r.rows]
        if len(present) != len(runs):
            continue
        if any(p.accuracy is None for p in present):
            table.append([row_title(row), "not scored or failed in some run", "-", "-", "-"])
            continue
        cells = [_spread([100 * p.accuracy for p in present], ".1f", unit="%")]
        for metric in ("cell_accuracy", "trivial_cell_accuracy", "shape_accuracy"):
            values = [getattr(p, metric) for p in present]
            cells.append("-" if None in values else _spread(values, ".3f"))
        table.append([row_title(row), *cells])
    lines = [f"# {runs[0].subset}: {runs[0].model}, {len(runs)} runs (seeds {seeds})", ""]
    lines += markdown_table(header, table)
    lines += ["", "Each cell: mean over runs [lowest, highest].", ""]
    lines += effect_markdown(runs, blind or [])
    return "\n".join(lines + choices_markdown([r.rows for r in runs]))


def _per_task(run: Results, row: str) -> dict[str, float]:
    """A row's score per task in one run, averaged over its samples."""
    return {t: float(np.mean(v)) for t, v in run.rows[row].per_task.items()}


# The differences the SEAL-effect experiment asks about: (row, row it is compared with).
CONTRASTS = (
    (expected(Row.SEAL), expected(Row.SEAL_BLIND)),
    (expected(Row.SEAL), Row.TRAIN_MIXTURE),
    (expected(Row.SEAL), Row.BEST_FIXED),
    (expected(Row.SEAL), expected(Row.NO_RL)),
    (expected(Row.SEAL), Row.BEST_PER_FAMILY),
    (Row.SEAL, Row.SEAL_BLIND),
    (Row.SEAL, Row.BEST_FIXED),
    (Row.SEAL, Row.NO_RL),
)


def _gap_closed(means: dict[str, float], low: str, high: str, what: str) -> list[str]:
    seal = means[expected(Row.SEAL)]
    if low not in means or high not in means or means[high] <= means[low]:
        return []
    share = (seal - means[low]) / (means[high] - means[low])
    return [
        f"SEAL (expected) closes {100 * share:.0f}% of the gap from {what} "
        f"({100 * means[low]:.1f}% to {100 * means[high]:.1f}%)."
    ]


def effect_markdown(runs: list[Results], blind: list[Results]) -> list[str]:
    """Over runs (RL seeds) on one curated subset: each contrast's mean difference with a 95%
    interval from a paired bootstrap over eval tasks and runs together, the share of two gaps
    SEAL closes, and, per family, what the policy favours before and after ReST-EM."""
    from arc_seal.reward import paired_bootstrap_runs

    rows = [n for n in runs[0].rows if all(n in r.rows for r in runs)]
    if expected(Row.SEAL) not in rows or Row.BEST_FIXED not in rows:
        return []
    scores = {n: [_per_task(r, n) for r in runs] for n in rows}
    table = []
    for a, b in CONTRASTS:
        if a in scores and b in scores:
            mean, low, high = paired_bootstrap_runs(scores[a], scores[b])
            table.append(
                [
                    f"{row_title(a)} - {row_title(b)}",
                    f"{100 * mean:+.1f}",
                    f"[{100 * low:+.1f}, {100 * high:+.1f}]",
                ]
            )
    lines = ["## The SEAL effect", ""]
    lines += markdown_table(["difference (points)", "mean", "95% interval"], table)
    means = {n: float(np.mean([list(x.values()) for x in v])) for n, v in scores.items()}
    lines.append("")
    lines += _gap_closed(
        means,
        Row.TRAIN_MIXTURE,
        Row.BEST_PER_FAMILY,
        "the train mixture to the best configuration per family",
    )
    lines += _gap_closed(
        means, Row.BEST_FIXED, Row.GRID_ORACLE, "the best fixed configuration to the grid oracle"
    )
    tasks = len(runs[0].rows[Row.BEST_FIXED].per_task)
    lines += [
        "",
        f"Paired bootstrap over the {tasks} eval tasks and the {len(runs)} runs together "
        "(10,000 resamples of both), each task's score averaged over its samples.",
        "",
    ]
    return lines + family_choices_markdown(runs, blind)


def favourites(probabilities: list[float]) -> list[int]:
    """The most probable configurations (several when tied: all of them under a uniform
    policy)."""
    p = np.asarray(probabilities)
    return [int(i) for i in np.flatnonzero(np.isclose(p, p.max(), rtol=1e-4, atol=1e-6))]


def _favoured(probabilities: np.ndarray) -> str:
    top = favourites(probabilities)
    return "none (uniform)" if len(top) == len(probabilities) else ", ".join(f"c{i}" for i in top)


def _favourite_is_best(runs: list[Results], when: str) -> float | None:
    """Share of (eval task, run) pairs whose most probable configuration is among its
    family's best on train (a tie counts the share of the tied ones that are)."""
    from arc_seal.synthetic import family

    hits = []
    for r in runs:
        if not (r.choices_by_task and r.best_by_family and when in r.choices_by_task):
            return None
        for t, p in r.choices_by_task[when].items():
            top = favourites(p)
            hits.append(len(set(top) & set(r.best_by_family.get(family(t), []))) / len(top))
    return float(np.mean(hits)) if hits else None


def family_choices_markdown(runs: list[Results], blind: list[Results]) -> list[str]:
    """Per family: the grid configurations that solve most of its eval tasks, and the policy's
    probability of them before and after ReST-EM (mean over runs), the configuration it
    favours most, and the SEAL-blind twin's favourite; then how often the favourite on an eval
    task is its family's best on train."""
    if not all(r.choices_by_family and r.grid_by_family for r in runs):
        return []
    grid = runs[0].grid_by_family
    table = []
    for group, solves in grid.items():
        best = [i for i, n in enumerate(solves) if n == max(solves)] if max(solves) else []
        cells = [group, ", ".join(f"c{i}" for i in best) or "-"]
        for when in (Row.NO_RL, Row.SEAL):
            probs = np.mean([r.choices_by_family[when][group] for r in runs], axis=0)
            cells += [f"{100 * probs[best].sum():.0f}%", _favoured(probs)]
        if blind:
            probs = np.mean([r.choices_by_family[Row.SEAL][group] for r in blind], axis=0)
            cells.append(_favoured(probs))
        table.append(cells)
    header = ["family", "best configs (eval)", "p(best), no RL", "favoured, no RL"]
    header += ["p(best), SEAL", "favoured, SEAL"] + (["favoured, SEAL-blind"] if blind else [])
    lines = ["## Choices per family", ""] + markdown_table(header, table)
    lines += [
        "",
        "p(best): the policy's probability, summed over the family's best configurations, mean "
        "over the family's eval tasks and the runs; favoured: its most probable configuration.",
        "",
    ]
    shares = [
        (name, _favourite_is_best(rs, Row.SEAL if name != "no RL" else Row.NO_RL))
        for name, rs in (("no RL", runs), ("SEAL", runs), ("SEAL-blind", blind))
        if rs
    ]
    said = [f"{name} {100 * v:.0f}%" for name, v in shares if v is not None]
    if said:
        lines += [
            "The most probable configuration on an eval task is one of its family's best on "
            f"train: {', '.join(said)} of (eval task, run) pairs.",
            "",
        ]
    return lines


def choice_panels(runs: list[Results], blind: list[Results]) -> dict[str, dict[str, list[float]]]:
    """The choice picture's panels (``render.render_choices``): per family, the policy's mean
    probability per configuration over its eval tasks and the runs, before and after ReST-EM,
    for SEAL and its SEAL-blind twins."""
    panels = {}
    for label, rs in (("SEAL", runs), ("SEAL-blind", blind)):
        if not rs or not all(r.choices_by_family for r in rs):
            continue
        for when, title in ((Row.NO_RL, "before RL"), (Row.SEAL, "after RL")):
            families = rs[0].choices_by_family[when]
            panels[f"{label}, {title}"] = {
                g: np.mean([r.choices_by_family[when][g] for r in rs], axis=0).tolist()
                for g in families
            }
    return panels


def choices_markdown(runs: list[dict[str, RowSummary]]) -> list[str]:
    """What the policy picked in each row that samples self-edits (share of its self-edits,
    mean over runs): the policy's preferences before and after ReST-EM, side by side."""
    rows = [n for n in table_rows(runs[0]) if all(n in r and r[n].choices for r in runs)]
    if not rows:
        return []
    options = sorted({o for r in runs for n in rows for o in r[n].choices})
    table = [
        [option]
        + [f"{100 * np.mean([r[n].choices.get(option, 0.0) for r in runs]):.0f}%" for n in rows]
        for option in options
    ]
    lines = ["## Self-edit choices", ""]
    lines += markdown_table(["option", *map(row_title, rows)], table)
    return lines + ["", "Share of each row's parsed self-edits that picked the option.", ""]


def summary_markdown(title: str, table: dict[str, dict[str, RowSummary]]) -> str:
    """An evaluation's rows per group (``benchmark.summary``), with seconds per job."""
    header = ["row", "group", "solved (pass@2)", "right answer among candidates"]
    header += ["cell accuracy", "trivial answer", "shape accuracy", "s / task", "failed"]
    lines = []
    for row, groups in table.items():
        for g, r in groups.items():
            if r.scored:
                scores = [f"{r.correct} / {r.total} ({100 * r.accuracy:.0f}%)"]
                scores += [f"{r.truth_in_candidates:.2f}", f"{r.cell_accuracy:.3f}"]
                scores += [f"{r.trivial_cell_accuracy:.3f}", f"{r.shape_accuracy:.3f}"]
            elif r.failed == r.jobs:
                scores = [f"0 / {r.jobs}, every job failed", "-", "-", "-", "-"]
            else:
                scores = [f"not scored ({r.jobs} tasks without known outputs)", "-", "-", "-", "-"]
            lines.append([row, g, *scores, f"{r.seconds_per_job:.1f}", r.failed])
    return "\n".join([f"# {title}", "", *markdown_table(header, lines)]) + "\n"


def loss_markdown(losses: dict[str, dict[str, float]]) -> str:
    """Teacher-forced scores per group (``held_out_loss`` of each group's tasks) as a table."""
    header = ["group", "held-out loss", "token accuracy", "answers right, teacher-forced"]
    table = [
        [
            g,
            f"{r['loss']:.4f}",
            f"{r['token_accuracy']:.3f}",
            f"{r['answers_right']} / {r['tasks']}",
        ]
        for g, r in losses.items()
    ]
    return "\n".join(markdown_table(header, table)) + "\n"


def configuration_label(config: dict) -> str:
    """A grid configuration (reference JSON layout) in a few words."""
    data, training = config["data_generation"], config["training"]
    families = [f for f in FAMILIES if data[f"use_{f}_augmentations"]] or ["no"]
    loss = "all tokens" if training["strategy"] == "train_using_all_tokens" else "outputs"
    return (
        f"{'+'.join(families)} augmentations, loss on {loss}, lr {training['learning_rate']:g}, "
        f"{training['num_train_epochs']} epoch(s)"
    )


def grid_markdown(spec: dict) -> str:
    """Per family of a curated subset's pool: how many tasks were dropped and why, and how many
    of its grid tasks each configuration solves: where the best configuration differs between
    families, a policy has something to learn."""
    from arc_seal.synthetic import family

    grid = spec["grid"]
    table = RewardTable.from_grid(grid)
    dropped = grid.get("dropped", {})
    configs = grid["configurations"]
    kept = set(spec["train"]) | set(spec["eval"])
    groups = sorted(
        {family(t) for t in grid["solved"]} | {family(t) for ids in dropped.values() for t in ids}
    )
    rows = []
    for g in groups:
        mine = [t for t in grid["solved"] if family(t) == g]
        drops = [sum(family(t) == g for t in dropped.get(r, [])) for r in ("trivial", "icl")]
        solves = np.sum([table.row(t) for t in mine], axis=0) if mine else [0] * len(configs)
        counts = [f"{n:.3g}" for n in solves]
        rows.append([g, *drops, len(mine), *counts, sum(t in kept for t in mine)])
    header = ["family", "trivial", "ICL solves", "in grid"]
    header += [f"c{i}" for i in range(len(configs))] + ["kept"]
    seeds = table.pair_seeds
    what = "" if seeds == 1 else f" (summed solve rates over {seeds} TTT seeds per pair)"
    lines = [f"Grid tasks each configuration solves, per family{what}:", ""]
    lines += markdown_table(header, rows)
    lines += [""] + [f"- c{i}: {configuration_label(c)}" for i, c in enumerate(configs)]
    return "\n".join(lines) + "\n"


def submission(tasks: list[Task], attempts: dict[str, list[list[np.ndarray]]]) -> dict:
    """ARC Prize format: two attempts per test input. A test input without any answer (every
    job failed) gets ``[[0]]``, the format's placeholder, for both."""
    out = {}
    for task in tasks:
        entries = []
        for tries in attempts.get(task.id, [[] for _ in task.test]):
            grids = [a.tolist() for a in tries[:2]]
            grids += [grids[0] if grids else [[0]]] * (2 - len(grids))
            entries.append({"attempt_1": grids[0], "attempt_2": grids[1]})
        out[task.id] = entries
    return out


def check_wandb_login(mode: str) -> None:
    """Refuse ``online`` W&B logging without a login before any job runs: W&B looks for a key
    in ``WANDB_API_KEY`` or the netrc file (``NETRC``, else ``~/.netrc``) under its host."""
    if mode != "online" or os.environ.get("WANDB_API_KEY"):
        return
    host = urlparse(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname
    try:
        found = netrc.netrc(os.environ.get("NETRC") or None).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        found = False
    if not found:
        raise ConfigError(
            "--wandb online needs a W&B login: run `wandb login` (or set WANDB_API_KEY), "
            "or log to files with --wandb offline"
        )


class Tracker:
    """W&B logging as the run runs, or nothing when disabled; offline files go inside the run
    directory.

    One history entry per job as it finishes (``job/*``, against ``job/index``); per row every
    metric in one entry; per self-edit stage and iteration, histograms and a table of the
    choices; loss curves one line per job; results, predictions, pictures and each policy
    update as artifacts.
    """

    def __init__(self, run_dir: Path, mode: str, config: dict, name: str):
        self.run = None
        self.jobs_logged = 0
        if mode == "disabled":
            return
        import wandb

        self.wandb = wandb
        self.run = wandb.init(
            project="arc-seal",
            dir=str(run_dir),
            mode=mode,
            config=config,
            name=name,
            id=name.replace("/", "-"),
            resume="allow",
        )
        self.run.define_metric("job/*", step_metric="job/index")

    def log(self, values: dict) -> None:
        if self.run is not None:
            self.run.log(values)

    def job(self, record: Record) -> None:
        """One history entry for a finished job; the run's record store calls it once per
        record as it arrives (a policy update is logged by ``policy_update``)."""
        if self.run is None or not isinstance(record, JobRecord):
            return
        self.jobs_logged += 1
        ttt = record.ttt
        self.run.log(
            {
                "job/index": self.jobs_logged,
                "job/stage": record.stage,
                "job/iteration": record.iteration,
                "job/task": record.task_id,
                "job/sample": record.sample,
                "job/solved": None if record.solved is None else float(record.solved),
                "job/cell_accuracy": record.cell_accuracy,
                "job/shape_accuracy": record.shape_accuracy,
                "job/trivial_cell_accuracy": record.trivial_cell_accuracy,
                "job/steps": ttt.steps if ttt else 0,
                "job/final_loss": ttt.losses[-1] if ttt and ttt.losses else None,
                "job/seconds": record.seconds,
                "job/failed": float(record.failure is not None),
                "job/from_grid": float(record.from_grid),
            }
        )

    def self_edits(self, stage: str, iteration: int, records: list[JobRecord]) -> None:
        """What the policy chose in one stage: a histogram per option and a table of samples."""
        edits = [(r, r.self_edit) for r in records if r.self_edit]
        if self.run is None or not edits:
            return
        prefix = f"self_edit/{stage}" + (f"-{iteration}" if iteration else "")
        values = {
            f"{prefix}/learning_rate": [e.learning_rate for _, e in edits],
            f"{prefix}/epochs": [e.num_train_epochs for _, e in edits],
            f"{prefix}/output_tokens": [
                float(e.strategy == "train_using_output_tokens") for _, e in edits
            ],
        }
        for family, flag in zip(FAMILIES, FLAGS, strict=True):
            values[f"{prefix}/use_{family}"] = [float(getattr(e, flag)) for _, e in edits]
        rows = [
            [r.task_id, r.sample, *(getattr(e, flag) for flag in FLAGS)]
            + [e.strategy, e.learning_rate, e.num_train_epochs, r.solved]
            for r, e in edits
        ]
        columns = ["task", "sample", *FAMILIES, "strategy", "learning_rate", "epochs", "solved"]
        self.run.log(
            {k: self.wandb.Histogram(v) for k, v in values.items()}
            | {f"{prefix}/choices": self.wandb.Table(columns=columns, data=rows)}
        )

    def table(self, name: str, columns: list[str], rows: list[list], images: int | None = None):
        """Log a table; the column at index ``images`` holds PNG paths shown as pictures."""
        if self.run is None:
            return
        if images is not None:
            rows = [[*r[:images], self.wandb.Image(str(r[images])), *r[images + 1 :]] for r in rows]
        self.run.log({name: self.wandb.Table(columns=columns, data=rows)})

    def loss_curves(self, name: str, curves: dict[str, list[float]]) -> None:
        """One line per job."""
        if self.run is not None and curves:
            plot = self.wandb.plot.line_series(
                xs=[list(range(len(c))) for c in curves.values()],
                ys=list(curves.values()),
                keys=list(curves),
                title=name,
                xname="step",
            )
            self.run.log({name: plot})

    def artifact(self, name: str, kind: str, paths: list[Path]) -> None:
        """Files and folders saved with the run."""
        if self.run is None:
            return
        artifact = self.wandb.Artifact(name, type=kind)
        for path in paths:
            if path.is_dir():
                artifact.add_dir(str(path), name=path.name)
            elif path.exists():
                artifact.add_file(str(path))
        self.run.log_artifact(artifact)

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()
