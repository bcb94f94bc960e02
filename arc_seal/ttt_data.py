"""Test-time training data: leave-out tasks built from a task's demonstrations, augmented.

Only ``task.train`` is read: the test pair never reaches training data. Each returned ``Task``
is one training sequence: its ``train`` list is the context, its single ``test`` example the
query whose output the model learns to write.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from arc_seal.augment import (
    IDENTITY,
    family_transforms,
    permute_examples,
    random_colour_permutation,
    transform_task,
)
from arc_seal.grid import Task, grid_key


def leave_out_tasks(task: Task, max_left_out: int = 2) -> list[Task]:
    """Leave-k tasks for k = 1..max_left_out, always keeping at least one context example.

    For each set of k demonstrations held out of the context, each of them in turn is the
    query; so leave-1 gives n tasks and leave-2 gives n(n-1) for n demonstrations.
    """
    n = len(task.train)
    out = []
    for k in range(1, min(max_left_out, n - 1) + 1):
        for held in combinations(range(n), k):
            context = [task.train[j] for j in range(n) if j not in held]
            out.extend(Task(task.id, context, [task.train[q]], task.source) for q in held)
    return out


def _key(task: Task) -> bytes:
    parts = []
    for ex in (*task.train, *task.test):
        for g in (ex.input, ex.output):
            parts.append(grid_key(g))
    return b"|".join(parts)


PERMUTED_COPIES = ("base", "all")


def build_ttt_data(
    task: Task,
    families: Sequence[str],
    cap: int = 250,
    seed: int = 0,
    max_left_out: int = 2,
    permuted_copies: str = "base",
    colour_copies: int = 0,
) -> list[Task]:
    """Leave-out tasks expanded by the chosen augmentation families, de-duplicated, shuffled
    and capped at ``cap``.

    Permuted copies, ``"base"``: when any family is chosen, each leave-out task also gets one
    copy under a random recolouring (colour 0 kept) and one under a random demonstration
    order. ``"all"`` (the reference): every task, augmented ones included, gets one copy under
    a random demonstration order combined, when any family is chosen, with a random
    recolouring; so the set doubles, and is reordered even with no family.

    ``colour_copies``: whatever the families, each leave-out task also gets that many copies,
    each under its own random recolouring (colour 0 kept) and demonstration order. A rotation
    or flip turns some rules into others (an anti-transpose seen rotated is a transpose); a
    recolouring keeps every rule that does not name a colour, so these copies add data without
    teaching a different rule. Seeded: the same arguments give the same list.
    """
    if colour_copies < 0:
        raise ValueError(f"colour_copies must be at least 0, got {colour_copies}")
    if permuted_copies not in PERMUTED_COPIES:
        raise ValueError(
            f"permuted_copies must be one of {PERMUTED_COPIES}, got {permuted_copies!r}"
        )
    rng = np.random.default_rng(seed)
    transforms = [IDENTITY, *(t for f in families for t in family_transforms(f, rng))]
    seen: set[bytes] = set()
    out: list[Task] = []

    def add(candidate: Task | None) -> None:
        if candidate is not None and (key := _key(candidate)) not in seen:
            seen.add(key)
            out.append(candidate)

    for base in leave_out_tasks(task, max_left_out):
        for t in transforms:
            add(transform_task(base, t))
        if families and permuted_copies == "base":
            add(transform_task(base, random_colour_permutation(rng)))
            add(permute_examples(base, rng))
        for _ in range(colour_copies):
            add(transform_task(permute_examples(base, rng), random_colour_permutation(rng)))
    if permuted_copies == "all":
        for augmented in list(out):
            copy = permute_examples(augmented, rng)
            add(transform_task(copy, random_colour_permutation(rng)) if families else copy)
    order = rng.permutation(len(out))
    return [out[i] for i in order[:cap]]
