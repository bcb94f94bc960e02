"""Synthetic ARC-style tasks with known rules, generated from a seed.

They let tests (and extra training data) exercise every step on tasks whose answer is known
and whose difficulty is set by grid size and number of demonstrations. Besides whole-grid
transforms there are object-level rules (recolour the largest object, fill enclosed regions,
draw lines from points, crop to an object, complete a symmetry, move objects, count cells),
each with its own way of drawing inputs on which the rule has something to do.
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


def _objects(grid: Grid) -> list[np.ndarray]:
    """Boolean masks of the 4-connected groups of same-coloured non-zero cells."""
    seen = np.zeros(grid.shape, dtype=bool)
    masks = []
    h, w = grid.shape
    for start in zip(*np.nonzero(grid), strict=True):
        if seen[start]:
            continue
        mask = np.zeros(grid.shape, dtype=bool)
        stack = [start]
        seen[start] = True
        while stack:
            y, x = stack.pop()
            mask[y, x] = True
            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= ny < h and 0 <= nx < w and not seen[ny, nx] and grid[ny, nx] == grid[y, x]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        masks.append(mask)
    return masks


def recolour_largest(colour: int) -> GridRule:
    """Every object of the largest size takes ``colour``."""

    def rule(grid: Grid) -> Grid:
        masks = _objects(grid)
        out = grid.copy()
        if masks:
            largest = max(int(m.sum()) for m in masks)
            for m in masks:
                if m.sum() == largest:
                    out[m] = colour
        return out

    return rule


def fill_enclosed(colour: int) -> GridRule:
    """Background cells that cannot reach the border through background take ``colour``."""

    def rule(grid: Grid) -> Grid:
        padded = np.pad(grid, 1)
        outside = np.zeros(padded.shape, dtype=bool)
        stack = [(0, 0)]
        outside[0, 0] = True
        while stack:
            y, x = stack.pop()
            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                inside = 0 <= ny < padded.shape[0] and 0 <= nx < padded.shape[1]
                if inside and not outside[ny, nx] and padded[ny, nx] == 0:
                    outside[ny, nx] = True
                    stack.append((ny, nx))
        enclosed = (padded == 0) & ~outside
        return np.where(enclosed[1:-1, 1:-1], colour, grid).astype(np.int8)

    return rule


def lines(axis: int, step: int) -> GridRule:
    """Each coloured cell extends a line of its colour to the border, along ``axis`` in the
    direction ``step`` (+1 or -1)."""

    def rule(grid: Grid) -> Grid:
        view = np.moveaxis(grid.copy(), axis, 0)[::step]  # lines run down the first axis
        for i in range(1, view.shape[0]):
            view[i] = np.where(view[i] == 0, view[i - 1], view[i])
        return np.ascontiguousarray(np.moveaxis(view[::step], 0, axis))

    return rule


def crop(grid: Grid) -> Grid:
    """The bounding box of the coloured cells."""
    ys, xs = np.nonzero(grid)
    return grid[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def move(dy: int, dx: int) -> GridRule:
    """Everything moves by (``dy``, ``dx``); what leaves the grid is lost."""

    def rule(grid: Grid) -> Grid:
        out = np.zeros_like(grid)
        h, w = grid.shape
        src = grid[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
        out[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
        return out

    return rule


def count(grid: Grid) -> Grid:
    """A single row, one cell per coloured cell of the input, in the input's colour."""
    values = grid[grid != 0]
    return np.full((1, max(1, values.size)), values[0] if values.size else 0, dtype=np.int8)


MASK = 5  # the colour that hides part of a symmetric grid


def unmask(grid: Grid) -> Grid:
    """Masked cells take the colour of their mirror image across the vertical axis."""
    return np.where(grid == MASK, np.flip(grid, 1), grid).astype(np.int8)


_SHAPES = [(1, 2), (2, 1), (2, 2)]

# Rule name -> how to draw one task's rule (a rule may have per-task parameters).
RULES: dict[str, Callable[[np.random.Generator], GridRule]] = {
    **{t.name: (lambda rng, t=t: t) for t in D8},
    "colour_map": _colour_map,
    "upscale": lambda rng: upscale(*[int(rng.integers(2, 4))] * 2),
    "tile": lambda rng: tile(*_SHAPES[rng.integers(len(_SHAPES))]),
    "mirror": lambda rng: mirror(int(rng.integers(2)), bool(rng.integers(2))),
    "gravity": lambda rng: _gravity,
    "recolour_largest": lambda rng: recolour_largest(int(rng.integers(1, NUM_COLOURS))),
    "fill_enclosed": lambda rng: fill_enclosed(int(rng.integers(1, NUM_COLOURS))),
    "lines": lambda rng: lines(int(rng.integers(2)), int(rng.choice([-1, 1]))),
    "crop": lambda rng: crop,
    "move": lambda rng: move(*(int(v) for v in rng.integers(-2, 3, size=2))),
    "count": lambda rng: count,
    "symmetry": lambda rng: unmask,
}


def _boxes(rng: np.random.Generator, h: int, w: int) -> Grid:
    """Hollow rectangles on background: fill_enclosed has insides to fill."""
    grid = np.zeros((h, w), dtype=np.int8)
    for _ in range(int(rng.integers(1, 4))):
        bh, bw = int(rng.integers(3, max(4, h + 1))), int(rng.integers(3, max(4, w + 1)))
        if bh > h or bw > w:
            continue
        y, x = int(rng.integers(h - bh + 1)), int(rng.integers(w - bw + 1))
        box = grid[y : y + bh, x : x + bw]
        colour = int(rng.integers(1, NUM_COLOURS))
        box[[0, -1], :] = colour
        box[:, [0, -1]] = colour
    return grid


def _sparse(rng: np.random.Generator, h: int, w: int) -> Grid:
    """A few single coloured cells."""
    grid = np.zeros((h, w), dtype=np.int8)
    n = int(rng.integers(1, min(5, h * w) + 1))
    cells = rng.choice(h * w, size=n, replace=False)
    grid.flat[cells] = rng.integers(1, NUM_COLOURS, size=n)
    return grid


def _blob(rng: np.random.Generator, h: int, w: int) -> Grid:
    """One patch of random cells somewhere on background (never empty)."""
    grid = np.zeros((h, w), dtype=np.int8)
    bh, bw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
    y, x = int(rng.integers(h - bh + 1)), int(rng.integers(w - bw + 1))
    patch = rng.integers(1, NUM_COLOURS, size=(bh, bw)) * (rng.random((bh, bw)) < 0.7)
    patch.flat[int(rng.integers(patch.size))] = int(rng.integers(1, NUM_COLOURS))
    grid[y : y + bh, x : x + bw] = patch
    return grid


def _one_colour(rng: np.random.Generator, h: int, w: int) -> Grid:
    """Up to nine cells of one colour."""
    grid = np.zeros((h, w), dtype=np.int8)
    n = int(rng.integers(1, min(9, h * w) + 1))
    grid.flat[rng.choice(h * w, size=n, replace=False)] = int(rng.integers(1, NUM_COLOURS))
    return grid


def _masked_symmetric(rng: np.random.Generator, h: int, w: int) -> Grid:
    """A left-right symmetric grid (colours other than ``MASK``) with one patch masked."""
    palette = [c for c in range(1, NUM_COLOURS) if c != MASK]
    half = rng.choice([0, *palette], size=(h, (w + 1) // 2)).astype(np.int8)
    grid = np.concatenate([half, np.flip(half, 1)[:, w % 2 :]], axis=1)
    mh, mw = int(rng.integers(1, h // 2 + 2)), int(rng.integers(1, w // 2 + 1))
    y, x = int(rng.integers(h - mh + 1)), int(rng.integers(w // 2 - mw + 1))
    grid[y : y + mh, x : x + mw] = MASK
    return grid


# Inputs drawn to suit a rule; rules not named here take ``random_grid``.
INPUTS: dict[str, Callable[[np.random.Generator, int, int], Grid]] = {
    "fill_enclosed": _boxes,
    "lines": _sparse,
    "crop": _blob,
    "count": _one_colour,
    "symmetry": _masked_symmetric,
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
    draw = INPUTS.get(rule)
    while len(examples) < n_train + n_test:
        hi = max_side
        while True:
            if draw is None:
                grid = random_grid(rng, min(min_side, hi), hi)
            else:
                h, w = rng.integers(max(2, min(min_side, hi)), max(2, hi) + 1, size=2)
                grid = draw(rng, int(h), int(w))
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


def family(task_id: str) -> str:
    """The synthetic family of a sanity task (``sanity_tasks`` names them ``family-n``)."""
    return task_id.rsplit("-", 1)[0]
