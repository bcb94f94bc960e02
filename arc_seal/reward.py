"""The reward without training: a curated grid read as a table of verdicts, the exact accuracy a
policy's choice probabilities earn on it, and the paired bootstrap that says how sure a
difference between two rows is.

A grid (``arc_seal.curate``) holds, for every (task, configuration) pair it tried, whether TTT
under that configuration solved the task, under each of the pair's TTT seeds
(``pair_seeds``), and the settings it was computed under. Since a pair's TTT is seeded by the
pair and the seed's index alone (``ttt_seed: task``), a run under the same settings would get
the same verdict by training, so it may read it instead (``reward_source: grid``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arc_seal.self_edit import SelfEdit, SelfEditSpace, self_edit_from_json


@dataclass(frozen=True)
class RewardTable:
    """A grid's verdicts: ``verdicts[task][i, s]`` whether configuration ``configurations[i]``
    solved the task under the pair's TTT seed ``s`` (``pair_seeds`` of them)."""

    configurations: tuple[SelfEdit, ...]
    verdicts: dict[str, np.ndarray]
    """Task id -> verdicts, one per configuration, or one row of per-seed verdicts each."""
    settings: dict | None

    def __post_init__(self) -> None:
        n = len(self.configurations)
        shaped = {t: np.asarray(v, dtype=bool).reshape(n, -1) for t, v in self.verdicts.items()}
        object.__setattr__(self, "verdicts", shaped)

    @classmethod
    def from_grid(cls, grid: dict) -> RewardTable:
        """The table a subset file's ``grid`` holds: ``solved`` maps a task to the indices of
        the configurations that solve it, or, in a grid of several seeds per pair
        (``pair_seeds``), to one such list per seed."""
        configs = tuple(self_edit_from_json(c) for c in grid["configurations"])
        seeds = grid.get("pair_seeds", 1)
        verdicts = {}
        for t, hits in grid["solved"].items():
            per_seed = hits if seeds > 1 else [hits]
            verdicts[t] = [[i in set(h) for h in per_seed] for i in range(len(configs))]
        return cls(configs, verdicts, grid.get("settings"))

    @property
    def space(self) -> SelfEditSpace:
        return SelfEditSpace(self.configurations)

    @property
    def pair_seeds(self) -> int:
        return next(iter(self.verdicts.values())).shape[1] if self.verdicts else 1

    def verdict(self, task_id: str, edit: SelfEdit, seed: int = 0) -> bool | None:
        """Whether ``edit`` solves the task under the pair's TTT seed ``seed``, or None when
        the grid did not try the pair."""
        if task_id not in self.verdicts or edit not in self.configurations:
            return None
        return bool(self.verdicts[task_id][self.configurations.index(edit), seed])

    def row(self, task_id: str) -> np.ndarray:
        """The task's solve rate per configuration, over the pair seeds."""
        return self.verdicts[task_id].mean(axis=1)


def expected_accuracy(probabilities: dict[str, np.ndarray], table: RewardTable) -> dict[str, float]:
    """Per task, sum over configurations of p(configuration | task) x the pair's solve rate:
    the accuracy a policy's sampled row has in expectation, without its sampling noise (of
    the policy's choice and of the TTT seed)."""
    return {t: float(np.dot(p, table.row(t))) for t, p in probabilities.items()}


def paired_bootstrap(
    a: dict[str, float], b: dict[str, float], resamples: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``a - b`` over the tasks both score, and a 95% percentile interval from
    resampling the tasks with replacement (the same tasks for both rows: paired)."""
    tasks = sorted(set(a) & set(b))
    if not tasks:
        raise ValueError("the two rows share no task")
    diff = np.array([a[t] - b[t] for t in tasks])
    picks = np.random.default_rng(seed).integers(len(diff), size=(resamples, len(diff)))
    means = diff[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)


def paired_bootstrap_runs(
    a: list[dict[str, float]], b: list[dict[str, float]], resamples: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """Like ``paired_bootstrap`` over tasks and runs together: ``a[s][t]`` and ``b[s][t]`` are
    two rows' scores on task ``t`` in run ``s`` (run ``s`` of both rows shares its RL seed).
    Each resample draws the runs and the tasks with replacement, so the interval holds the
    spread between RL seeds as well as between tasks."""
    if len(a) != len(b) or not a:
        raise ValueError("the two rows need the same runs, at least one")
    tasks = sorted(set.intersection(*(set(x) for x in a + b)))
    if not tasks:
        raise ValueError("the two rows share no task")
    diff = np.array([[x[t] - y[t] for t in tasks] for x, y in zip(a, b, strict=True)])
    rng = np.random.default_rng(seed)
    runs = rng.integers(len(a), size=(resamples, len(a)))
    picks = rng.integers(len(tasks), size=(resamples, len(tasks)))
    means = np.array([diff[r][:, p].mean() for r, p in zip(runs, picks, strict=True)])
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)
