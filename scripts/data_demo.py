"""Walk a task subset through the data steps of the method and draw each task.

For every task: its demonstrations and test inputs, how many test-time training sequences
leave-out + each augmentation family yields (capped at 250), and a PNG of the task with a few
augmented training sequences beside it.

    python scripts/data_demo.py --subset simplified --out runs/data-demo
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from arc_seal.augment import FAMILIES
from arc_seal.data import load_subset
from arc_seal.launch import run_cli
from arc_seal.render import render_task
from arc_seal.ttt_data import build_ttt_data


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--subset", default="simplified", help="a name in tasks/ or a subset file")
    parser.add_argument("--out", type=Path, default=Path("runs/data-demo"), help="folder for PNGs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    subset = load_subset(args.subset)
    columns = ["none", *FAMILIES, "all"]
    header = f"{'split':5} {'task':8} {'demos':>5} {'tests':>5} " + " ".join(
        f"{c:>6}" for c in columns
    )
    lines = [header]
    tasks = [("train", t) for t in subset.train] + [("eval", t) for t in subset.eval]
    for split, task in tqdm(tasks, desc=f"{subset.name} tasks", unit="task"):
        sizes = [
            len(build_ttt_data(task, fams, seed=args.seed))
            for fams in ([], *([f] for f in FAMILIES), list(FAMILIES))
        ]
        lines.append(
            f"{split:5} {task.id:8} {len(task.train):5} {len(task.test):5} "
            + " ".join(f"{n:6}" for n in sizes)
        )
        render_task(task, args.out / f"{split}-{task.id}.png", title=f"{task.id} ({split})")
        for k, seq in enumerate(build_ttt_data(task, list(FAMILIES), seed=args.seed)[:2]):
            render_task(
                seq,
                args.out / f"{split}-{task.id}-ttt{k}.png",
                title=f"{task.id}: TTT sequence {k}",
            )
    print("\nTTT sequences per task (leave-1 + leave-2, de-duplicated, capped at 250):")
    print("\n".join(lines))
    print(f"\npictures: {args.out}/")


if __name__ == "__main__":
    run_cli(main)
