"""What a run shows a person: the results table, Kaggle-format predictions, and W&B.

``results.json`` is the machine-readable summary, ``results.md`` the same as a table (with each
row's failed jobs and why), ``submission.json`` the ARC Prize format. ``Tracker`` logs to W&B,
offline inside the run directory unless asked otherwise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from arc_seal.evaluate import ROWS, row_title
from arc_seal.grid import Task
from arc_seal.records import JobRecord, Record

TABLE_ROWS = (*ROWS, "oracle_train", "best_fixed", "grid_oracle")


def table_rows(names) -> list[str]:
    """The rows present, in table order; SEAL rows of earlier iterations before the last."""
    out = []
    for name in TABLE_ROWS:
        if name == "seal":
            out += sorted((n for n in names if n.startswith("seal@")), key=lambda n: int(n[5:]))
        if name in names:
            out.append(name)
    return out


def _accuracy(r: dict) -> str:
    if r["jobs"] and r["failed"] == r["jobs"]:
        return f"all {r['jobs']} jobs failed"
    if not r["scored"]:
        return "not scored"
    return f"{100 * r['accuracy']:.1f}%"


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def results_markdown(results: dict) -> str:
    lines = [
        f"# {results['subset']}: {results['model']} (seed {results['seed']})",
        "",
        "| setting | pass@2 accuracy | correct / total | cell accuracy | trivial answer "
        "| shape accuracy | failed |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows = results["rows"]
    for name in table_rows(rows):
        r = rows[name]
        lines.append(
            f"| {row_title(name)} | {_accuracy(r)} | {r['correct']} / {r['total']} "
            f"| {_score(r['cell_accuracy'])} | {_score(r.get('trivial_cell_accuracy'))} "
            f"| {_score(r['shape_accuracy'])} | {r['failed']} / {r['jobs']} |"
        )
    for name in (n for n in table_rows(rows) if rows[n]["failures"]):
        reasons = "; ".join(f"{n} x {why}" for why, n in rows[name]["failures"].items())
        lines.append(f"\nFailed in {row_title(name)}: {reasons}")
    for name, rate in results.get("train_reward_rate", {}).items():
        lines.append(f"\nReST-EM iteration {name}: train reward rate {100 * rate:.1f}%")
    lines += ["", "## Per task (solved samples)", "", "| task | " + " | ".join(ROWS) + " |"]
    lines.append("| --- |" + " --- |" * len(ROWS))
    for t in next((r["per_task"] for n, r in rows.items() if n != "oracle_train"), {}):
        cells = []
        for row in ROWS:
            outcomes = rows.get(row, {}).get("per_task", {}).get(t, [])
            cells.append(f"{sum(outcomes)}/{len(outcomes)}" if outcomes else "-")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    seconds = ", ".join(f"{k} {v:.0f}s" for k, v in results["seconds"].items())
    note = (
        "Trivial answer: the cell accuracy of the better of two answers that need no "
        "understanding, at the true shape (the output's most common colour everywhere, or the "
        "input copied), on the same jobs; a cell accuracy below it is no evidence of skill."
    )
    lines += ["", note, "", f"Time: {seconds}", ""]
    return "\n".join(lines + choices_markdown([results]))


def _spread(values: list[float], fmt: str, unit: str = "") -> str:
    return f"{np.mean(values):{fmt}}{unit} [{min(values):{fmt}}, {max(values):{fmt}}]"


def seeds_markdown(runs: list[dict]) -> str:
    """One table over several runs (seeds) of the same setting: each row's mean with the
    lowest and highest run beside it, so a gap between rows can be read against the spread."""
    seeds = ", ".join(str(r["seed"]) for r in runs)
    lines = [
        f"# {runs[0]['subset']}: {runs[0]['model']}, {len(runs)} runs (seeds {seeds})",
        "",
        "| setting | pass@2 accuracy | cell accuracy | trivial answer | shape accuracy |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in table_rows(runs[0]["rows"]):
        present = [r["rows"][row] for r in runs if row in r["rows"]]
        if len(present) != len(runs):
            continue
        if any(p["accuracy"] is None for p in present):
            lines.append(f"| {row_title(row)} | not scored or failed in some run | - | - | - |")
            continue
        cells = [_spread([100 * p["accuracy"] for p in present], ".1f", unit="%")]
        for metric in ("cell_accuracy", "trivial_cell_accuracy", "shape_accuracy"):
            values = [p.get(metric) for p in present]
            cells.append("-" if None in values else _spread(values, ".3f"))
        lines.append(f"| {row_title(row)} | " + " | ".join(cells) + " |")
    lines += ["", "Each cell: mean over runs [lowest, highest].", ""]
    return "\n".join(lines + choices_markdown(runs))


def choices_markdown(runs: list[dict]) -> list[str]:
    """What the policy picked in each row that samples self-edits (share of its self-edits,
    mean over runs): the policy's preferences before and after ReST-EM, side by side."""
    rows = [
        n
        for n in table_rows(runs[0]["rows"])
        if all(r["rows"].get(n, {}).get("choices") for r in runs)
    ]
    if not rows:
        return []
    options = sorted({o for r in runs for n in rows for o in r["rows"][n]["choices"]})
    lines = ["## Self-edit choices", "", "| option | " + " | ".join(map(row_title, rows)) + " |"]
    lines.append("| --- |" + " --- |" * len(rows))
    for option in options:
        shares = [np.mean([r["rows"][n]["choices"].get(option, 0.0) for r in runs]) for n in rows]
        lines.append(f"| {option} | " + " | ".join(f"{100 * v:.0f}%" for v in shares) + " |")
    return lines + ["", "Share of each row's parsed self-edits that picked the option.", ""]


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
            }
        )

    def self_edits(self, stage: str, iteration: int, records: list[JobRecord]) -> None:
        """What the policy chose in one stage: a histogram per option and a table of samples."""
        edits = [(r, r.self_edit) for r in records if r.self_edit]
        if self.run is None or not edits:
            return
        prefix = f"self_edit/{stage}" + (f"-{iteration}" if iteration else "")
        flags = ("basic", "size", "chain", "repeat")
        values = {
            f"{prefix}/learning_rate": [e["training"]["learning_rate"] for _, e in edits],
            f"{prefix}/epochs": [e["training"]["num_train_epochs"] for _, e in edits],
            f"{prefix}/output_tokens": [
                float(e["training"]["strategy"] == "train_using_output_tokens") for _, e in edits
            ],
        }
        for flag in flags:
            values[f"{prefix}/use_{flag}"] = [
                float(e["data_generation"][f"use_{flag}_augmentations"]) for _, e in edits
            ]
        rows = [
            [r.task_id, r.sample, *(e["data_generation"][f"use_{f}_augmentations"] for f in flags)]
            + [e["training"]["strategy"], e["training"]["learning_rate"]]
            + [e["training"]["num_train_epochs"], r.solved]
            for r, e in edits
        ]
        columns = ["task", "sample", *flags, "strategy", "learning_rate", "epochs", "solved"]
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
