"""A whole SEAL experiment: baselines, self-edited TTT, ReST-EM, and the four-row table.

Order of work: ``icl``, ``oracle`` and ``no_rl`` rows with the un-reinforced model; ReST-EM
iterations on the train tasks (sample self-edits, reward them, fine-tune the policy, which
becomes the next policy and TTT base); the ``seal`` row with the reinforced model. Every job
is a record; a job already recorded (an interrupted run resumed) is not run again.

Eval tasks whose test outputs are unknown (an ARC Prize challenges file) are answered but not
scored: every row still produces attempts for ``submission.json``.

Under ``torchrun`` every rank runs its share of each stage's jobs (``arc_seal.distributed``);
rank 0 updates the policy, writes the results and logs to W&B.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from peft import PeftModel
from transformers import PreTrainedModel

from arc_seal.config import RunConfig
from arc_seal.curate import best_configurations, grid_rows
from arc_seal.data import Subset, load_subset
from arc_seal.distributed import Ranks
from arc_seal.errors import ConfigError
from arc_seal.evaluate import (
    Results,
    Row,
    RowSummary,
    expected,
    expected_row,
    row_summary,
    row_title,
    seal_after,
)
from arc_seal.grid import known_outputs
from arc_seal.jobs import Job, Stages, job_seed, judge_self_edit, run_job, self_edit_job
from arc_seal.policy import Draft, configuration_probabilities, shown_task
from arc_seal.policy_head import ConfigurationHead, prompt_features
from arc_seal.predict import voted_attempts
from arc_seal.records import Choices, JobRecord, PolicyUpdate, Stage
from arc_seal.render import render_choices, render_task
from arc_seal.report import results_markdown, submission
from arc_seal.rest_em import SFTStats, reinforced, sft_policy
from arc_seal.reward import RewardTable, expected_accuracy
from arc_seal.self_edit import SelfEditSpace
from arc_seal.synthetic import family
from arc_seal.ttt import TTTEngine, load_engine

log = logging.getLogger(__name__)
HEAD_FILE = "head.safetensors"


class Experiment:
    """Runs the jobs of one run directory, skipping those already recorded."""

    def __init__(self, config: RunConfig, ranks: Ranks | None = None):
        """Load the subset and the model: anything wrong with them fails here, before a run
        directory is made."""
        self.config = config
        self.ranks = ranks = ranks or Ranks()
        self.subset: Subset = load_subset(config.subset)
        needs_outputs = config.iterations > 0 or config.oracle_on_train
        unknown = [t.id for t in self.subset.train if not known_outputs(t)]
        if needs_outputs and unknown:
            raise ConfigError(
                f"subset {config.subset!r}: train task(s) {unknown[:3]} have no known test "
                "outputs, so self-edits on them cannot be rewarded (set iterations: 0 and "
                "oracle_on_train: false for a prediction-only run)"
            )
        self.table = None if self.subset.grid is None else RewardTable.from_grid(self.subset.grid)
        if self.table is None and "grid" in (config.reward_source, config.self_edit_space):
            raise ConfigError(
                f"subset {config.subset!r} has no grid, so reward_source and self_edit_space "
                "cannot be 'grid' (curate one: arc-seal curate)"
            )
        if config.reward_source == "grid" and not config.same_verdict_settings(self.table.settings):
            raise ConfigError(
                f"subset {config.subset!r}: its grid was computed under other model, TTT or "
                "prediction settings than this run's, so its verdicts are not this run's "
                "(run with the config it was curated with, or reward_source: ttt)"
            )
        if config.self_edit_space == "grid":
            self.space = self.table.space
        else:
            self.space = SelfEditSpace.product(config.learning_rates, config.epoch_options)
        self.engine = load_engine(config, ranks.device(config.device))
        self.policy: PreTrainedModel | None = None
        """With ``ttt_learner: initial``, the reinforced policy (None until it is reinforced:
        the engine's base model writes the self-edits)."""
        self._head: ConfigurationHead | None = None
        self._features: dict[str, np.ndarray] | None = None

    def icl(self, job: Job) -> JobRecord:
        return run_job(self.engine, job, None, self.config.predict)

    def oracle(self, job: Job) -> JobRecord:
        return run_job(self.engine, job, self.config.oracle_ttt(job.seed), self.config.predict)

    def self_edit(self, job: Job) -> JobRecord:
        table = self.table if self.config.reward_source == "grid" else None
        if self.config.policy == "head":
            return judge_self_edit(self.engine, job, self.config, self.head_draft(job), table)
        return self_edit_job(self.engine, job, self.config, self.space, table, self.policy)

    def features(self) -> dict[str, np.ndarray]:
        """The head's view of every task of the subset (``policy_head.prompt_features`` of the
        prompt as ``shown_task`` shows it), read once from the frozen model."""
        if self._features is None:
            tasks = [shown_task(t, self.config.blind) for t in self.subset.train + self.subset.eval]
            with self.engine.base_model():
                self._features = prompt_features(
                    self.engine.model, self.engine.encoder, tasks, self.config.self_edit_prompt
                )
        return self._features

    def head(self) -> ConfigurationHead:
        """The configuration head as it is now: uniform until ReST-EM fits it."""
        if self._head is None:
            self._head = ConfigurationHead.uniform(len(self.space.configurations), self.features())
        return self._head

    def head_draft(self, job: Job) -> Draft:
        """The head's self-edit for the job's task: a configuration drawn by the job's seed."""
        probs = self.head().probabilities(self.features()[job.task.id])
        i = int(np.random.default_rng(job.seed).choice(len(probs), p=probs))
        edit = self.space.configurations[i]
        return Draft(edit.text(), edit, None, 1, float(np.log(probs[i])))

    def choices(self, job: Job) -> Choices:
        """The policy's exact probability of each grid configuration for the job's task."""
        c = self.config
        if c.policy == "head":
            probs = self.head().probabilities(self.features()[job.task.id])
            return Choices(job.iteration, job.task.id, [round(float(p), 6) for p in probs])
        with self.engine.base_model():
            model = self.engine.model if self.policy is None else self.policy
            probs = configuration_probabilities(
                model,
                self.engine.encoder,
                shown_task(job.task, c.blind),
                self.space,
                1.0 if c.temperature is None else c.temperature,
                c.self_edit_prompt,
            )
        return Choices(job.iteration, job.task.id, [round(float(p), 6) for p in probs])

    def score_choices(self, iteration: int) -> None:
        """Stage ``choices`` on the eval tasks, when the policy chooses among a grid's
        configurations: what its expected accuracy is computed from."""
        if self.config.self_edit_space == "grid":
            self.jobs(Stage.CHOICES, iteration, self.subset.eval, 1, self.choices)

    def policy_base(self) -> PreTrainedModel:
        """The plain model the next policy update fine-tunes: the engine's (which it then
        gives up), or, with ``ttt_learner: initial``, the policy so far or a copy of the
        learner, which stays as it is."""
        if self.config.ttt_learner == "policy":
            return self.engine.release()
        if self.policy is not None:
            return self.policy
        with self.engine.base_model():
            copied = copy.deepcopy(self.engine.model)
        return copied if self.engine.lora.method == "full" else copied.unload()

    def adopt(self, policy: PreTrainedModel) -> None:
        """The fine-tuned policy writes the next self-edits; with ``ttt_learner: policy`` it
        is also what TTT adapts."""
        if self.config.ttt_learner == "policy":
            self.engine = TTTEngine(policy, self.engine.encoder.tokenizer, self.config.ttt)
        else:
            self.policy = policy

    def rest_em_iteration(self, iteration: int) -> None:
        """Sample and reward self-edits on the train tasks, then update the policy."""
        c = self.config
        samples = self.jobs(
            Stage.REST_EM, iteration, self.subset.train, c.samples_per_task, self.self_edit
        )
        self.tracker.self_edits(Stage.REST_EM, iteration, samples)
        baselines = {}
        if c.reward == "best_of_n":
            rows = self.jobs(Stage.BASELINE, iteration, self.subset.train, 1, self.icl)
            baselines = {r.task_id: r.cell_accuracy or 0.0 for r in rows}
        rate = sum(bool(r.solved) for r in samples) / max(1, len(samples))
        self.tracker.log({"iteration": iteration, "train_reward_rate": rate})
        chosen = reinforced(samples, c.reward, baselines, once=c.rewarded_pairs == "once")
        adapter = self.run_dir / "policy" / f"iteration-{iteration}"
        key = (Stage.SFT, iteration, "*", 0)
        done = self.records.get(key)
        if done is None and self.ranks.main:
            self.policy_update(iteration, chosen, rate, adapter)
            self.ranks.barrier()
            return
        if done is None:  # rank 0 fine-tunes; the others load what it saved
            self.ranks.barrier()
            self.records.refresh()
            done = self.records.get(key)
        if done.pairs and done.failure is None and c.policy == "head":
            self._head = ConfigurationHead.load(adapter / HEAD_FILE)
        elif done.pairs and done.failure is None:
            base = self.policy_base()
            if self.config.sft.float32:
                base = base.float()
            self.adopt(PeftModel.from_pretrained(base, adapter).merge_and_unload())

    def policy_update(
        self, iteration: int, chosen: list[JobRecord], rate: float, adapter: Path
    ) -> None:
        """ReST-EM's M-step: fine-tune the policy on the chosen self-edits; it becomes the next
        policy (and, with ``ttt_learner: policy``, the next TTT base)."""
        c = self.config
        stats = SFTStats(pairs=0, steps=0)
        seed = job_seed(c, Stage.SFT, iteration, "*", 0)
        if chosen and c.policy == "head":
            start = time.perf_counter()
            index = self.space.configurations.index
            losses = self.head().fit(
                [self.features()[r.task_id] for r in chosen],
                [index(r.self_edit) for r in chosen],
                c.head,
                seed,
            )
            self.head().save(adapter / HEAD_FILE)
            stats = SFTStats(len(chosen), c.head.steps, losses, time.perf_counter() - start)
            note = f"head fitted to {len(chosen)} rewarded (task, configuration) pairs"
        elif chosen:
            tasks = {t.id: shown_task(t, c.blind) for t in self.subset.train}
            pairs = [(tasks[r.task_id], r.self_edit_text) for r in chosen]
            merged, stats = sft_policy(
                self.policy_base(),
                self.engine.encoder,
                pairs,
                c.sft,
                c.ttt.lora_targets,
                seed,
                save_to=adapter,
                style=c.self_edit_prompt,
            )
            self.adopt(merged)
            note = f"fine-tuned on {len(pairs)} rewarded self-edits"
            if stats.failure:
                note = f"fine-tuning failed ({stats.failure}): the policy is unchanged"
        else:
            note = "no self-edit earned reward: the policy is unchanged"
        log.info("ReST-EM iteration %d: %s", iteration, note)
        if chosen and not stats.failure:
            self.tracker.artifact(f"policy-iteration-{iteration}", "policy", [adapter])
        self.records.add(
            PolicyUpdate(
                iteration=iteration,
                note=note,
                reward_rule=c.reward,
                train_reward_rate=rate,
                reinforced=[[r.task_id, r.sample] for r in chosen],
                **asdict(stats),
            )
        )

    def run(self, run_dir: Path) -> Results | None:
        """Run (or finish) every job into ``run_dir``; returns the results (on rank 0; None
        on the other ranks)."""
        self.run_dir = Path(run_dir)
        self.stages = Stages(self.run_dir, self.config, self.ranks)
        self.records, self.tracker, self.jobs = (
            self.stages.records,
            self.stages.tracker,
            self.stages.run,
        )
        c, s = self.config, self.subset
        rows = {
            Row.ICL: self.jobs(Stage.ICL, 0, s.eval, 1, self.icl),
            Row.ORACLE: self.jobs(Stage.ORACLE, 0, s.eval, c.oracle_samples, self.oracle),
            Row.NO_RL: self.jobs(Stage.NO_RL, 0, s.eval, c.eval_samples, self.self_edit),
        }
        self.tracker.self_edits(Stage.NO_RL, 0, rows[Row.NO_RL])
        self.score_choices(0)
        if c.oracle_on_train:
            rows[Row.ORACLE_TRAIN] = self.jobs(
                Stage.ORACLE_TRAIN, 0, s.train, c.oracle_samples, self.oracle
            )
        for iteration in range(1, c.iterations + 1):
            self.rest_em_iteration(iteration)
            self.score_choices(iteration)
            if c.seal_each_iteration and iteration < c.iterations:
                rows[seal_after(iteration)] = self.jobs(
                    Stage.SEAL, iteration, s.eval, c.eval_samples, self.self_edit
                )
                self.tracker.self_edits(Stage.SEAL, iteration, rows[seal_after(iteration)])
        rows[Row.SEAL] = self.jobs(Stage.SEAL, 0, s.eval, c.eval_samples, self.self_edit)
        self.tracker.self_edits(Stage.SEAL, 0, rows[Row.SEAL])
        if not self.ranks.main:
            return None
        self.stages.finish()
        return self.finish(rows)

    def finish(self, rows: dict[str, list[JobRecord]]) -> Results:
        """Write results.json, results.md, submission.json and the pictures; log to W&B."""
        c, s = self.config, self.subset
        ids = {
            name: [t.id for t in (s.train if name == Row.ORACLE_TRAIN else s.eval)] for name in rows
        }
        results = Results(
            s.name,
            c.model or "embedded default",
            c.seed,
            {name: row_summary(recs, ids[name]) for name, recs in rows.items()},
            {str(u.iteration): u.train_reward_rate for u in self.records.updates()},
            {k: round(v, 1) for k, v in self.stages.seconds.items()},
        )
        if self.table is not None:
            results.rows |= grid_rows(self.table, [t.id for t in s.train], ids[Row.SEAL])
        if c.self_edit_space == "grid":
            results.rows |= self.expected_rows()
            results.choices_by_family = self.choices_by_family()
            results.choices_by_task = {
                when: {t: p.round(6).tolist() for t, p in self.probabilities(i).items()}
                for when, i in ((Row.NO_RL, 0), (Row.SEAL, c.iterations))
            }
            results.best_by_family = {
                g: best_configurations(self.table, [t.id for t in s.train if family(t.id) == g])
                for g in sorted({family(t.id) for t in s.train + s.eval})
            }
            results.grid_by_family = {
                g: np.sum([self.table.row(t.id) for t in s.eval if family(t.id) == g], axis=0)
                .round(4)
                .tolist()
                for g in sorted({family(t.id) for t in s.eval})
            }
        (self.run_dir / "results.json").write_text(results.to_json())
        if results.choices_by_family:
            render_choices(
                {
                    f"{row_title(w)}: {self.subset.name}": v
                    for w, v in results.choices_by_family.items()
                },
                self.run_dir / "choices.png",
            )
        (self.run_dir / "results.md").write_text(results_markdown(results))
        attempts = {
            t.id: voted_attempts(t, [r for r in rows[Row.SEAL] if r.task_id == t.id])
            for t in s.eval
        }
        (self.run_dir / "submission.json").write_text(json.dumps(submission(s.eval, attempts)))
        pictures = []
        for task in s.eval:
            png = render_task(
                task,
                self.run_dir / "pictures" / f"{task.id}.png",
                attempts[task.id],
                title=f"{task.id}: SEAL attempts",
            )
            outcomes = results.rows[Row.SEAL].per_task[task.id]
            pictures.append([task.id, sum(outcomes), len(outcomes), png])
        self._log_wandb(results, pictures)
        return results

    def expected_rows(self) -> dict[str, RowSummary]:
        """``no_rl_expected`` and ``seal@k_expected`` (``seal_expected`` after the last
        iteration): each eval task's expected accuracy under the policy's exact choice
        probabilities, read against the grid."""
        rows = {}
        for iteration in range(self.config.iterations + 1):
            name = Row.NO_RL if iteration == 0 else seal_after(iteration)
            if iteration == self.config.iterations and iteration:
                name = Row.SEAL
            rows[expected(name)] = expected_row(
                expected_accuracy(self.probabilities(iteration), self.table)
            )
        return rows

    def probabilities(self, iteration: int) -> dict[str, np.ndarray]:
        records = [self.records.get((Stage.CHOICES, iteration, t.id, 0)) for t in self.subset.eval]
        return {r.task_id: np.array(r.probabilities) for r in records}

    def choices_by_family(self) -> dict[str, dict[str, list[float]]]:
        """Before ReST-EM and after its last iteration: per family, the policy's mean
        probability of each grid configuration over the family's eval tasks."""
        out = {}
        for iteration in sorted({0, self.config.iterations}):
            probs = self.probabilities(iteration)
            out[Row.NO_RL if iteration == 0 else Row.SEAL] = {
                g: np.mean([p for t, p in probs.items() if family(t) == g], axis=0)
                .round(4)
                .tolist()
                for g in sorted({family(t) for t in probs})
            }
        return out

    def _log_wandb(self, results: Results, pictures: list[list]) -> None:
        t = self.tracker
        metrics = (
            "accuracy",
            "cell_accuracy",
            "trivial_cell_accuracy",
            "shape_accuracy",
            "truth_in_candidates",
            "failed",
        )
        t.log(
            {
                f"{name}/{metric}": getattr(r, metric)
                for name, r in results.rows.items()
                for metric in metrics
                if getattr(r, metric) is not None
            }
        )
        t.loss_curves(
            "ttt/loss_curves",
            {
                f"{r.stage}/{r.iteration}/{r.task_id}/{r.sample}": r.ttt.losses
                for r in self.records.jobs()
                if r.ttt and r.ttt.losses
            },
        )
        t.table("seal/per_task", ["task", "solved", "samples", "picture"], pictures, images=3)
        files = ("results.json", "results.md", "submission.json", "pictures")
        t.artifact(f"results-{self.run_dir.name}", "results", [self.run_dir / f for f in files])
        t.finish()
