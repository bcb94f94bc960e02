"""How far test-time compute goes: the oracle row's solves against trained tokens per task.

Budget k trains k times the config's tokens per task: epochs of k x ``ttt.tokens_per_epoch``
tokens (default config: 2,048 x k, 2 epochs, so budget 1 is about 4,000 tokens), everything
else as the config says. Each (benchmark, budget) is a run directory of its own,
OUT/<benchmark>/x<k>/, holding its settings and one job record per task, appended as it
finishes: a second call with the same --out finishes what an interrupted one left, and
torchrun ranks share the tasks. After running what it was asked, the script tabulates every
run directory under OUT (OUT/curve.md) and draws solved against tokens per task, one line per
benchmark (OUT/curve.png).

    python scripts/ttt_curve.py --benchmark simplified --budgets 1 4 16 64 --out runs/ttt-curve
    python scripts/ttt_curve.py --benchmark sanity --budgets 1 4 16 --out runs/ttt-curve
    python scripts/ttt_curve.py --benchmark arc-agi-1-eval-100 --budgets 64 --sample 40 \\
        --views identity transpose --out runs/ttt-curve
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path

import numpy as np

from arc_seal import config as cfg
from arc_seal.augment import D8
from arc_seal.benchmark import sanity_tasks, score_in_run_dir, summary
from arc_seal.data import load_subset
from arc_seal.distributed import from_environment
from arc_seal.errors import ConfigError
from arc_seal.grid import Task
from arc_seal.launch import run_cli
from arc_seal.records import JobRecord, Records, Stage
from arc_seal.report import markdown_table

SANITY = "sanity"
"""The README's sanity benchmark: 5 fresh synthetic tasks per family, 100 in all."""


def benchmark_tasks(name: str, sample: int | None) -> list[Task]:
    """A benchmark's tasks (a subset's eval tasks, or the sanity tasks), or a fixed sample of
    them (seed 0, in their listed order), the same in every call."""
    tasks = sanity_tasks(5) if name == SANITY else load_subset(name).eval
    if sample is None:
        return tasks
    if not 1 <= sample <= len(tasks):
        raise ConfigError(f"--sample {sample}: {name} has {len(tasks)} tasks")
    picked = np.random.default_rng(0).permutation(len(tasks))[:sample]
    return [tasks[i] for i in sorted(picked.tolist())]


SIZES = "sizes.json"
SIZE_BINS = ((1, 12), (13, 20), (21, 30))
"""Largest grid side per task: up to 12 (what the embedded model was pretrained on), larger."""


def largest_side(task: Task) -> int:
    grids = [g for e in task.train + task.test for g in (e.input, e.output) if g is not None]
    return max(max(g.shape) for g in grids)


def budget_config(base: cfg.RunConfig, budget: int, views: list[str] | None) -> cfg.RunConfig:
    """``base`` with ``budget`` times its tokens per epoch (and the views, if given)."""
    if base.ttt.tokens_per_epoch is None:
        raise ConfigError("the curve scales ttt.tokens_per_epoch; the config leaves it unset")
    ttt = dataclasses.replace(base.ttt, tokens_per_epoch=budget * base.ttt.tokens_per_epoch)
    predict = base.predict
    if views is not None:
        predict = dataclasses.replace(predict, views=tuple(views))
    return dataclasses.replace(base, ttt=ttt, predict=predict, wandb="disabled")


def label(benchmark: str, sample: int | None, views: list[str] | None) -> str:
    """A benchmark's folder: its name, the sample size and the view count when given."""
    name = Path(benchmark).stem
    name += f"-sample{sample}" if sample else ""
    return name + (f"-{len(views)}views" if views else "")


def solved_by_size(records: list[JobRecord], sizes: dict[str, int]) -> dict[str, list[int]]:
    """Size bin -> [solved, tasks], by each task's largest grid side."""
    out = {}
    for low, high in SIZE_BINS:
        mine = [r for r in records if low <= sizes.get(r.task_id, 0) <= high]
        out[f"{low}-{high}"] = [sum(bool(r.solved) for r in mine), len(mine)]
    return out


def curve_rows(out: Path) -> list[dict]:
    """One row per run directory under ``out`` (benchmark, then budget order). A sample
    (``NAME-sampleN...``) also gets the full benchmark's budgets it did not run itself, from
    the full runs' jobs on the sample's tasks, so its line starts where the full one does."""
    runs: dict[tuple[str, int], list[JobRecord]] = {}
    for run_dir in sorted(out.glob("*/x*/")):
        if (run_dir / cfg.CONFIG).is_file():
            runs[run_dir.parent.name, int(run_dir.name.removeprefix("x"))] = Records(run_dir).jobs(
                Stage.ORACLE
            )
    for (bench, budget), records in list(runs.items()):
        full = re.sub(r"-sample\d+", "", bench)
        for sample in {b for b, _ in runs if b != full and re.sub(r"-sample\d+", "", b) == full}:
            if bench == full and (sample, budget) not in runs:
                ids = set(json.loads((out / sample / SIZES).read_text()))
                runs[sample, budget] = [r for r in records if r.task_id in ids]
    rows = []
    for (bench, budget), records in sorted(runs.items()):
        if not records:
            continue
        sizes_file = out / bench / SIZES
        sizes = json.loads(sizes_file.read_text()) if sizes_file.is_file() else {}
        trained = [r.ttt.tokens for r in records if r.ttt is not None]
        rows.append(
            {
                "benchmark": bench,
                "budget": budget,
                "tokens": float(np.mean(trained)) if trained else 0.0,
                "summary": summary(records)[Stage.ORACLE]["all"],
                "by_size": solved_by_size(records, sizes),
            }
        )
    return rows


def curve_markdown(rows: list[dict], calibration: str | None) -> str:
    header = ["benchmark", "budget", "trained tokens per task", "solved (pass@2)"]
    header += ["right answer among candidates", "cell accuracy", "trivial answer"]
    header += ["shape accuracy", "s / task"]
    lines = []
    for r in rows:
        s = r["summary"]
        solved = f"{s.correct} / {s.total}" if s.scored else "-"
        dense = [s.truth_in_candidates, s.cell_accuracy, s.trivial_cell_accuracy]
        dense.append(s.shape_accuracy)
        lines.append(
            [r["benchmark"], f"{r['budget']}x", f"{r['tokens']:,.0f}", solved]
            + ["-" if v is None else f"{v:.3f}" for v in dense]
            + [f"{s.seconds_per_job:.1f}"]
        )
    text = "# Solves against test-time training budget (oracle row)\n\n"
    text += "\n".join(markdown_table(header, lines)) + "\n"
    bins = [f"{low}-{high}" for low, high in SIZE_BINS]
    by_size = [
        [r["benchmark"], f"{r['budget']}x"]
        + [
            f"{r['by_size'][b][0]} / {r['by_size'][b][1]}" if r["by_size"][b][1] else "-"
            for b in bins
        ]
        for r in rows
    ]
    text += "\nSolved by the task's largest grid side (cells):\n\n"
    text += "\n".join(markdown_table(["benchmark", "budget", *bins], by_size)) + "\n"
    if calibration:
        text += f"\nCalibration: `{calibration}`\n"
    return text


def plot(rows: list[dict], path: Path) -> None:
    """Solved (%) and cell accuracy against trained tokens per task, a line per benchmark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (solved, cells) = plt.subplots(1, 2, figsize=(11, 4.2))
    for bench in dict.fromkeys(r["benchmark"] for r in rows):
        mine = [r for r in rows if r["benchmark"] == bench and r["summary"].scored]
        if not mine:
            continue
        x = [r["tokens"] for r in mine]
        (line,) = solved.plot(
            x,
            [100 * r["summary"].accuracy for r in mine],
            marker="o",
            label=f"{bench} (up to {max(r['summary'].total for r in mine)} tasks)",
        )
        colour = line.get_color()
        cells.plot(x, [r["summary"].cell_accuracy for r in mine], marker="o", color=colour)
        trivial = np.mean([r["summary"].trivial_cell_accuracy for r in mine])
        cells.axhline(trivial, linestyle=":", color=colour)
    for ax, what in ((solved, "solved, pass@2 (%)"), (cells, "cell accuracy (dotted: trivial)")):
        ax.set_xscale("log")
        ax.set_xlabel("trained tokens per task")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
    solved.legend(fontsize=8)
    fig.suptitle("Oracle TTT: what more test-time training buys")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="default", help="shipped config name or YAML file")
    parser.add_argument("--model", help="HF model id or local directory; unset: embedded model")
    parser.add_argument(
        "--benchmark", help=f"a subset whose eval tasks are scored, or {SANITY!r} (100 tasks)"
    )
    parser.add_argument("--budgets", type=int, nargs="+", default=[], help="multiples to run")
    parser.add_argument("--sample", type=int, help="a fixed seeded sample of this many tasks")
    parser.add_argument(
        "--views", nargs="+", choices=[t.name for t in D8], help="answer views; unset: config's"
    )
    parser.add_argument("--calibration", help="a calibrate line to print under the table")
    parser.add_argument("--out", type=Path, required=True, help="folder of the run directories")
    args = parser.parse_args()
    if args.budgets and args.benchmark is None:
        raise ConfigError("--budgets needs --benchmark")
    if any(b < 1 for b in args.budgets):
        raise ConfigError(f"--budgets {args.budgets}: each is a multiple of at least 1")
    if args.budgets:
        base = cfg.from_dict(cfg.load_yaml(cfg.config_path(args.config)), args.config)
        if args.model:
            base = dataclasses.replace(base, model=args.model)
        tasks = benchmark_tasks(args.benchmark, args.sample)
        folder = args.out / label(args.benchmark, args.sample, args.views)
        folder.mkdir(parents=True, exist_ok=True)
        sizes = {t.id: largest_side(t) for t in tasks}
        (folder / SIZES).write_text(json.dumps(sizes, indent=0))
        ranks = from_environment(base.device)
        for budget in args.budgets:
            config = budget_config(base, budget, args.views)
            score_in_run_dir(folder / f"x{budget}", config, tasks, Stage.ORACLE, ranks)
        if not ranks.main:  # its share is recorded; rank 0 reports
            return 0
    rows = curve_rows(args.out)
    if not rows:
        raise ConfigError(f"{args.out}: no finished job to tabulate")
    text = curve_markdown(rows, args.calibration)
    (args.out / "curve.md").write_text(text)
    plot(rows, args.out / "curve.png")
    print(text)
    print(f"picture: {args.out / 'curve.png'}")
    return 0


if __name__ == "__main__":
    run_cli(main)
