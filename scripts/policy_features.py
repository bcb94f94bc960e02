"""Does the policy's view of a task tell families apart? (docs/policy.md)

    python scripts/policy_features.py seal-effect

The configuration head (``policy: head``) can only choose per family if the model's hidden
state at the end of the self-edit prompt differs between families. This reads that state for
every task of a subset (with the demonstrations shown, and hidden as SEAL-blind sees them) and
prints how often a task's nearest family centroid, computed without the task, is its own
family, beside chance (the largest family's share).
"""

from __future__ import annotations

import argparse

import numpy as np

from arc_seal.config import RunConfig
from arc_seal.data import load_subset
from arc_seal.launch import run_cli
from arc_seal.policy import shown_task
from arc_seal.policy_head import family_separation, prompt_features
from arc_seal.synthetic import family
from arc_seal.ttt import load_engine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("subset", help="a subset of synthetic tasks (ids family-n)")
    parser.add_argument("--model", help="HF model id or local directory; unset: embedded model")
    args = parser.parse_args()
    subset = load_subset(args.subset)
    tasks = subset.train + subset.eval
    engine = load_engine(RunConfig(model=args.model, wandb="disabled"), "cpu")
    sizes = np.unique([family(t.id) for t in tasks], return_counts=True)[1]
    print(
        f"{len(tasks)} tasks of {len(sizes)} families; chance (the largest family's share) "
        f"{100 * sizes.max() / len(tasks):.0f}%"
    )
    with engine.base_model():
        for blind in (False, True):
            features = prompt_features(
                engine.model, engine.encoder, [shown_task(t, blind) for t in tasks]
            )
            name = "demonstrations hidden (SEAL-blind)" if blind else "demonstrations shown"
            print(
                f"{name}: nearest family centroid right for "
                f"{100 * family_separation(features):.0f}% of tasks"
            )
    return 0


if __name__ == "__main__":
    run_cli(main)
