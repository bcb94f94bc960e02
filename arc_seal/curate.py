"""A subset curated for a model by the paper's own rule: keep the tasks that some test-time
training configuration solves, so that the reward can fire and a policy has something to find.

Every task of a pool (held out of the model's pretraining) is trained on and answered under
every configuration of a grid — the self-edit space (augmentation families x loss x learning
rate x epochs), or a seeded sample of it. Each (task, configuration) verdict is appended to
``grid.jsonl`` as it completes (synced, like a run's records; a damaged line is set aside and
its pair judged again), so an interrupted curation resumes. The tasks some
configuration solves are split, seeded, into train and eval halves and written as a subset
file that also carries the grid: which configurations solve which task. A run on that subset
then shows two more rows, read from the grid: the best fixed configuration (the one that
solves the most train tasks, applied to every eval task) and the grid oracle (an eval task
counts if any configuration solves it: the ceiling for any policy).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from arc_seal.augment import FAMILIES
from arc_seal.errors import ConfigError
from arc_seal.grid import Task
from arc_seal.records import append_line, read_lines
from arc_seal.self_edit import STRATEGIES, SelfEdit, SelfEditSpace

GRID = "grid.jsonl"
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
    tasks: list[Task],
    configs: list[SelfEdit],
    judge: Callable[[Task, SelfEdit], dict],
    out_dir: Path,
    settings: dict | None = None,
) -> dict[str, list[bool]]:
    """``judge(task, config)`` (a dict with ``solved``) for every pair not yet in
    ``out_dir/grid.jsonl``; each verdict appended as it completes. ``settings`` (the model, TTT
    and prediction settings the judge applies) are part of each verdict's key, so a resumed
    curation under other settings is refused. Returns task id -> solved per configuration."""
    path = Path(out_dir) / GRID
    done = {(row["task"], row["config"]): row for row in read_lines(path, _grid_row)}
    keys = {t.id: _digest(t.to_json()) for t in tasks}
    config_keys = [_digest({"self_edit": c.to_json(), **(settings or {})}) for c in configs]
    for (task_id, i), row in done.items():
        # a verdict is reused only for the very task and configuration it judged
        if (
            task_id in keys
            and i < len(configs)
            and row.get("keys") != [keys[task_id], config_keys[i]]
        ):
            raise ConfigError(
                f"{path}: task {task_id!r} or configuration {i} differs from the one graded "
                "there (another pool, --size, --seed or setting?); curate into a new --out"
            )
    todo = [(t, i) for t in tasks for i in range(len(configs)) if (t.id, i) not in done]
    for task, i in tqdm(todo, desc="curation", unit="run"):
        start = time.perf_counter()
        verdict = judge(task, configs[i])
        row = {"task": task.id, "config": i, "keys": [keys[task.id], config_keys[i]], **verdict}
        row["seconds"] = round(time.perf_counter() - start, 2)
        append_line(path, json.dumps(row))
        done[(task.id, i)] = row
    return {t.id: [bool(done[(t.id, i)]["solved"]) for i in range(len(configs))] for t in tasks}


def _grid_row(line: str) -> dict:
    row = json.loads(line)
    if not (
        isinstance(row, dict)
        and isinstance(row.get("task"), str)
        and isinstance(row.get("config"), int)
        and "solved" in row
    ):
        raise ValueError("not a grid row (task, config, solved)")
    return row


def _digest(value: dict) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


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


def grid_rows(grid: dict, train: list[str], eval_: list[str]) -> dict[str, dict]:
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
        rows[name] = {
            "jobs": len(eval_),
            "failed": 0,
            "failures": {},
            "scored": True,
            "accuracy": correct / len(eval_) if eval_ else None,
            "correct": correct,
            "total": len(eval_),
            "per_task": outcomes,
            "cell_accuracy": None,
            "trivial_cell_accuracy": None,
            "shape_accuracy": None,
            "truth_in_candidates": None,
            "per_task_cells": {},
        }
    rows["best_fixed"]["configuration"] = grid["configurations"][best] if n else None
    return rows
