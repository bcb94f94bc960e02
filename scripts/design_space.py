"""Choose the policy experiment's configurations on a design pool (docs/policy.md).

    python scripts/design_space.py runs/seal-design/seal-design.json \
        --write configs/seal-policy-grid.json

Reads a curated subset's grid (candidate configurations, several TTT seeds per pair), prints
per family how often each configuration solves, the leave-one-task-out per-family best against
the best fixed configuration with a bootstrap interval, and writes the configurations kept.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from arc_seal.data import load_subset
from arc_seal.design import design
from arc_seal.errors import ConfigError
from arc_seal.launch import run_cli
from arc_seal.report import configuration_label, markdown_table
from arc_seal.reward import RewardTable


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("subset", help="the design pool's subset file (written by curate)")
    parser.add_argument("--least", type=int, default=6, help="configurations kept, at least")
    parser.add_argument("--most", type=int, default=10, help="configurations kept, at most")
    parser.add_argument("--write", type=Path, help="write the kept configurations here (JSON)")
    args = parser.parse_args()
    subset = load_subset(args.subset)
    if subset.grid is None:
        raise ConfigError(f"{args.subset}: no grid (curate the design pool first)")
    table = RewardTable.from_grid(subset.grid)
    found = design(table, args.least, args.most)
    if not found.tasks:
        raise ConfigError(f"{args.subset}: no grid task tells configurations apart")
    n = len(table.configurations)
    rows = [
        [g, sum(t.startswith(f"{g}-") for t in found.tasks), *(f"{v:g}" for v in rates)]
        for g, rates in found.by_family.items()
    ]
    dropped = subset.grid.get("dropped", {})
    pool = len(table.verdicts) + len(dropped.get("trivial", [])) + len(dropped.get("icl", []))
    mean, low, high = found.difference()
    lines = [
        f"# Design pool {subset.name}: {pool} tasks, {len(table.verdicts)} in the grid, "
        f"{len(found.tasks)} informative; {table.pair_seeds} TTT seed(s) per pair",
        "",
        "Solve rates summed over each family's informative tasks:",
        "",
        *markdown_table(["family", "tasks", *(f"c{i}" for i in range(n))], rows),
        "",
        *(
            f"- c{i}: {configuration_label(c.to_json())}"
            for i, c in enumerate(table.configurations)
        ),
        "",
        f"Per-family best minus best fixed, each chosen without the task it is scored on: "
        f"{100 * mean:+.1f} points [{100 * low:+.1f}, {100 * high:+.1f}] (95% bootstrap over "
        f"the {len(found.tasks)} tasks); per-family best {100 * found.mean('per_family'):.1f}%, "
        f"best fixed {100 * found.mean('fixed'):.1f}%.",
        "",
        f"Kept: {', '.join(f'c{i}' for i in found.kept)}.",
    ]
    print("\n".join(lines))
    if args.write:
        kept = [table.configurations[i].to_json() for i in found.kept]
        args.write.write_text(json.dumps(kept, indent=1) + "\n")
        print(f"written to {args.write}")
    return 0


if __name__ == "__main__":
    run_cli(main)
