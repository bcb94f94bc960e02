"""A subset curated for a model by the paper's own rule: keep the tasks that some test-time
training configuration solves, so that the reward can fire and a policy has something to find.

Every task of a pool (held out of the model's pretraining) is trained on and answered under
every configuration of a grid — the self-edit space (augmentation families x loss x learning
rate x epochs), or a seeded sample of it. Each (task, configuration) pair is a job of the
stage ``grid``, recorded in the run directory's ``records.jsonl`` as it completes (synced; a
damaged line is set aside and its pair judged again), so an interrupted curation resumes. The
tasks some configuration solves are split, seeded, into train and eval halves and written as a
subset file that also carries the grid: which configurations solve which task. A run on that subset
then shows two more rows, read from the grid: the best fixed configuration (the one that
solves the most train tasks, applied to every eval task) and the grid oracle (an eval task
counts if any configuration solves it: the ceiling for any policy).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from arc_seal.augment import FAMILIES
from arc_seal.evaluate import RowSummary
from arc_seal.grid import Task
from arc_seal.jobs import Job, Stages
from arc_seal.records import JobRecord, Stage
from arc_seal.self_edit import STRATEGIES, SelfEdit, SelfEditSpace

# Synthetic curation pools are drawn from here on, away from the sanity check's seeds.
CURATION_SEED = 54321


def configurations(space: SelfEditSpace, size: int | None = None, seed: int = 0) -> list[SelfEdit]:
    """Every self-edit of ``space`` (families x loss x learning rate x epochs), or a seeded
    sample of ``size`` of them."""
    every = [
        SelfEdit(*flags, strategy, lr, epochs)
        for flags in itertools.product((True, False), repeat=len(FAMILIES))
        for strategy in STRATEGIES
        for lr in space.learning_rates
        for epochs in space.epochs
    ]
    if size is None or size >= len(every):
        return every
    picked = np.random.default_rng(seed).choice(len(every), size, replace=False)
    return [every[i] for i in sorted(picked.tolist())]


def run_grid(
    stages: Stages,
    tasks: list[Task],
    configs: list[SelfEdit],
    judge: Callable[[Job, SelfEdit], JobRecord],
) -> dict[str, list[bool]]:
    """``judge(job, configuration)`` for every (task, configuration) pair the run directory
    has not recorded: stage ``grid``, the job's sample the configuration's index, the
    configuration stored in the record as its self-edit. Returns task id -> solved per
    configuration (a failed job solves nothing)."""

    def graded(job: Job) -> JobRecord:
        return replace(judge(job, configs[job.sample]), self_edit=configs[job.sample])

    records = stages.run(Stage.GRID, 0, tasks, len(configs), graded)
    n = len(configs)
    return {
        t.id: [bool(r.solved) for r in records[i * n : (i + 1) * n]] for i, t in enumerate(tasks)
    }


def split(
    solved: dict[str, list[bool]], eval_fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """The tasks some configuration solves, shuffled with ``seed``, into (train, eval)."""
    kept = sorted(t for t, row in solved.items() if any(row))
    order = [kept[i] for i in np.random.default_rng(seed).permutation(len(kept))]
    n_eval = round(eval_fraction * len(order))
    return sorted(order[n_eval:]), sorted(order[:n_eval])


def subset_spec(
    dataset: str,
    solved: dict[str, list[bool]],
    configs: list[SelfEdit],
    eval_fraction: float = 0.5,
    seed: int = 0,
) -> dict:
    """A subset file's content, the grid included."""
    train, eval_ = split(solved, eval_fraction, seed)
    return {
        "dataset": dataset,
        "train": train,
        "eval": eval_,
        "grid": {
            "configurations": [c.to_json() for c in configs],
            "solved": {t: [i for i, ok in enumerate(row) if ok] for t, row in solved.items()},
            "split_seed": seed,
        },
    }


def write_subset(target: Path, spec: dict, pool: list[Task] | None = None) -> None:
    """Write the subset file. A generated ``pool`` exists nowhere else, so its kept tasks are
    written too, as task files in the folder ``spec["dataset"]`` beside the subset file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if pool is not None:
        folder = target.parent / spec["dataset"]
        folder.mkdir(exist_ok=True)
        kept = set(spec["train"]) | set(spec["eval"])
        for task in pool:
            if task.id in kept:
                (folder / f"{task.id}.json").write_text(json.dumps(task.to_json()))
    target.write_text(json.dumps(spec, indent=1))


def grid_rows(grid: dict, train: list[str], eval_: list[str]) -> dict[str, RowSummary]:
    """The two rows a grid gives without running anything: ``best_fixed`` and
    ``grid_oracle``, on the eval tasks, shaped like the other rows."""
    solves = {t: set(grid["solved"].get(t, [])) for t in (*train, *eval_)}
    n = len(grid["configurations"])
    train_counts = [sum(i in solves[t] for t in train) for i in range(n)]
    best = max(range(n), key=lambda i: (train_counts[i], -i)) if n else None
    per_task = {
        "best_fixed": {t: [best in solves[t]] for t in eval_},
        "grid_oracle": {t: [bool(solves[t])] for t in eval_},
    }
    rows = {}
    for name, outcomes in per_task.items():
        correct = sum(v[0] for v in outcomes.values())
        rows[name] = RowSummary(
            jobs=len(eval_),
            failed=0,
            failures={},
            scored=True,
            accuracy=correct / len(eval_) if eval_ else None,
            correct=correct,
            total=len(eval_),
            per_task=outcomes,
        )
    rows["best_fixed"].configuration = grid["configurations"][best] if n else None
    return rows
