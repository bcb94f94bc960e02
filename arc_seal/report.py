"""What a run shows a person: the results table, Kaggle-format predictions, and W&B.

``results.json`` is the machine-readable summary, ``results.md`` the same as a table (with each
row's failed jobs and why), ``submission.json`` the ARC Prize format. ``Tracker`` logs to W&B,
offline inside the run directory unless asked otherwise.
"""

from __future__ import annotations

import numpy as np

from arc_seal.evaluate import ROW_NAMES, ROWS
from arc_seal.grid import Task

TABLE_ROWS = (*ROWS, "oracle_train")


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
    for name in (n for n in TABLE_ROWS if n in rows):
        r = rows[name]
        lines.append(
            f"| {ROW_NAMES[name]} | {_accuracy(r)} | {r['correct']} / {r['total']} "
            f"| {_score(r['cell_accuracy'])} | {_score(r.get('trivial_cell_accuracy'))} "
            f"| {_score(r['shape_accuracy'])} | {r['failed']} / {r['jobs']} |"
        )
    for name in (n for n in TABLE_ROWS if n in rows and rows[n]["failures"]):
        reasons = "; ".join(f"{n} x {why}" for why, n in rows[name]["failures"].items())
        lines.append(f"\nFailed in {ROW_NAMES[name]}: {reasons}")
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
    return "\n".join(lines + ["", note, "", f"Time: {seconds}", ""])


def _spread(values: list[float], fmt: str, unit: str = "") -> str:
    return f"{np.mean(values):{fmt}}{unit} [{min(values):{fmt}}, {max(values):{fmt}}]"


def seeds_markdown(runs: list[dict]) -> str:
    """One table over several runs (seeds) of the same setting: each row's mean with the
    lowest and highest run beside it, so a gap between rows can be read against the spread."""
    seeds = ", ".join(str(r["seed"]) for r in runs)
    lines = [
        f"# {runs[0]['subset']}: {runs[0]['model']}, {len(runs)} runs (seeds {seeds})",
        "",
        "| setting | pass@2 accuracy | cell accuracy | shape accuracy |",
        "| --- | --- | --- | --- |",
    ]
    for row in TABLE_ROWS:
        present = [r["rows"][row] for r in runs if row in r["rows"]]
        if len(present) != len(runs):
            continue
        if any(p["accuracy"] is None or p["cell_accuracy"] is None for p in present):
            lines.append(f"| {ROW_NAMES[row]} | not scored or failed in some run | - | - |")
            continue
        cells = [
            _spread([100 * p["accuracy"] for p in present], ".1f", unit="%"),
            _spread([p["cell_accuracy"] for p in present], ".3f"),
            _spread([p["shape_accuracy"] for p in present], ".3f"),
        ]
        lines.append(f"| {ROW_NAMES[row]} | " + " | ".join(cells) + " |")
    lines += ["", "Each cell: mean over runs [lowest, highest].", ""]
    return "\n".join(lines)


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
    """W&B logging, or nothing when disabled; offline files go inside the run directory."""

    def __init__(self, run_dir, mode: str, config: dict, name: str):
        self.run = None
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

    def log(self, values: dict) -> None:
        if self.run is not None:
            self.run.log(values)

    def histogram(self, name: str, values: list[float]) -> None:
        if self.run is not None and values:
            self.run.log({name: self.wandb.Histogram(values)})

    def table(self, name: str, columns: list[str], rows: list[list], images: int | None = None):
        """Log a table; the column at index ``images`` holds PNG paths shown as pictures."""
        if self.run is None:
            return
        if images is not None:
            rows = [[*r[:images], self.wandb.Image(str(r[images])), *r[images + 1 :]] for r in rows]
        self.run.log({name: self.wandb.Table(columns=columns, data=rows)})

    def line(self, name: str, columns: list[str], rows: list[list], x: str, y: str):
        if self.run is not None and rows:
            table = self.wandb.Table(columns=columns, data=rows)
            self.run.log({name: self.wandb.plot.line(table, x, y, title=name)})

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()
