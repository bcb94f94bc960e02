"""ARC grids, examples and tasks, and the validation every loader goes through.

A grid is a 2-D ``numpy.int8`` array with sides 1..30 and cells 0..9. Loaders validate raw
JSON once, here, so that everything downstream can trust its input and a user with a broken
file gets one line naming the file, the task and the cell that is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from arc_seal.errors import TaskFormatError

MAX_SIDE = 30
NUM_COLOURS = 10

Grid = np.ndarray


@dataclass(frozen=True, eq=False)
class Example:
    """One input grid and its output grid; a test example's output may be unknown (None)."""

    input: Grid
    output: Grid | None = None


@dataclass(frozen=True, eq=False)
class Task:
    """An ARC task: demonstrations (``train``) and the inputs to solve (``test``)."""

    id: str
    train: list[Example]
    test: list[Example]
    source: str = field(default="", compare=False)

    def to_json(self) -> dict:
        """The task in ARC's JSON layout; unknown test outputs are left out."""

        def example(ex: Example) -> dict:
            out = {"input": ex.input.tolist()}
            if ex.output is not None:
                out["output"] = ex.output.tolist()
            return out

        return {"train": [example(e) for e in self.train], "test": [example(e) for e in self.test]}


def known_outputs(task: Task) -> bool:
    """Whether every test output is known: a task from a challenges file is answered, not
    scored."""
    return all(e.output is not None for e in task.test)


def grid_key(grid: Grid) -> bytes:
    """A hashable key for a grid's shape and cells: equal keys, equal grids."""
    return np.array(grid.shape, dtype=np.int8).tobytes() + np.ascontiguousarray(grid).tobytes()


def grids_equal(a: Grid | None, b: Grid | None) -> bool:
    """Exact equality of shape and cells; None equals only None."""
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(np.array_equal(a, b))


def as_grid(value: object, where: str) -> Grid:
    """Validate a nested list (or array) as an ARC grid; ``where`` prefixes any error."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, list):
        raise TaskFormatError(f"{where} is {type(value).__name__}, expected a list of rows")
    if not value:
        raise TaskFormatError(f"{where} is empty")
    if len(value) > MAX_SIDE:
        raise TaskFormatError(f"{where} has {len(value)} rows, at most {MAX_SIDE} allowed")
    width = None
    for r, row in enumerate(value):
        if not isinstance(row, list):
            raise TaskFormatError(f"{where} row {r} is {type(row).__name__}, expected a list")
        if width is None:
            width = len(row)
            if width == 0:
                raise TaskFormatError(f"{where} row 0 is empty")
            if width > MAX_SIDE:
                raise TaskFormatError(f"{where} has {width} columns, at most {MAX_SIDE} allowed")
        elif len(row) != width:
            raise TaskFormatError(f"{where} row {r} has {len(row)} cells, expected {width}")
        for c, cell in enumerate(row):
            if isinstance(cell, bool) or not isinstance(cell, (int, np.integer)):
                raise TaskFormatError(f"{where} row {r} col {c} is {cell!r}, expected 0..9")
            if not 0 <= cell < NUM_COLOURS:
                raise TaskFormatError(f"{where} row {r} col {c} is colour {cell}, expected 0..9")
    return np.array(value, dtype=np.int8)


def _examples(
    raw: object, where: str, *, need_output: bool, output: Sequence | None = None
) -> list[Example]:
    if not isinstance(raw, list):
        raise TaskFormatError(f"{where} is {type(raw).__name__}, expected a list of examples")
    examples = []
    for i, ex in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(ex, dict) or "input" not in ex:
            raise TaskFormatError(f"{at} has no 'input' grid")
        out = ex.get("output")
        if out is None and output is not None and i < len(output):
            out = output[i]
        if out is None and need_output:
            raise TaskFormatError(f"{at} has no 'output' grid")
        examples.append(
            Example(
                as_grid(ex["input"], f"{at}.input"),
                None if out is None else as_grid(out, f"{at}.output"),
            )
        )
    return examples


def check_task_id(task_id: object, where: str) -> None:
    """Task ids name files (pictures, records): a name, never a path. ``where`` names the file
    and the task."""
    if not isinstance(task_id, str) or not task_id.strip():
        raise TaskFormatError(f"{where}: a task id must be a non-empty name")
    bad = next((ch for ch in task_id if ch in "/\\" or not ch.isprintable()), None)
    if bad is not None or task_id.startswith(".") or len(task_id) > 200:
        raise TaskFormatError(
            f"{where} is not a plain name (no path separators, no leading '.', printable, at "
            "most 200 characters)"
        )


def task_from_json(
    raw: object, task_id: str, source: str, solutions: Sequence | None = None
) -> Task:
    """Build a validated Task from ARC JSON (``{"train": [...], "test": [...]}``).

    ``solutions`` supplies test outputs kept apart from the task (Kaggle solution files).
    """
    where = f"{source}: task {task_id!r}"
    check_task_id(task_id, where)
    if not isinstance(raw, dict):
        raise TaskFormatError(f"{where} is {type(raw).__name__}, expected an object")
    for key in ("train", "test"):
        if key not in raw:
            raise TaskFormatError(f"{where} has no {key!r} list")
    train = _examples(raw["train"], f"{where} train", need_output=True)
    test = _examples(raw["test"], f"{where} test", need_output=False, output=solutions)
    if not train:
        raise TaskFormatError(f"{where} has no demonstrations in 'train'")
    if not test:
        raise TaskFormatError(f"{where} has no test inputs in 'test'")
    return Task(task_id, train, test, source)
