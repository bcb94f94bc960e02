"""Grid transforms, the reference's augmentation families, and colour/order permutations.

A ``Transform`` maps a grid to a grid and, where one exists, back. Applied to a task it acts
on every input and output alike, so the task's rule is carried over to the new view. The four
families mirror the reference's self-edit options (basic 11, size 3, chain 6, repeat 3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from arc_seal.grid import MAX_SIDE, NUM_COLOURS, Example, Grid, Task

FAMILIES = ("basic", "size", "chain", "repeat")


@dataclass(frozen=True)
class Transform:
    """A named grid map with its inverse, when it has one (``backward is None`` otherwise)."""

    name: str
    forward: Callable[[Grid], Grid]
    backward: Callable[[Grid], Grid] | None = None

    def __call__(self, grid: Grid) -> Grid:
        return np.ascontiguousarray(self.forward(grid))

    @property
    def invertible(self) -> bool:
        return self.backward is not None

    def invert(self, grid: Grid) -> Grid:
        """Map a grid from the transformed view back; used on predictions made in that view."""
        if self.backward is None:
            raise ValueError(f"transform {self.name!r} has no inverse")
        return np.ascontiguousarray(self.backward(grid))


def compose(*transforms: Transform) -> Transform:
    """Apply ``transforms`` left to right; invertible when each of them is."""

    def forward(g: Grid) -> Grid:
        for t in transforms:
            g = t.forward(g)
        return g

    def backward(g: Grid) -> Grid:
        for t in reversed(transforms):
            g = t.backward(g)
        return g

    invertible = all(t.invertible for t in transforms)
    return Transform(
        "+".join(t.name for t in transforms), forward, backward if invertible else None
    )


IDENTITY = Transform("identity", lambda g: g, lambda g: g)
# Rotations are counter-clockwise, as numpy.rot90.
ROT90 = Transform("rot90", lambda g: np.rot90(g, 1), lambda g: np.rot90(g, -1))
ROT180 = Transform("rot180", lambda g: np.rot90(g, 2), lambda g: np.rot90(g, 2))
ROT270 = Transform("rot270", lambda g: np.rot90(g, 3), lambda g: np.rot90(g, -3))
FLIP_UD = Transform("flip_ud", np.flipud, np.flipud)
FLIP_LR = Transform("flip_lr", np.fliplr, np.fliplr)
TRANSPOSE = Transform("transpose", np.transpose, np.transpose)
ANTI_TRANSPOSE = Transform("anti_transpose", lambda g: np.rot90(g, 2).T, lambda g: np.rot90(g.T, 2))
D8 = (IDENTITY, ROT90, ROT180, ROT270, FLIP_UD, FLIP_LR, TRANSPOSE, ANTI_TRANSPOSE)


def mirror(axis: int, before: bool) -> Transform:
    """The grid concatenated with its mirror image along ``axis``, before or after it."""
    side = ("up", "left")[axis] if before else ("down", "right")[axis]

    def forward(g: Grid) -> Grid:
        m = np.flip(g, axis)
        return np.concatenate([m, g] if before else [g, m], axis=axis)

    return Transform(f"mirror_{side}", forward)


def translate(dy: int, dx: int) -> Transform:
    """Cyclic shift by ``dy`` rows and ``dx`` columns."""
    return Transform(
        f"translate_{dy}_{dx}",
        lambda g: np.roll(g, (dy, dx), axis=(0, 1)),
        lambda g: np.roll(g, (-dy, -dx), axis=(0, 1)),
    )


def upscale(fy: int, fx: int) -> Transform:
    """Each cell becomes an ``fy`` x ``fx`` block."""
    return Transform(f"upscale_{fy}x{fx}", lambda g: np.repeat(np.repeat(g, fy, 0), fx, 1))


def tile(ry: int, rx: int) -> Transform:
    """The grid repeated ``ry`` times down and ``rx`` times across."""
    return Transform(f"tile_{ry}x{rx}", lambda g: np.tile(g, (ry, rx)))


def colour_permutation(perm: Sequence[int]) -> Transform:
    """Recolour cell value ``c`` as ``perm[c]``; ``perm`` is a permutation of 0..9."""
    fwd = np.asarray(perm, dtype=np.int8)
    if sorted(fwd.tolist()) != list(range(NUM_COLOURS)):
        raise ValueError(f"not a permutation of 0..9: {list(perm)}")
    inv = np.argsort(fwd).astype(np.int8)
    return Transform("colours_" + "".join(map(str, fwd.tolist())), fwd.__getitem__, inv.__getitem__)


def random_colour_permutation(rng: np.random.Generator, keep_zero: bool = True) -> Transform:
    """A random recolouring; colour 0 (usually background) stays put unless ``keep_zero=False``."""
    if keep_zero:
        return colour_permutation([0, *(rng.permutation(NUM_COLOURS - 1) + 1).tolist()])
    return colour_permutation(rng.permutation(NUM_COLOURS).tolist())


def family_transforms(family: str, rng: np.random.Generator) -> list[Transform]:
    """The transforms of one reference family; ``rng`` draws the random translate's shift."""
    if family == "basic":
        shift = int(rng.integers(1, 16))  # a (dy, dx) in 0..3 x 0..3 other than (0, 0)
        mirrors = [mirror(axis, before) for axis in (0, 1) for before in (True, False)]
        rotations_flips = [ROT90, ROT180, ROT270, FLIP_UD, FLIP_LR]
        return [*rotations_flips, *mirrors, translate(shift // 4, shift % 4), TRANSPOSE]
    if family == "size":
        return [upscale(2, 2), upscale(2, 1), upscale(1, 2)]
    if family == "chain":
        up = upscale(2, 2)
        return [compose(t, up) for t in (ROT90, ROT180, ROT270, FLIP_UD, FLIP_LR, TRANSPOSE)]
    if family == "repeat":
        return [tile(2, 1), tile(1, 2), tile(2, 2)]
    raise ValueError(f"unknown augmentation family {family!r}; known: {', '.join(FAMILIES)}")


def _fits(grid: Grid | None) -> bool:
    return grid is None or max(grid.shape) <= MAX_SIDE


def transform_task(task: Task, transform: Transform) -> Task | None:
    """The task seen through ``transform`` (inputs and outputs alike); None if a grid would
    outgrow 30x30, since clipping would change the task's rule."""
    examples = []
    for part in (task.train, task.test):
        new = [
            Example(transform(e.input), None if e.output is None else transform(e.output))
            for e in part
        ]
        if not all(_fits(e.input) and _fits(e.output) for e in new):
            return None
        examples.append(new)
    return replace(task, train=examples[0], test=examples[1])


def permute_examples(task: Task, rng: np.random.Generator) -> Task:
    """The task with its demonstrations in a random order."""
    return replace(task, train=[task.train[i] for i in rng.permutation(len(task.train))])
