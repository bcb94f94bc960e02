"""Choosing a configuration space on a design pool, before the experiment's pool is drawn.

A policy can only learn to read the task if the best configuration differs between families.
Whether it does is measured on a pool of its own (``arc-seal curate`` with candidate
configurations and several TTT seeds per pair): per family, the configuration best on the
family's other tasks, against the configuration best on all other tasks, each scored on the
held-out task (leave one task out, so neither choice has seen the task it is scored on). The
configurations kept are each family's best and the best fixed one; the experiment then draws a
fresh pool, so the space is not tuned on the tasks it is judged on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arc_seal.curate import best_configuration
from arc_seal.reward import RewardTable, paired_bootstrap
from arc_seal.synthetic import family


@dataclass
class Design:
    """What a design pool says about a configuration space."""

    tasks: list[str]
    """The informative grid tasks: some configuration solves them under some seed, not every
    one under every seed (as curation keeps them)."""
    by_family: dict[str, list[float]]
    """Family -> summed solve rate of each configuration over its informative tasks."""
    per_family: dict[str, float]
    """Task -> rate of the family's best configuration chosen without the task."""
    fixed: dict[str, float]
    """Task -> rate of the best fixed configuration chosen without the task."""
    kept: list[int]
    """The configurations kept: each family's best and the best fixed, padded by total solve
    rate to at least ``least``."""

    def mean(self, choice: str) -> float:
        """The mean rate over the tasks of ``per_family`` or ``fixed``."""
        return float(np.mean(list(getattr(self, choice).values())))

    def difference(self) -> tuple[float, float, float]:
        """Per-family best minus best fixed, mean over tasks and a 95% bootstrap interval."""
        return paired_bootstrap(self.per_family, self.fixed)


def informative(table: RewardTable) -> list[str]:
    """The grid tasks whose verdicts can tell configurations apart."""
    return sorted(t for t, v in table.verdicts.items() if v.any() and not v.all())


def design(table: RewardTable, least: int = 6, most: int = 10) -> Design:
    """Leave-one-task-out per-family best against best fixed, and the configurations kept."""
    tasks = informative(table)
    groups = sorted({family(t) for t in tasks})
    members = {g: [t for t in tasks if family(t) == g] for g in groups}
    per_family, fixed = {}, {}
    for t in tasks:
        others = [u for u in tasks if u != t]
        best_fixed = best_configuration(table, others)
        mine = [u for u in members[family(t)] if u != t]
        per_family[t] = float(table.row(t)[best_configuration(table, mine, best_fixed)])
        fixed[t] = float(table.row(t)[best_fixed])
    by_family = {
        g: np.sum([table.row(t) for t in members[g]], axis=0).round(4).tolist() for g in groups
    }
    totals = np.sum([table.row(t) for t in tasks], axis=0)
    kept = {best_configuration(table, tasks)}
    kept |= {best_configuration(table, members[g], -1) for g in groups} - {-1}
    for i in np.argsort(-totals, kind="stable"):
        if len(kept) >= least:
            break
        kept.add(int(i))
    ranked = sorted(kept, key=lambda i: -totals[i])[:most]
    return Design(tasks, by_family, per_family, fixed, sorted(ranked))
