"""Test-time training: the model adapted per self-edit, reset in place between runs.

With LoRA the base model is wrapped once and each run restores the adapter's initial weights
(LoRA B is zero, so a reset adapter reproduces the base model exactly). With full fine-tuning,
for models so small that an adapter saves nothing, every weight trains and each run copies the
base weights back in place (no reload). A run builds the task's leave-out data and trains with
AdamW and a cosine schedule on length-grouped batches, so little compute is spent on padding.
An epoch is one pass over the data, or, with ``tokens_per_epoch``, a fixed number of trained
tokens, so that a long task costs what a short one does. Failures (NaN loss, out of memory, a
step budget exceeded, nothing that fits) end the run with a reason instead of an exception.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from peft import LoraConfig, get_peft_model
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from arc_seal.config import ORACLE, RunConfig, TTTConfig
from arc_seal.encoding import Encoded, TaskEncoder
from arc_seal.errors import ConfigError
from arc_seal.grid import Task
from arc_seal.models import DEFAULT_MODEL, load_model
from arc_seal.training import (
    Batch,
    collate,
    cosine_with_warmup,
    length_grouped_batches,
    train_steps,
)
from arc_seal.ttt_data import build_ttt_data

ENGINE_FIELDS = ("method", "lora_r", "lora_alpha", "lora_dropout", "lora_targets")


@dataclass
class TTTResult:
    """What one run did; ``failure`` holds the reason when it did not finish."""

    failure: str | None = None
    sequences: int = 0
    skipped_too_long: int = 0
    steps: int = 0
    tokens: int = 0
    """Real (non-padding) tokens run through forward and backward."""
    loss_tokens: int = 0
    padding_fraction: float = 0.0
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    stopped_after: int | None = None
    """Epochs trained when the stopping rule (``stop_patience``) ended the run early."""

    @property
    def ok(self) -> bool:
        return self.failure is None


def batch_plan(
    batches: list[list[int]],
    lengths: list[int],
    epochs: int,
    tokens_per_epoch: int | None,
    rng: np.random.Generator,
) -> list[list[list[int]]]:
    """A run's batches in order, epoch by epoch: the first pass as grouped, each later one
    shuffled; ``epochs`` passes, or passes until ``epochs * tokens_per_epoch`` tokens are
    reached, an epoch ending at the batch that reaches its share."""

    def passes() -> Iterator[list[list[int]]]:
        yield batches
        while True:
            yield [batches[i] for i in rng.permutation(len(batches))]

    if tokens_per_epoch is None:
        return [one for _, one in zip(range(epochs), passes(), strict=False)]
    plan: list[list[list[int]]] = [[]]
    tokens = 0
    for one in passes():
        for batch in one:
            plan[-1].append(batch)
            tokens += sum(lengths[i] for i in batch)
            while tokens >= len(plan) * tokens_per_epoch:  # a long batch may end two epochs
                if len(plan) == epochs:
                    return plan
                plan.append([])
    raise AssertionError("unreachable")


def epoch_ends(plan: list[list[list[int]]]) -> dict[int, int]:
    """Step index -> epoch, for the last step of each epoch but the final one: where the
    stopping rule looks at the epoch's loss."""
    ends, step = {}, -1
    for epoch, batches in enumerate(plan[:-1], 1):
        step += len(batches)
        if batches:
            ends[step] = epoch
    return ends


class Plateau:
    """The stopping rule: stop once ``patience`` epochs in a row have a mean loss that falls
    less than ``min_delta`` below the best so far. Test-time training on 2-4 demonstrations
    has no held-out data to watch, so it watches the loss on the leave-out tasks, which stops
    falling once the task is learned (or cannot be)."""

    def __init__(self, patience: int, min_delta: float):
        self.patience, self.min_delta = patience, min_delta
        self.best, self.waited = math.inf, 0

    def stop(self, epoch_loss: float) -> bool:
        """Whether to stop after an epoch with this mean loss."""
        if epoch_loss < self.best - self.min_delta:
            self.best, self.waited = epoch_loss, 0
        else:
            self.waited += 1
        return self.waited >= self.patience


class TTTEngine:
    """A base model made ready once for test-time training that each ``train`` call starts
    afresh from: wrapped with a LoRA adapter, or (``method="full"``) with a copy of its weights.

    ``lora`` fixes the method and the adapter's shape (r, alpha, dropout, targets) for the
    engine's life; each ``train`` call's config decides data, loss and schedule.
    """

    def __init__(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, lora: TTTConfig = ORACLE
    ):
        self.encoder = TaskEncoder(tokenizer)
        self.lora = lora
        if lora.method == "full":
            self.model = model.requires_grad_(True).eval()
            self._params = list(model.parameters())
            self._initial = [p.detach().clone() for p in self._params]
            return
        present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
        targets = [t for t in lora.lora_targets if t in present]
        if not targets:
            raise ValueError(f"none of the LoRA targets {lora.lora_targets} is in the model")
        # The adapter's initial weights come from ``lora.seed``, not from whatever state the
        # global generator is in, so a run reproduces in a new process.
        with torch.random.fork_rng():
            torch.manual_seed(lora.seed)
            self.model = get_peft_model(
                model,
                LoraConfig(
                    r=lora.lora_r,
                    lora_alpha=lora.lora_alpha,
                    lora_dropout=lora.lora_dropout,
                    target_modules=targets,
                    task_type="CAUSAL_LM",
                ),
            )
        self.model.eval()
        self._params = [p for p in self.model.parameters() if p.requires_grad]
        self._initial = [p.detach().clone() for p in self._params]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def reset(self) -> None:
        """Put the trained weights back to their initial values: the base model's outputs,
        exactly."""
        with torch.no_grad():
            for p, p0 in zip(self._params, self._initial, strict=True):
                p.copy_(p0)

    @contextmanager
    def base_model(self) -> Iterator[None]:
        """Context in which ``self.model`` is the base model (the ICL baseline, the policy):
        the adapter disabled, or, with full fine-tuning, the base weights restored."""
        if self.lora.method == "full":
            self.reset()
            yield
            return
        with self.model.disable_adapter():
            yield

    def release(self) -> PreTrainedModel:
        """The plain base model back (adapter removed, or base weights restored); the engine
        is unusable after."""
        if self.lora.method == "full":
            self.reset()
            model = self.model
        else:
            model = self.model.unload()
        self.model = None
        return model

    def _check_lora(self, config: TTTConfig) -> None:
        names = ENGINE_FIELDS if config.method == "lora" else ("method",)
        for name in names:
            if getattr(config, name) != getattr(self.lora, name):
                raise ValueError(
                    f"config {name}={getattr(config, name)} differs from this engine's "
                    f"adapter ({getattr(self.lora, name)}); build a new TTTEngine for it"
                )

    def encode(self, task: Task, config: TTTConfig) -> tuple[list[Encoded], int]:
        """The task's training sequences that fit ``max_length``, and how many did not."""
        data = build_ttt_data(
            task,
            config.families,
            config.max_sequences,
            config.seed,
            config.leave_out,
            config.permuted_copies,
            config.colour_copies,
        )
        encoded = [
            self.encoder.training_sequence(t, config.strategy, config.demo_outputs) for t in data
        ]
        fits = [e for e in encoded if len(e.ids) <= config.max_length]
        return fits, len(encoded) - len(fits)

    def train(self, task: Task, config: TTTConfig) -> TTTResult:
        """Reset the adapter and train it on ``task``'s demonstrations."""
        self._check_lora(config)
        start = time.perf_counter()
        self.reset()
        seqs, skipped = self.encode(task, config)
        result = TTTResult(sequences=len(seqs), skipped_too_long=skipped)
        if not seqs:
            result.failure = f"no training sequence fits max_length={config.max_length}"
            return result
        rng = np.random.default_rng(config.seed)
        lengths = [len(s.ids) for s in seqs]
        batches = length_grouped_batches(lengths, config.batch_size, rng)
        plan = batch_plan(batches, lengths, config.epochs, config.tokens_per_epoch, rng)
        total = sum(len(epoch) for epoch in plan)
        if config.max_steps is not None and total > config.max_steps:
            result.failure = f"needs {total} steps, over the budget of {config.max_steps}"
            return result
        torch.manual_seed(config.seed)
        optimizer = torch.optim.AdamW(
            self._params, lr=config.learning_rate, weight_decay=config.weight_decay
        )
        warmup = config.warmup_steps
        if warmup is None:
            warmup = int(config.warmup_fraction * total)
        schedule = cosine_with_warmup(total, warmup)
        autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda" else None
        )
        plateau = None
        if config.stop_patience is not None:
            plateau = Plateau(config.stop_patience, config.stop_min_delta)
        ends = epoch_ends(plan)
        padded = 0

        def after_step(step: int, chunks: list[Batch], loss: float) -> bool:
            nonlocal padded
            result.steps += 1
            result.losses.append(loss)
            result.tokens += chunks[0].tokens
            result.loss_tokens += chunks[0].labelled
            padded += chunks[0].ids.numel()
            epoch = ends.get(step)
            if plateau is None or epoch is None:
                return False
            if plateau.stop(np.mean(result.losses[-len(plan[epoch - 1]) :])):
                result.stopped_after = epoch
                return True
            return False

        steps = (
            [collate([seqs[i] for i in batch], self.encoder.pad_id, self.device)]
            for batches_ in plan
            for batch in batches_
        )
        self.model.train()
        try:
            train_steps(
                self.model,
                self._params,
                steps,
                optimizer,
                lambda step: config.learning_rate * schedule(step),
                config.grad_clip,
                after_step,
                autocast,
            )
        except FloatingPointError as e:
            result.failure = f"{e} at step {result.steps}"
        except torch.OutOfMemoryError as e:
            result.failure = f"out of memory at step {result.steps}: {str(e).splitlines()[0]}"
            optimizer.zero_grad(set_to_none=True)
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
        finally:
            self.model.eval()
        result.padding_fraction = 1 - result.tokens / padded if padded else 0.0
        result.seconds = time.perf_counter() - start
        return result


def load_engine(config: RunConfig, device: str | None = None) -> TTTEngine:
    """The config's model (the embedded one when unset) on ``device`` (default: the config's),
    ready for test-time training: what every command starts from."""
    model, tokenizer = load_model(
        config.model or DEFAULT_MODEL,
        device or config.device,
        trust_remote_code=config.trust_remote_code,
    )
    engine = TTTEngine(model, tokenizer, config.ttt)
    if engine.encoder.chat and config.predict.candidates != "greedy":
        raise ConfigError(
            f"predict.candidates={config.predict.candidates!r} searches under the compact "
            "tokenizer's grid grammar; this model's tokenizer is a chat tokenizer, so use "
            "predict.candidates: greedy"
        )
    return engine
