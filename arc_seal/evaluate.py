"""The evaluation rows: what a row's jobs add up to, failures and unscored tasks included.

Rows, as in the reference table: ``icl`` (no TTT), ``no_rl`` (TTT with self-edits from the
un-reinforced policy), ``seal`` (self-edits from the reinforced policy) and ``oracle`` (the
oracle TTT configuration); ``oracle_train`` scores the oracle on the train tasks. Accuracy
counts correct (task, sample) pairs over all pairs, a failed job counting as wrong; the dense
scores (cell and shape accuracy) average the jobs that answered, beside what a trivial answer
scores on the same jobs (``per_task_cells``: [cell accuracy, trivial answer's] per job). A row
says how many of its jobs failed and why, and a row of tasks without known outputs says it is
not scored.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum

import numpy as np

from arc_seal.augment import FAMILIES
from arc_seal.records import JobRecord
from arc_seal.self_edit import FLAGS, SelfEdit


class Row(StrEnum):
    """A results row. A row is its own name (``str(Row.SEAL) == "seal"``), so ``results.json``
    reads as it always has; ``seal_after(k)`` and ``expected(row)`` name the rows made from
    these."""

    ICL = "icl"
    NO_RL = "no_rl"
    SEAL = "seal"
    SEAL_BLIND = "seal_blind"
    ORACLE = "oracle"
    ORACLE_TRAIN = "oracle_train"
    UNIFORM = "uniform"
    TRAIN_MIXTURE = "train_mixture"
    BEST_FIXED = "best_fixed"
    BEST_PER_FAMILY = "best_per_family"
    GRID_ORACLE = "grid_oracle"


ROWS = (Row.ICL, Row.NO_RL, Row.SEAL, Row.ORACLE)
ROW_NAMES = {
    Row.ICL: "ICL (no TTT)",
    Row.NO_RL: "TTT + self-edit, no RL",
    Row.SEAL: "SEAL (TTT + self-edit after ReST-EM)",
    Row.SEAL_BLIND: "SEAL-blind (the same ReST-EM, no demonstration in the policy's prompt)",
    Row.ORACLE: "Oracle TTT config",
    Row.ORACLE_TRAIN: "Oracle TTT config, train tasks",
    Row.UNIFORM: "Uniformly random config (expected, from the grid)",
    Row.TRAIN_MIXTURE: "Train mixture (configs in proportion to train solves, from the grid)",
    Row.BEST_FIXED: "Best fixed config (from the grid)",
    Row.BEST_PER_FAMILY: "Best config per family (from the grid)",
    Row.GRID_ORACLE: "Grid oracle (any config, from the grid)",
}
AFTER, EXPECTED = "@", "_expected"


def seal_after(iteration: int) -> str:
    """The SEAL row scored after ReST-EM iteration ``iteration`` (not the last)."""
    return f"{Row.SEAL}{AFTER}{iteration}"


def expected(row: str) -> str:
    """A row's expected twin: the policy's expected accuracy (exact choice probabilities x
    grid) instead of its sampled self-edits' verdicts."""
    return f"{row}{EXPECTED}"


def row_title(name: str) -> str:
    """A row's name in tables."""
    if name.endswith(EXPECTED):
        return row_title(name.removesuffix(EXPECTED)) + ", expected"
    if name.startswith(Row.SEAL + AFTER):
        return f"SEAL after ReST-EM iteration {name.removeprefix(Row.SEAL + AFTER)}"
    return ROW_NAMES[Row(name)]


def failure_kind(reason: str) -> str:
    """A failure reason with its numbers blanked, so that like failures group together."""
    return re.sub(r"\d+(\.\d+)?", "N", reason)


def choice_shares(edits: list[SelfEdit]) -> dict[str, float]:
    """How often the policy picked each option, over parsed self-edits: what a row's policy
    prefers, comparable before and after ReST-EM."""
    if not edits:
        return {}
    counts: Counter[str] = Counter()
    for e in edits:
        counts[f"learning rate {e.learning_rate:g}"] += 1
        counts[f"epochs {e.num_train_epochs}"] += 1
        counts[f"loss {e.strategy.removeprefix('train_using_')}"] += 1
        for family, flag in zip(FAMILIES, FLAGS, strict=True):
            counts[f"{family} augmentations"] += bool(getattr(e, flag))
    return {k: round(v / len(edits), 4) for k, v in sorted(counts.items())}


@dataclass
class RowSummary:
    """What one row's jobs add up to; ``results.json`` holds one per row."""

    jobs: int
    failed: int
    failures: dict[str, int]
    """Failed jobs per kind of failure (``failure_kind``)."""
    scored: bool
    """False when the row's tasks have no known test outputs (answered, not scored)."""
    accuracy: float | None
    correct: int | None
    """Solved (task, sample) pairs; None in an expected row."""
    total: int
    per_task: dict[str, list[float]]
    """Task id -> solved, per sample (True / False); in an expected row, the task's expected
    accuracy."""
    cell_accuracy: float | None = None
    trivial_cell_accuracy: float | None = None
    shape_accuracy: float | None = None
    truth_in_candidates: float | None = None
    per_task_cells: dict[str, list[list[float]]] = field(default_factory=dict)
    """Task id -> [cell accuracy, trivial answer's] per answered job."""
    choices: dict[str, float] = field(default_factory=dict)
    """``choice_shares`` of the row's self-edits."""
    configuration: dict | None = None
    """The one configuration a grid row applies (``best_fixed``)."""
    seconds_per_job: float | None = None
    """Mean wall-clock seconds per job, where a table shows cost (the benchmark's); left out
    of a run's rows, so two runs with the same verdicts have the same rows."""
    expected: float | None = None
    """In an expected row (``expected_row``), the expected number of solved tasks."""

    @classmethod
    def from_json(cls, raw: dict) -> RowSummary:
        """A row from ``results.json``; one written before ``expected`` had its own field held
        the expectation in ``correct`` (as a float)."""
        raw = dict(raw)
        if "expected" not in raw and isinstance(raw.get("correct"), float):
            raw["expected"], raw["correct"] = raw["correct"], None
        return cls(**{f.name: raw[f.name] for f in fields(cls) if f.name in raw})

    @property
    def solved(self) -> str:
        """Solved out of total, as a table shows it (the expectation in an expected row)."""
        if self.correct is None:
            return f"{self.expected:g} / {self.total}"
        return f"{self.correct} / {self.total}"


def row_summary(records: list[JobRecord], task_ids: list[str]) -> RowSummary:
    """Accuracy, dense scores, failures and per-task outcomes of one row."""
    records = sorted(records, key=lambda r: r.sample)
    failed = [r for r in records if r.failure is not None]
    answered = [r for r in records if r.failure is None]
    scored = bool(answered) and all(r.scored for r in answered)
    per_task = {t: [bool(r.solved) for r in records if r.task_id == t] for t in task_ids}
    total = sum(len(v) for v in per_task.values())
    correct = sum(sum(v) for v in per_task.values())
    dense = [r for r in answered if r.scored]

    def mean(name: str) -> float | None:
        values = [getattr(r, name) for r in dense if getattr(r, name) is not None]
        return float(np.mean(values)) if values else None

    return RowSummary(
        jobs=len(records),
        failed=len(failed),
        failures=dict(Counter(failure_kind(r.failure) for r in failed).most_common()),
        scored=scored,
        accuracy=correct / total if scored and total else None,
        correct=correct,
        total=total,
        per_task=per_task,
        cell_accuracy=mean("cell_accuracy"),
        trivial_cell_accuracy=mean("trivial_cell_accuracy"),
        shape_accuracy=mean("shape_accuracy"),
        truth_in_candidates=mean("truth_in_candidates"),
        per_task_cells={
            t: [
                [round(r.cell_accuracy, 4), round(r.trivial_cell_accuracy or 0.0, 4)]
                for r in dense
                if r.task_id == t and r.cell_accuracy is not None  # not a grid verdict
            ]
            for t in task_ids
        },
        choices=choice_shares([r.self_edit for r in records if r.self_edit]),
    )


def expected_row(per_task: dict[str, float]) -> RowSummary:
    """A row of expected accuracies, one per task (``reward.expected_accuracy``)."""
    total = sum(per_task.values())
    return RowSummary(
        jobs=len(per_task),
        failed=0,
        failures={},
        scored=True,
        accuracy=total / len(per_task) if per_task else None,
        correct=None,
        total=len(per_task),
        expected=round(total, 4),
        per_task={t: [round(v, 6)] for t, v in per_task.items()},
    )


@dataclass
class Results:
    """What a finished run adds up to (``results.json``): its rows by name and, on a curated
    subset whose grid the policy chooses from, the policy's choices and the grid per family."""

    subset: str
    model: str
    seed: int
    rows: dict[str, RowSummary]
    train_reward_rate: dict[str, float] = field(default_factory=dict)
    """ReST-EM iteration -> the share of its sampled self-edits that were rewarded."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Stage -> wall-clock seconds."""
    choices_by_family: dict[str, dict[str, list[float]]] | None = None
    """Before and after ReST-EM: family -> the policy's mean probability per configuration."""
    grid_by_family: dict[str, list[float]] | None = None
    """Family -> eval tasks each grid configuration solves (summed solve rates)."""
    choices_by_task: dict[str, dict[str, list[float]]] | None = None
    """Before and after ReST-EM: eval task -> the policy's probability per configuration."""
    best_by_family: dict[str, list[int]] | None = None
    """Family -> the configurations with the highest summed solve rate on its train tasks."""

    def to_json(self) -> str:
        raw = asdict(self)
        for name in ("choices_by_family", "grid_by_family", "choices_by_task", "best_by_family"):
            if raw[name] is None:
                del raw[name]
        return json.dumps(raw, indent=1)

    @classmethod
    def from_json(cls, raw: dict) -> Results:
        """A run's results as ``results.json`` holds them, older files included."""
        known = {f.name for f in fields(cls)}
        rows = {name: RowSummary.from_json(r) for name, r in raw["rows"].items()}
        return cls(**{k: v for k, v in raw.items() if k in known} | {"rows": rows})

    def failed_rows(self) -> list[str]:
        """Rows in which every job failed: the run should not end as a success."""
        return [name for name, r in self.rows.items() if r.jobs and r.failed == r.jobs]
