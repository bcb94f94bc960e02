"""Synthetic ARC-style tasks with known rules, generated from a seed.

They let tests (and extra training data) exercise every step on tasks whose answer is known
and whose difficulty is set by grid size and number of demonstrations.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from arc_seal.augment import D8, colour_permutation, mirror, tile, upscale
from arc_seal.grid import MAX_SIDE, NUM_COLOURS, Example, Grid, Task

GridRule = Callable[[Grid], Grid]


def _gravity(grid: Grid) -> Grid:
    """Coloured cells fall to the bottom of their column, keeping their order."""
    out = np.zeros_like(grid)
    for c in range(grid.shape[1]):
        column = grid[:, c][grid[:, c] != 0]
        if column.size:
            out[-column.size :, c] = column
    return out


def _colour_map(rng: np.random.Generator) -> GridRule:
    perm = [0, *(rng.permutation(NUM_COLOURS - 1) + 1).tolist()]
    return colour_permutation(perm)


_SHAPES = [(1, 2), (2, 1), (2, 2)]

# Rule name -> how to draw one task's rule (a rule may have per-task parameters).
RULES: dict[str, Callable[[np.random.Generator], GridRule]] = {
    **{t.name: (lambda rng, t=t: t) for t in D8},
    "colour_map": _colour_map,
    "upscale": lambda rng: upscale(*[int(rng.integers(2, 4))] * 2),
    "tile": lambda rng: tile(*_SHAPES[rng.integers(len(_SHAPES))]),
    "mirror": lambda rng: mirror(int(rng.integers(2)), bool(rng.integers(2))),
    "gravity": lambda rng: _gravity,
}


def random_grid(rng: np.random.Generator, min_side: int, max_side: int) -> Grid:
    """A grid on background 0 with a random sprinkle of two to four other colours."""
    h, w = rng.integers(min_side, max_side + 1, size=2)
    palette = rng.choice(np.arange(1, NUM_COLOURS), size=int(rng.integers(2, 5)), replace=False)
    cells = rng.choice(palette, size=(h, w))
    return np.where(rng.random((h, w)) < rng.uniform(0.2, 0.6), cells, 0).astype(np.int8)


def make_task(
    rule: str,
    rng: np.random.Generator,
    n_train: int = 3,
    n_test: int = 1,
    min_side: int = 3,
    max_side: int = 8,
    task_id: str | None = None,
) -> Task:
    """One task following ``rule`` (a key of ``RULES``); grids whose output would exceed
    30x30 are redrawn smaller."""
    if rule not in RULES:
        raise ValueError(f"unknown synthetic rule {rule!r}; known: {', '.join(RULES)}")
    if not 1 <= min_side <= max_side <= MAX_SIDE:
        raise ValueError(f"need 1 <= min_side <= max_side <= 30, got {min_side}, {max_side}")
    fn = RULES[rule](rng)
    examples = []
    while len(examples) < n_train + n_test:
        hi = max_side
        while True:
            grid = random_grid(rng, min(min_side, hi), hi)
            out = np.ascontiguousarray(fn(grid))
            if max(out.shape) <= MAX_SIDE:
                break
            hi = max(1, hi // 2)
        examples.append(Example(grid, out))
    return Task(task_id or f"synthetic-{rule}", examples[:n_train], examples[n_train:], "synthetic")


def generate_tasks(n: int, seed: int = 0, rules: list[str] | None = None, **kwargs) -> list[Task]:
    """``n`` tasks cycling through ``rules`` (all by default); ``kwargs`` go to ``make_task``."""
    rng = np.random.default_rng(seed)
    names = rules or list(RULES)
    return [
        make_task(
            names[i % len(names)],
            rng,
            task_id=f"synthetic-{i:04d}-{names[i % len(names)]}",
            **kwargs,
        )
        for i in range(n)
    ]
