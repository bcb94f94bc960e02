"""One job: a task answered by the bare model, or trained on under one TTT configuration and
then answered; scored when its test outputs are known.

The SEAL loop's jobs, the benchmark rows, the TTT sweep and curation's grid all run through
``run_job``, so a (task, configuration, seed) gets the same verdict whichever of them asks.
"""

from __future__ import annotations

import zlib
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

from arc_seal.config import PredictConfig, RunConfig, TTTConfig
from arc_seal.grid import Task, known_outputs
from arc_seal.predict import predict, score
from arc_seal.records import TTTStats
from arc_seal.self_edit import SelfEdit
from arc_seal.ttt import TTTEngine


def job_seed(config: RunConfig, *key) -> int:
    """A seed per job key, so a resumed job samples and trains exactly as it would have."""
    return zlib.crc32("/".join(map(str, (config.seed, *key))).encode()) & 0x7FFFFFFF


def self_edit_ttt(config: RunConfig, task: Task, edit: SelfEdit, seed: int) -> TTTConfig:
    """The TTT a self-edit asks for: the config's ``ttt`` with the edit's choices. Seeded by
    the job (``seed``), or (``ttt_seed: task``) by the run's seed, the task and the self-edit, so a
    (task, configuration) pair trains on the same data, and gets the same verdict, whether a
    run samples it once, twice, or curation grades it."""
    if config.ttt_seed == "task":
        seed = job_seed(config, "ttt", task.id, edit.text())
    return edit.ttt_config(replace(config.ttt, seed=seed))


def run_job(
    engine: TTTEngine, task: Task, ttt: TTTConfig | None, predict_config: PredictConfig
) -> dict[str, Any]:
    """The ``JobRecord`` fields of one job (all but its key and seconds). ``ttt=None``: the
    bare model answers (ICL); otherwise the engine trains first, and a failed training is the
    job's ``failure``, with the run's statistics."""
    fields: dict[str, Any] = {}
    if ttt is not None:
        result = engine.train(task, ttt)
        fields["ttt"] = TTTStats(
            learning_rate=ttt.learning_rate,
            epochs=ttt.epochs,
            steps=result.steps,
            sequences=result.sequences,
            skipped_too_long=result.skipped_too_long,
            tokens=result.tokens,
            padding_fraction=round(result.padding_fraction, 4),
            losses=[round(x, 4) for x in result.losses],
            seconds=round(result.seconds, 2),
        )
        if not result.ok:
            return {"failure": result.failure, **fields}
    with engine.base_model() if ttt is None else nullcontext():
        predictions = predict(engine.model, engine.encoder, task, predict_config)
    fields["attempts"] = [[a.tolist() for a in p.attempts] for p in predictions]
    if known_outputs(task):
        verdict = score(task, predictions)
        fields |= {
            "solved": verdict.solved,
            "per_test": verdict.per_test,
            "cell_accuracy": verdict.cell_accuracy,
            "shape_accuracy": verdict.shape_accuracy,
            "trivial_cell_accuracy": verdict.trivial_cell_accuracy,
            "truth_in_candidates": verdict.truth_in_candidates,
        }
    return fields
