"""Which test-time training recipe helps: the oracle row under one changed setting per variant.

Every variant starts from a config and changes the settings it names (dotted, as the
``arc-seal run`` flags: ``oracle_learning_rate``, ``ttt.method``, ``predict.views``...); each
task is trained on and answered under each variant, beside the bare model (``icl``). Each
variant is a run directory of its own, OUT/<variant>/, holding its settings and one job record
per task, appended as it finishes, so a second call with the same OUT finishes an interrupted
sweep (a variant whose settings changed is refused); the table (per family for synthetic
tasks) is written to OUT/sweep.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from arc_seal import config as cfg
from arc_seal.augment import D8
from arc_seal.benchmark import family_summary, score_in_run_dir, summary
from arc_seal.distributed import Ranks
from arc_seal.grid import Task
from arc_seal.records import Stage
from arc_seal.report import summary_markdown

D8_VIEWS = [t.name for t in D8]
# name -> the settings it changes from the config; a name starting with ``icl`` is a row of the
# bare model (no TTT), the others the oracle row.
VARIANTS: dict[str, dict] = {
    "icl": {},
    "icl, views identity": {"predict.views": ["identity"]},
    "icl, views D8": {"predict.views": D8_VIEWS},
    "icl, 2 orders": {"predict.orders": 2},
    "icl, leave-one-out contexts": {"predict.leave_one_out": True},
    "default": {},
    "lr 3e-4": {"oracle_learning_rate": 3e-4},
    "lr 3e-3": {"oracle_learning_rate": 3e-3},
    "full, lr 1e-4": {"ttt.method": "full", "oracle_learning_rate": 1e-4},
    "full, lr 3e-5": {"ttt.method": "full", "oracle_learning_rate": 3e-5},
    "lora r 128": {"ttt.lora_r": 128, "ttt.lora_alpha": 128},
    "tokens 2,048": {"ttt.tokens_per_epoch": 2048},
    "tokens 4,096": {"ttt.tokens_per_epoch": 4096},
    "tokens 12,288": {"ttt.tokens_per_epoch": 12288},
    "tokens 24,576": {"ttt.tokens_per_epoch": 24576},
    "leave-1 contexts": {"ttt.leave_out": 1},
    "leave-2 contexts": {"ttt.leave_out": 2},
    "no augmentation": {"oracle_families": []},
    "basic only": {"oracle_families": ["basic"]},
    "no demo loss": {"ttt.demo_outputs": False},
    "colours x8": {"oracle_families": [], "ttt.colour_copies": 8},
    "colours x8, all families": {"ttt.colour_copies": 8},
    "views identity": {"predict.views": ["identity"]},
    "views D8": {"predict.views": D8_VIEWS},
    "2 orders": {"predict.orders": 2},
    "poe": {"predict.scoring": "poe"},
    "dfs candidates": {"predict.candidates": "dfs"},
    # long budgets: the two changes that paid at 16x together; and stopping a task's training
    # once its leave-out loss stops falling
    "lr 3e-3, colours x8": {"oracle_learning_rate": 3e-3, "ttt.colour_copies": 8},
    "stop patience 2": {"ttt.stop_patience": 2},
    "stop patience 4, delta 0.001": {"ttt.stop_patience": 4, "ttt.stop_min_delta": 0.001},
    # the second round: the prediction side that helped, with each training change that kept
    # cell accuracy in the first
    "views D8, tokens 4,096": {"predict.views": D8_VIEWS, "ttt.tokens_per_epoch": 4096},
    "views D8, lr 3e-4": {"predict.views": D8_VIEWS, "oracle_learning_rate": 3e-4},
    "views D8, full, lr 3e-5": {
        "predict.views": D8_VIEWS,
        "ttt.method": "full",
        "oracle_learning_rate": 3e-5,
    },
}


def row_of(name: str) -> Stage:
    """A variant's row: ``icl`` for the bare model's variants, else ``oracle``."""
    return Stage.ICL if name.startswith("icl") else Stage.ORACLE


def folder_of(name: str) -> str:
    """A variant's run directory name: ``views D8, lr 3e-4`` -> ``views-D8-lr-3e-4``."""
    return "-".join(name.replace(",", " ").replace("/", "_").split())


def variant_config(base: dict, changes: dict, where: str) -> cfg.RunConfig:
    """The config ``base`` (plain YAML values) with a variant's ``changes``."""
    values = json.loads(json.dumps(base))  # a deep copy of plain YAML values
    for dotted, value in changes.items():
        cfg.set_value(values, dotted, value)
    return cfg.from_dict(values, where)


class Sweep:
    """The sweep recipe: each variant's row on ``tasks`` in its own run directory, then one
    table. ``base``: the config's plain values the variants change; ``by_family``: synthetic
    tasks, reported per family as well."""

    def __init__(
        self,
        base: dict,
        variants: list[str],
        tasks: list[Task],
        title: str,
        by_family: bool = False,
    ):
        self.configs = {
            name: variant_config(base, VARIANTS[name], f"variant {name!r}") for name in variants
        }
        self.tasks, self.title, self.by_family = tasks, title, by_family

    def run(self, out: Path, ranks: Ranks) -> str | None:
        """Run (or finish) every variant into ``out``; the table on rank 0, else None."""
        out.mkdir(parents=True, exist_ok=True)
        done = {
            name: score_in_run_dir(out / folder_of(name), config, self.tasks, row_of(name), ranks)
            for name, config in self.configs.items()
        }
        if not ranks.main:  # its share is recorded; rank 0 reports
            return None
        table = family_summary if self.by_family else summary
        rows = {name: table(records)[row_of(name)] for name, records in done.items()}
        threads = os.environ.get("OMP_NUM_THREADS", "all")
        text = summary_markdown(f"{self.title}, {len(self.tasks)} tasks ({threads} threads)", rows)
        (out / "sweep.md").write_text(text)
        return text
