"""Choose the configuration head's L2 penalty on a subset's train tasks (docs/policy.md).

    python scripts/head_cv.py seal-policy --l2 0 0.001 0.01 0.1 0.3

For each penalty, fits the head (``policy: head``) by folds over the subset's train tasks to
every solving (task, configuration, seed) of the other folds and scores each task by the
expected solve rate the fitted head gives it, with the demonstrations shown and hidden (the
SEAL-blind head, which can learn only a preference shared by every task). Prints the means
beside the uniform policy and the shown - hidden difference with a bootstrap interval over
tasks: whether the model's view of a task helps choose, before any eval task is read.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from arc_seal.config import HeadConfig, RunConfig
from arc_seal.data import load_subset
from arc_seal.errors import ConfigError
from arc_seal.launch import run_cli
from arc_seal.policy import shown_task
from arc_seal.policy_head import held_out_rates, prompt_features
from arc_seal.report import markdown_table
from arc_seal.reward import RewardTable, paired_bootstrap
from arc_seal.ttt import load_engine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("subset", help="a curated subset with its grid")
    parser.add_argument("--l2", type=float, nargs="+", default=[0, 0.001, 0.01, 0.1, 0.3])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--model", help="HF model id or local directory; unset: embedded model")
    args = parser.parse_args()
    subset = load_subset(args.subset)
    if subset.grid is None:
        raise ConfigError(f"{args.subset}: no grid (curate the subset first)")
    table = RewardTable.from_grid(subset.grid)
    train = [t.id for t in subset.train if t.id in table.verdicts]
    tasks = subset.train + subset.eval
    engine = load_engine(RunConfig(model=args.model, wandb="disabled"), "cpu")
    with engine.base_model():
        seen = {
            blind: prompt_features(
                engine.model, engine.encoder, [shown_task(t, blind) for t in tasks]
            )
            for blind in (False, True)
        }
    uniform = np.mean([table.row(t).mean() for t in train])
    print(
        f"{args.subset}: {len(train)} train tasks, {args.folds} folds; uniform {100 * uniform:.1f}%"
    )
    rows = []
    for l2 in args.l2:
        config = replace(HeadConfig(), l2=l2)
        shown, hidden = (
            held_out_rates(seen[b], table, train, config, args.folds) for b in (False, True)
        )
        mean, low, high = paired_bootstrap(shown, hidden)
        rows.append(
            [
                f"{l2:g}",
                f"{100 * np.mean(list(shown.values())):.1f}",
                f"{100 * np.mean(list(hidden.values())):.1f}",
                f"{100 * mean:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]",
            ]
        )
    print("\n".join(markdown_table(["l2", "shown %", "hidden %", "shown - hidden"], rows)))
    return 0


if __name__ == "__main__":
    run_cli(main)
