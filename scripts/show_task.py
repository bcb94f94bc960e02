"""Draw an ARC task to PNG.

python scripts/show_task.py 007bbfb7 --out task.png        # ARC-AGI-1, else ARC-AGI-2
python scripts/show_task.py path/to/task.json --out task.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from arc_seal.cli import run_cli
from arc_seal.data import DATASETS, find_task, load_tasks
from arc_seal.errors import TaskNotFoundError
from arc_seal.render import render_task


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("task", help="an ARC-AGI-1/2 task id, or an ARC JSON task file")
    parser.add_argument(
        "--out", type=Path, help="PNG path (default: <task id>.png); a folder for a multi-task file"
    )
    parser.add_argument(
        "--dataset", choices=list(DATASETS), help="look the id up only in this dataset"
    )
    args = parser.parse_args()

    if Path(args.task).exists():
        tasks = load_tasks(args.task)
    else:
        tasks = None
        for dataset in [args.dataset] if args.dataset else list(DATASETS):
            try:
                tasks = [find_task(args.task, dataset)]
                break
            except TaskNotFoundError:
                continue
        if tasks is None:
            raise TaskNotFoundError(f"task {args.task!r} is in none of: {', '.join(DATASETS)}")
    for task in tasks:
        if len(tasks) == 1:
            out = args.out or Path(f"{task.id}.png")
        else:  # a file of several tasks: --out names a folder
            out = (args.out or Path(".")) / f"{task.id}.png"
        print(render_task(task, out, title=f"{task.id} ({task.source})"))


if __name__ == "__main__":
    run_cli(main)
