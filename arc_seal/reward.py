"""The reward without training: a curated grid read as a table of verdicts, the exact accuracy a
policy's choice probabilities earn on it, and the paired bootstrap that says how sure a
difference between two rows is.

A grid (``arc_seal.curate``) holds, for every (task, configuration) pair it tried, whether TTT
under that configuration solved the task, and the settings it was computed under. Since a
pair's TTT is seeded by the pair alone (``ttt_seed: task``), a run under the same settings
would get the same verdict by training, so it may read it instead (``reward_source: grid``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arc_seal.self_edit import SelfEdit, SelfEditSpace, self_edit_from_json


@dataclass(frozen=True)
class RewardTable:
    """A grid's verdicts: ``solved[task][i]`` for configuration ``configurations[i]``."""

    configurations: tuple[SelfEdit, ...]
    solved: dict[str, tuple[bool, ...]]
    settings: dict | None

    @classmethod
    def from_grid(cls, grid: dict) -> RewardTable:
        """The table a subset file's ``grid`` holds."""
        configs = tuple(self_edit_from_json(c) for c in grid["configurations"])
        solved = {
            t: tuple(i in set(hits) for i in range(len(configs)))
            for t, hits in grid["solved"].items()
        }
        return cls(configs, solved, grid.get("settings"))

    @property
    def space(self) -> SelfEditSpace:
        return SelfEditSpace(self.configurations)

    def verdict(self, task_id: str, edit: SelfEdit) -> bool | None:
        """Whether ``edit`` solves the task, or None when the grid did not try the pair."""
        if task_id not in self.solved or edit not in self.configurations:
            return None
        return self.solved[task_id][self.configurations.index(edit)]

    def row(self, task_id: str) -> np.ndarray:
        return np.array(self.solved[task_id], dtype=float)


def expected_accuracy(probabilities: dict[str, np.ndarray], table: RewardTable) -> dict[str, float]:
    """Per task, sum over configurations of p(configuration | task) x solved(task,
    configuration): the accuracy a policy's sampled row has in expectation, without its
    sampling noise."""
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
