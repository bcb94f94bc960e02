"""The four evaluation rows and the files a run ends with.

Rows, as in the reference table: ``icl`` (no TTT), ``no_rl`` (TTT with self-edits from the
un-reinforced policy), ``seal`` (self-edits from the reinforced policy) and ``oracle`` (the
oracle TTT configuration). Accuracy counts correct (task, sample) pairs over all pairs.
"""

from __future__ import annotations

import numpy as np

from arc_seal.grid import Task
from arc_seal.predict import Candidate, vote

ROWS = ("icl", "no_rl", "seal", "oracle")
ROW_NAMES = {
    "icl": "ICL (no TTT)",
    "no_rl": "TTT + self-edit, no RL",
    "seal": "SEAL (TTT + self-edit after ReST-EM)",
    "oracle": "Oracle TTT config",
}


def row_summary(records: list[dict], task_ids: list[str]) -> dict:
    """Accuracy and per-task outcomes of one row; failed or invalid jobs count as wrong."""
    per_task = {
        t: [r["solved"] for r in sorted(records, key=lambda r: r["sample"]) if r["task_id"] == t]
        for t in task_ids
    }
    total = sum(len(v) for v in per_task.values())
    correct = sum(sum(v) for v in per_task.values())
    cells = [r["cell_accuracy"] for r in records]
    shapes = [r["shape_accuracy"] for r in records]
    return {
        "accuracy": correct / total if total else 0.0,
        "correct": correct,
        "total": total,
        "per_task": per_task,
        "cell_accuracy": float(np.mean(cells)) if cells else 0.0,
        "shape_accuracy": float(np.mean(shapes)) if shapes else 0.0,
    }


def results_markdown(results: dict) -> str:
    lines = [
        f"# {results['subset']}: {results['model']} (seed {results['seed']})",
        "",
        "| setting | pass@2 accuracy | correct / total | cell accuracy | shape accuracy |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in ROWS:
        if row in results["rows"]:
            r = results["rows"][row]
            lines.append(
                f"| {ROW_NAMES[row]} | {100 * r['accuracy']:.1f}% | {r['correct']} / {r['total']} "
                f"| {r['cell_accuracy']:.3f} | {r['shape_accuracy']:.3f} |"
            )
    for name, rate in results.get("train_reward_rate", {}).items():
        lines.append(f"\nReST-EM iteration {name}: train reward rate {100 * rate:.1f}%")
    if "oracle_train" in results["rows"]:
        r = results["rows"]["oracle_train"]
        lines.append(
            f"\nOracle TTT config on the train tasks: {r['correct']} / {r['total']} "
            f"(cell accuracy {r['cell_accuracy']:.3f}, shape accuracy {r['shape_accuracy']:.3f})"
        )
    lines += ["", "## Per task (solved samples)", "", "| task | " + " | ".join(ROWS) + " |"]
    lines.append("| --- |" + " --- |" * len(ROWS))
    tasks = list(next(iter(results["rows"].values()))["per_task"]) if results["rows"] else []
    for t in tasks:
        cells = []
        for row in ROWS:
            outcomes = results["rows"].get(row, {}).get("per_task", {}).get(t, [])
            cells.append(f"{sum(outcomes)}/{len(outcomes)}" if outcomes else "-")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    seconds = ", ".join(f"{k} {v:.0f}s" for k, v in results["seconds"].items())
    return "\n".join(lines + ["", f"Time: {seconds}", ""])


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
    names = ROW_NAMES | {"oracle_train": "Oracle TTT config, train tasks"}
    for row in (*ROWS, "oracle_train"):
        present = [r["rows"][row] for r in runs if row in r["rows"]]
        if len(present) != len(runs):
            continue
        cells = [
            _spread([100 * p["accuracy"] for p in present], ".1f", unit="%"),
            _spread([p["cell_accuracy"] for p in present], ".3f"),
            _spread([p["shape_accuracy"] for p in present], ".3f"),
        ]
        lines.append(f"| {names[row]} | " + " | ".join(cells) + " |")
    lines += ["", "Each cell: mean over runs [lowest, highest].", ""]
    return "\n".join(lines)


def voted_attempts(task: Task, records: list[dict]) -> list[list[np.ndarray]]:
    """Two attempts per test input from all samples of a row: each sample's attempts are a
    view in a hierarchical vote, so grids several samples agree on come first."""
    out = []
    for i in range(len(task.test)):
        candidates = [
            Candidate(f"sample-{r['sample']}", np.array(a, dtype=np.int8))
            for r in records
            if r.get("attempts")
            for a in r["attempts"][i]
        ]
        out.append(vote(candidates))
    return out


def submission(tasks: list[Task], attempts: dict[str, list[list[np.ndarray]]]) -> dict:
    """Kaggle ARC Prize format: two attempts per test input ([[0]] where there is none)."""
    out = {}
    for task in tasks:
        entries = []
        for tries in attempts.get(task.id, [[] for _ in task.test]):
            grids = [a.tolist() for a in tries[:2]] + [[[0]]] * (2 - len(tries[:2]))
            entries.append({"attempt_1": grids[0], "attempt_2": grids[1]})
        out[task.id] = entries
    return out
