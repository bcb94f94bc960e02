"""Which test-time training recipe helps: the oracle row under one changed setting per variant
(``arc_seal.sweep``). The table is printed and written to OUT/sweep.md; a second call with the
same --out finishes an interrupted sweep.

    python scripts/sweep_ttt.py --synthetic 1 --out runs/sweep-sanity
    python scripts/sweep_ttt.py --subset simplified --out runs/sweep-simplified
    python scripts/sweep_ttt.py --synthetic 2 --variants default "leave-2 contexts" --out runs/sw2
"""

from __future__ import annotations

import argparse
from pathlib import Path

from arc_seal import config as cfg
from arc_seal.benchmark import benchmark_tasks
from arc_seal.distributed import from_environment
from arc_seal.launch import run_cli
from arc_seal.sweep import VARIANTS, Sweep


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="default", help="shipped config name or YAML file")
    parser.add_argument("--model", help="HF model id or local directory; unset: embedded model")
    parser.add_argument("--subset", help="subset whose eval tasks are scored")
    parser.add_argument("--synthetic", type=int, help="fresh synthetic tasks per family")
    parser.add_argument("--max-side", type=int, default=8, help="--synthetic grids' largest side")
    parser.add_argument("--limit", type=int, help="score only the first N tasks")
    parser.add_argument(
        "--variants",
        nargs="+",
        default=list(VARIANTS),
        choices=list(VARIANTS),
        metavar="NAME",
        help=f"rows to run (default all): {', '.join(VARIANTS)}",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the records, sweep.md")
    args = parser.parse_args()
    tasks, title = benchmark_tasks(args.subset, args.synthetic, args.max_side, args.limit)
    base = cfg.load_yaml(cfg.config_path(args.config))
    if args.model:
        base["model"] = args.model
    sweep = Sweep(base, args.variants, tasks, title, by_family=args.synthetic is not None)
    text = sweep.run(args.out, from_environment(sweep.configs[args.variants[0]].device))
    if text is not None:
        print(text)
    return 0


if __name__ == "__main__":
    run_cli(main)
