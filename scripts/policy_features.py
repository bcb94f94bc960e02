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
from arc_seal.policy_head import ConfigurationHead, prompt_features
from arc_seal.synthetic import family
from arc_seal.ttt import load_engine


def nearest_centroid_accuracy(features: dict[str, np.ndarray]) -> float:
    """Leave-one-out: the share of tasks whose nearest family centroid (of the other tasks,
    features standardised as the head standardises them) is their own family's."""
    head = ConfigurationHead.uniform(1, features)
    x = {t: head.standardised(f) for t, f in features.items()}
    hits = []
    for t in x:
        others = {g: [x[u] for u in x if u != t and family(u) == g] for g in {family(u) for u in x}}
        centroids = {g: np.mean(v, axis=0) for g, v in others.items() if v}
        nearest = min(centroids, key=lambda g: (np.linalg.norm(x[t] - centroids[g]), g))
        hits.append(nearest == family(t))
    return float(np.mean(hits))


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
                f"{100 * nearest_centroid_accuracy(features):.0f}% of tasks"
            )
    return 0


if __name__ == "__main__":
    run_cli(main)
