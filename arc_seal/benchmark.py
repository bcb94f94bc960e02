"""Score a model on a set of tasks without the SEAL loop: the ICL and oracle rows only.

Two uses: a benchmark subset held out of pretraining (``arc-agi-1-eval-100``: pass@2, cell and
shape accuracy, seconds per task), and a sanity check on fresh synthetic tasks of the families
the model was pretrained on, per family — a model that cannot solve those has not learned to
read a grid, whatever else it scores.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from arc_seal.config import CONFIG, RunConfig
from arc_seal.data import load_subset
from arc_seal.distributed import Ranks
from arc_seal.encoding import IGNORE, TaskEncoder
from arc_seal.errors import ConfigError
from arc_seal.evaluate import RowSummary, row_summary
from arc_seal.grid import MAX_SIDE, Task
from arc_seal.jobs import Job, Stages, run_job
from arc_seal.records import JobRecord, Stage, claim_run_dir, to_json
from arc_seal.report import loss_markdown, summary_markdown
from arc_seal.synthetic import RULES, family, generate_tasks
from arc_seal.training import collate
from arc_seal.ttt import TTTEngine, load_engine

BENCHMARK_ROWS = (Stage.ICL, Stage.ORACLE)
# A seed the pretraining script never draws synthetic tasks from (it draws them from its own
# running generator), so these tasks are fresh.
SANITY_SEED = 12345


def score_tasks(
    stages: Stages, engine: TTTEngine, tasks: list[Task], config: RunConfig, rows: list[Stage]
) -> list[JobRecord]:
    """Each task under each row, a job record each, through the run's ``stages`` (jobs already
    recorded are not run again): ``icl`` (the bare model answers) or ``oracle`` (test-time
    training under the config's oracle settings first)."""

    def answer(job: Job) -> JobRecord:
        ttt = config.oracle_ttt() if job.stage is Stage.ORACLE else None
        return run_job(engine, job, ttt, config.predict)

    return [r for row in rows for r in stages.run(row, 0, tasks, 1, answer)]


def score_in_run_dir(
    run_dir: Path, config: RunConfig, tasks: list[Task], row: Stage, ranks: Ranks
) -> list[JobRecord]:
    """``tasks`` under one row in a run directory of its own: made, or finished where an
    earlier call left it (refused if it began under other settings), its jobs shared among
    ``torchrun`` ranks. What the TTT sweep and the compute curve run for each variant."""
    with ExitStack() as held:
        resume = (run_dir / CONFIG).exists()
        claim_run_dir(run_dir, resume, config, run_dir.name, ranks, held)
        stages = Stages(run_dir, config, ranks)
        todo = [t for t in tasks if stages.records.get((row, 0, t.id, 0)) is None]
        if ranks.main:
            print(f"{run_dir}: {len(todo)} of {len(tasks)} tasks to run", flush=True)
        engine = load_engine(config, ranks.device(config.device)) if todo else None
        records = score_tasks(stages, engine, tasks, config, [row])
        stages.finish()
        stages.tracker.finish()
    return records


def benchmark_tasks(
    subset: str | None, synthetic: int | None, max_side: int, limit: int | None
) -> tuple[list[Task], str]:
    """What ``evaluate`` and the sweep score, and its title: a subset's eval tasks, or
    ``synthetic`` fresh tasks of every family; the first ``limit`` of them."""
    if (subset is None) == (synthetic is None):
        raise ConfigError("give exactly one of --subset and --synthetic")
    if synthetic is not None:
        tasks = sanity_tasks(synthetic, max_side=max_side)
        title = f"{synthetic} fresh synthetic tasks per family (grids up to {max_side})"
    else:
        tasks, title = load_subset(subset).eval, f"subset {subset}"
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit {limit}: expected at least 1")
    return tasks[:limit] if limit else tasks, title


class Benchmark:
    """The ``evaluate`` recipe: every task under each benchmark row in one run directory (jobs
    recorded there are not run again), then the table (per family for synthetic tasks), the
    held-out loss if asked, and ``benchmark.md`` / ``benchmark.json``. ``by_family``: the
    tasks are synthetic (``family-n``), reported per family as well."""

    def __init__(
        self,
        config: RunConfig,
        ranks: Ranks,
        tasks: list[Task],
        title: str,
        rows: list[Stage],
        loss: bool = False,
        by_family: bool = False,
    ):
        self.config, self.ranks, self.tasks, self.title = config, ranks, tasks, title
        self.rows, self.loss, self.by_family = rows, loss, by_family
        self.engine = load_engine(config, ranks.device(config.device))

    def run(self, run_dir: Path) -> str | None:
        """Score (or finish scoring) into ``run_dir``; the report's text on rank 0, else None."""
        stages = Stages(run_dir, self.config, self.ranks)
        records = score_tasks(stages, self.engine, self.tasks, self.config, self.rows)
        stages.finish()
        if not self.ranks.main:  # its share is recorded; rank 0 reports
            return None
        loss, family_loss = self.held_out_loss() if self.loss else (None, {})
        table = family_summary(records) if self.by_family else summary(records)
        name = self.config.model or "embedded default model"
        text = summary_markdown(f"{name}: {self.title}", table)
        if loss is not None:
            text += (
                f"\nHeld-out loss on the answers: {loss['loss']:.4f} (teacher-forced token "
                f"accuracy {loss['token_accuracy']:.3f}, answers right teacher-forced "
                f"{loss['answers_right']} of {loss['tasks']} tasks)\n"
            )
        if family_loss:
            text += "\nPer family, teacher-forced:\n\n" + loss_markdown(family_loss)
        (run_dir / "benchmark.md").write_text(text)
        report = {
            "title": self.title,
            "model": self.config.model or "embedded default",
            "summary": table,
            "held_out_loss": loss,
            "held_out_loss_by_family": family_loss,
            "tasks": [json.loads(to_json(r)) for r in records],
        }
        (run_dir / "benchmark.json").write_text(json.dumps(report, indent=1, default=asdict))
        stages.tracker.log(
            {
                f"{row}/{group}/{metric}": value
                for row, groups in table.items()
                for group, r in groups.items()
                for metric, value in asdict(r).items()
                if isinstance(value, float)
            }
        )
        stages.tracker.finish()
        return text

    def held_out_loss(self) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        """``pooled`` over every task, and per family for synthetic tasks."""
        with self.engine.base_model():
            per_task = answer_scores(self.engine.model, self.engine.encoder, self.tasks)
        by_family = {}
        if self.by_family:
            for group in dict.fromkeys(family(t.id) for t in self.tasks):
                by_family[group] = pooled([s for i, s in per_task.items() if family(i) == group])
        return pooled(list(per_task.values())), by_family


@torch.no_grad()
def answer_scores(
    model: torch.nn.Module, encoder: TaskEncoder, tasks: list[Task], max_length: int = 8192
) -> dict[str, tuple[float, int, int]]:
    """Task id -> (next-token loss on its answer, answer tokens predicted right, answer
    tokens), teacher-forced: the answer is the first test output, the demonstrations its
    context. Tasks longer than ``max_length`` or without an answer are left out."""
    model.eval()
    device = next(model.parameters()).device
    scores = {}
    for task in tasks:
        if task.test[0].output is None:
            continue
        seq = encoder.training_sequence(task, "output_tokens")
        if len(seq.ids) > max_length:
            continue
        batch = collate([seq], encoder.pad_id, device)
        logits = model(input_ids=batch.ids, attention_mask=batch.mask).logits[0, :-1].float()
        targets = batch.labels[0, 1:]
        keep = targets != IGNORE
        loss = float(torch.nn.functional.cross_entropy(logits[keep], targets[keep]))
        right = int((logits[keep].argmax(-1) == targets[keep]).sum())
        scores[task.id] = (loss, right, int(keep.sum()))
    return scores


def pooled(scores: list[tuple[float, int, int]]) -> dict[str, float]:
    """``answer_scores`` of a group of tasks as one line: mean loss, the share of answer tokens
    predicted right, and how many answers have every token right — the pretraining objective
    measured on tasks the model never saw, cheap enough to run per family before any decoding."""
    right, total = sum(s[1] for s in scores), sum(s[2] for s in scores)
    return {
        "loss": float(np.mean([s[0] for s in scores])) if scores else float("nan"),
        "token_accuracy": right / total if total else float("nan"),
        "answers_right": sum(s[1] == s[2] for s in scores),
        "tasks": len(scores),
    }


def held_out_loss(
    model: torch.nn.Module, encoder: TaskEncoder, tasks: list[Task], max_length: int = 8192
) -> dict[str, float]:
    """``pooled`` over all ``tasks``."""
    return pooled(list(answer_scores(model, encoder, tasks, max_length).values()))


def sanity_tasks(
    per_family: int,
    max_side: int = 8,
    seed: int = SANITY_SEED,
    families: list[str] | None = None,
) -> list[Task]:
    """``per_family`` fresh tasks of every synthetic family (or of ``families``), named
    ``family-n``; a family's tasks are the same whichever others are drawn."""
    if per_family < 1:
        raise ConfigError(f"--synthetic {per_family}: expected at least 1")
    if not 1 <= max_side <= MAX_SIDE:
        raise ConfigError(f"--max-side {max_side}: expected 1 to {MAX_SIDE}")
    unknown = sorted(set(families or []) - set(RULES))
    if unknown:
        raise ConfigError(f"--families: unknown {unknown}; known: {', '.join(RULES)}")
    tasks = []
    for index, rule in enumerate(RULES):
        if families and rule not in families:
            continue
        drawn = generate_tasks(
            per_family, seed=seed + index * per_family, rules=[rule], max_side=max_side
        )
        for i, t in enumerate(drawn):
            tasks.append(Task(f"{rule}-{i}", t.train, t.test, "synthetic"))
    return tasks


def summary(
    records: list[JobRecord], group: Callable[[JobRecord], str] = lambda r: "all"
) -> dict[str, dict[str, RowSummary]]:
    """row (the records' stage) -> group -> ``row_summary`` of the group's records, with the
    mean seconds per job beside it."""
    table: dict[str, dict[str, list[JobRecord]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        table[r.stage][group(r)].append(r)
    return {
        row: {
            g: replace(
                row_summary(items, list(dict.fromkeys(r.task_id for r in items))),
                seconds_per_job=float(np.mean([r.seconds for r in items])),
            )
            for g, items in groups.items()
        }
        for row, groups in table.items()
    }


def family_summary(records: list[JobRecord]) -> dict[str, dict[str, RowSummary]]:
    """``summary`` over all sanity tasks (group ``all``), then per synthetic family."""
    table = summary(records)
    by_family = summary(records, lambda r: family(r.task_id))
    return {row: table[row] | groups for row, groups in by_family.items()}
