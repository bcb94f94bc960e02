"""One job: a task answered by the bare model, or trained on under one TTT configuration and
then answered; scored when its test outputs are known. And the stages that run jobs into a
run directory.

The SEAL loop's jobs, the evaluation rows, the TTT sweep and curation's grid all run through
``run_job``, so a (task, configuration, seed) gets the same verdict whichever of them asks;
and all of them run their jobs through ``Stages``, so each gets the record store (resumable,
synced, damaged lines set aside), ``torchrun`` and the W&B log in one way.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from tqdm import tqdm

from arc_seal.config import PredictConfig, RunConfig, TTTConfig
from arc_seal.distributed import Ranks
from arc_seal.grid import Task, known_outputs
from arc_seal.policy import Draft, write_self_edit
from arc_seal.predict import predict, score
from arc_seal.records import JobRecord, Key, Record, Records, Stage, TTTStats, shard_name
from arc_seal.report import Tracker
from arc_seal.reward import RewardTable
from arc_seal.self_edit import SelfEdit, SelfEditSpace
from arc_seal.ttt import TTTEngine

# What a job may legitimately raise: it is recorded as failed and the run goes on. Anything
# else is a bug and ends the run with its traceback (finished jobs stay recorded).
JOB_ERRORS = (torch.OutOfMemoryError, FloatingPointError)


def job_seed(config: RunConfig, *key) -> int:
    """A seed per job key, so a resumed job samples and trains exactly as it would have."""
    return zlib.crc32("/".join(map(str, (config.seed, *key))).encode()) & 0x7FFFFFFF


@dataclass(frozen=True)
class Job:
    """What one job is: its stage, its task, which sample of the task, and its seed."""

    stage: Stage
    iteration: int
    task: Task
    sample: int
    seed: int

    @property
    def key(self) -> Key:
        return (self.stage, self.iteration, self.task.id, self.sample)


def self_edit_ttt(
    config: RunConfig, task: Task, edit: SelfEdit, seed: int, pair_seed: int = 0
) -> TTTConfig:
    """The TTT a self-edit asks for: the config's ``ttt`` with the edit's choices. Seeded by
    the job (``seed``), or (``ttt_seed: task``) by the task, the self-edit and which of the
    pair's seeds it is (``pair_seed``, of ``pair_seeds``) alone, so a (task, configuration)
    pair trains on the same data, and gets the same verdict, whether a run of any seed samples
    it once or twice, or curation grades it."""
    if config.ttt_seed == "task":
        key = f"ttt/{task.id}/{edit.text()}" + (f"/{pair_seed}" if pair_seed else "")
        seed = zlib.crc32(key.encode()) & 0x7FFFFFFF
    return edit.ttt_config(replace(config.ttt, seed=seed))


def pair_seed(config: RunConfig, job: Job) -> int:
    """Which of a pair's ``pair_seeds`` TTT seeds a run's sampled self-edit trains under (or
    reads the grid's verdict of): drawn by the job, so runs of other seeds draw others."""
    return job.seed % config.pair_seeds


def configuration_job(
    engine: TTTEngine, job: Job, config: RunConfig, edit: SelfEdit, pair_seed: int = 0
) -> JobRecord:
    """The job's task trained on under ``edit`` (with the pair's TTT seed ``pair_seed``) and
    answered: the one job a (task, configuration) pair is, whether curation grades it or a
    run samples it."""
    ttt = self_edit_ttt(config, job.task, edit, job.seed, pair_seed)
    return replace(run_job(engine, job, ttt, config.predict), self_edit=edit)


def run_job(
    engine: TTTEngine, job: Job, ttt: TTTConfig | None, predict_config: PredictConfig
) -> JobRecord:
    """The job's record (its seconds are the stage's to measure). ``ttt=None``: the bare model
    answers (ICL); otherwise the engine trains first, and a failed training is the job's
    ``failure``, with the run's statistics."""
    record = JobRecord(*job.key)
    if ttt is not None:
        result = engine.train(job.task, ttt)
        record.ttt = TTTStats(
            learning_rate=ttt.learning_rate,
            epochs=ttt.epochs,
            steps=result.steps,
            sequences=result.sequences,
            skipped_too_long=result.skipped_too_long,
            tokens=result.tokens,
            padding_fraction=round(result.padding_fraction, 4),
            losses=[round(x, 4) for x in result.losses],
            seconds=round(result.seconds, 2),
            tokens_per_epoch=ttt.tokens_per_epoch,
            stopped_after=result.stopped_after,
        )
        if not result.ok:
            record.failure = result.failure
            return record
    with engine.base_model() if ttt is None else nullcontext():
        predictions = predict(engine.model, engine.encoder, job.task, predict_config)
    record.attempts = [[a.tolist() for a in p.attempts] for p in predictions]
    if known_outputs(job.task):
        verdict = score(job.task, predictions)
        record.solved = verdict.solved
        record.per_test = verdict.per_test
        record.cell_accuracy = verdict.cell_accuracy
        record.shape_accuracy = verdict.shape_accuracy
        record.trivial_cell_accuracy = verdict.trivial_cell_accuracy
        record.truth_in_candidates = verdict.truth_in_candidates
    return record


def self_edit_job(
    engine: TTTEngine,
    job: Job,
    config: RunConfig,
    space: SelfEditSpace,
    table: RewardTable | None = None,
    policy: torch.nn.Module | None = None,
) -> JobRecord:
    """The policy writes a self-edit for the job's task (``policy``, or the engine's model
    without its TTT adapter), which is then judged (``judge_self_edit``)."""
    with engine.base_model():
        model = engine.model if policy is None else policy
        draft = write_self_edit(model, engine.encoder, job.task, config, job.seed, space)
    return judge_self_edit(engine, job, config, draft, table)


def judge_self_edit(
    engine: TTTEngine, job: Job, config: RunConfig, draft: Draft, table: RewardTable | None
) -> JobRecord:
    """The job trains and answers under the drafted self-edit (one of the pair's TTT seeds,
    drawn by the job), unless ``table`` already holds that verdict (the record then says
    ``from_grid``). A draft without a valid self-edit fails the job."""
    if draft.edit is None:
        return JobRecord(
            *job.key,
            self_edit_text=draft.text,
            invalid=draft.invalid,
            tries=draft.tries,
            failure=f"invalid self-edit: {draft.invalid}",
        )
    drawn = pair_seed(config, job)
    known = None if table is None else table.verdict(job.task.id, draft.edit, drawn)
    if known is None:
        record = configuration_job(engine, job, config, draft.edit, drawn)
    else:
        record = JobRecord(*job.key, solved=known, self_edit=draft.edit, from_grid=True)
    return replace(record, self_edit_text=draft.text, logprob=draft.logprob, tries=draft.tries)


class Stages:
    """A run directory's jobs, stage by stage: each stage's jobs not yet recorded are run (this
    rank's share under ``torchrun``) and recorded as they finish; the W&B log listens to the
    records."""

    def __init__(self, run_dir: Path, config: RunConfig, ranks: Ranks):
        self.run_dir, self.config, self.ranks = Path(run_dir), config, ranks
        shard = shard_name(ranks.rank, ranks.world)
        if ranks.main:  # rank 0 repairs damaged records before anyone reads them
            self.records = Records(self.run_dir, shard)
        ranks.barrier()
        if not ranks.main:
            self.records = Records(self.run_dir, shard)
        self.tracker = Tracker(
            self.run_dir,
            config.wandb if ranks.main else "disabled",
            config.to_dict(),
            self.run_dir.name,
        )
        self.records.listeners.append(self.tracker.job)
        self.seconds: dict[str, float] = {}

    def run(
        self,
        stage: Stage,
        iteration: int,
        tasks: list[Task],
        samples: int,
        fn: Callable[[Job], Record],
    ) -> list[Record]:
        """``fn(job)`` for each of this rank's (task, sample) jobs not yet recorded; once every
        rank is done, all the stage's records back, in (task, sample) order."""
        start = time.perf_counter()
        jobs = [
            Job(stage, iteration, t, s, job_seed(self.config, stage, iteration, t.id, s))
            for t in tasks
            for s in range(samples)
        ]
        mine = [j for i, j in enumerate(jobs) if self.ranks.mine(i)]
        label = f"{stage} (iteration {iteration})" if iteration else str(stage)
        for job in tqdm(mine, desc=label, unit="job", disable=not self.ranks.main):
            if self.records.get(job.key) is None:
                t0 = time.perf_counter()
                try:
                    record = fn(job)
                except JOB_ERRORS as e:
                    record = JobRecord(
                        *job.key, failure=f"{type(e).__name__}: {str(e).splitlines()[0]}"
                    )
                    if torch.cuda.is_available():
                        torch.cuda.empty_cache()
                self.records.add(replace(record, seconds=round(time.perf_counter() - t0, 2)))
        if self.ranks.world > 1:
            self.ranks.barrier()
            self.records.refresh()  # the other ranks' jobs, also on rank 0's dashboard
        out = [self.records.get(j.key) for j in jobs]
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start
        return out

    def finish(self) -> None:
        """On rank 0, once every rank is done: the shards merged into ``records.jsonl``."""
        if self.ranks.main:
            self.records.merge()
