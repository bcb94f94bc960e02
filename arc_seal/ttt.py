"""LoRA test-time training: one adapter, trained per self-edit, reset in place between runs.

The base model is wrapped once; each run restores the adapter's initial weights (LoRA B is
zero, so a reset adapter reproduces the base model exactly), builds the task's leave-out
data, and trains with AdamW and a cosine schedule on length-grouped batches, so little compute
is spent on padding. Failures (NaN loss, out of memory, a step budget exceeded, nothing that
fits) end the run with a reason instead of an exception.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model

from arc_seal.augment import FAMILIES
from arc_seal.grid import Task
from arc_seal.models import IGNORE, Encoded, TaskEncoder
from arc_seal.ttt_data import build_ttt_data

STRATEGIES = ("output_tokens", "all_tokens")


@dataclass(frozen=True)
class TTTConfig:
    """How to adapt to one task. Defaults are the reference's where it has one."""

    families: tuple[str, ...] = FAMILIES
    """Augmentation families applied to the leave-out data (basic, size, chain, repeat)."""
    strategy: str = "output_tokens"
    """Loss on the answer tokens only ("output_tokens") or on every real token ("all_tokens")."""
    demo_outputs: bool = False
    """With output_tokens: also put loss on each in-context demonstration's output."""
    learning_rate: float = 1e-4
    epochs: int = 2
    batch_size: int = 2
    max_sequences: int = 250
    """Cap on leave-out training sequences after augmentation and de-duplication."""
    leave_out: int = 2
    """Build leave-1 .. leave-k tasks from the demonstrations."""
    max_steps: int | None = 375
    """A run needing more optimizer steps fails (the reference's cost rule); None: no cap."""
    max_length: int = 8192
    """Longer sequences are skipped and counted, never truncated."""
    warmup_fraction: float = 0.1
    grad_clip: float = 1.0
    lora_r: int = 128
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = ("q_proj", "v_proj", "gate_proj", "up_proj", "down_proj")
    seed: int = 0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        unknown = set(self.families) - set(FAMILIES)
        if unknown:
            raise ValueError(f"unknown augmentation families {sorted(unknown)}")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be at least 1")


# The reference's oracle TTT configuration: every family, loss on outputs, lr 1e-4, 2 epochs.
ORACLE = TTTConfig(families=FAMILIES, strategy="output_tokens", learning_rate=1e-4, epochs=2)


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

    @property
    def ok(self) -> bool:
        return self.failure is None


def length_grouped_batches(
    lengths: list[int], batch_size: int, rng: np.random.Generator
) -> list[list[int]]:
    """Indices in batches of similar length (random order among equals), batches shuffled."""
    order = sorted(rng.permutation(len(lengths)).tolist(), key=lambda i: lengths[i])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def collate(
    seqs: list[Encoded], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ids, attention mask and labels (padding never carries loss)."""
    width = max(len(s.ids) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    labels = torch.full((len(seqs), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        ids[row, : len(s.ids)] = torch.tensor(s.ids)
        labels[row, : len(s.ids)] = torch.tensor(s.labels)
        mask[row, : len(s.ids)] = 1
    return ids.to(device), mask.to(device), labels.to(device)


def causal_lm_loss(model, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor):
    """Mean next-token loss over labelled positions.

    The output layer runs only on positions that carry loss, which saves most of its cost
    with a large vocabulary. Models that post-process logits (soft-capping) take the plain path.
    """
    targets = labels[:, 1:]
    keep = targets != IGNORE
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(base.config, "final_logit_softcapping", None) is None:
        hidden = base.get_decoder()(input_ids=ids, attention_mask=mask).last_hidden_state
        logits = base.get_output_embeddings()(hidden[:, :-1][keep])
    else:
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1][keep]
    return F.cross_entropy(logits.float(), targets[keep])


def cosine_with_warmup(total: int, warmup: int):
    """Learning-rate factor per step: linear warm-up, then cosine decay to zero."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


class TTTEngine:
    """A base model wrapped once with a LoRA adapter that each ``train`` call starts afresh.

    ``lora`` fixes the adapter's shape (r, alpha, dropout, targets) for the engine's life;
    each ``train`` call's config decides data, loss and schedule.
    """

    def __init__(self, model, tokenizer, lora: TTTConfig = ORACLE):
        self.encoder = TaskEncoder(tokenizer)
        self.pad_id = tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = tokenizer.eos_token_id
        present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
        targets = [t for t in lora.lora_targets if t in present]
        if not targets:
            raise ValueError(f"none of the LoRA targets {lora.lora_targets} is in the model")
        self.lora = lora
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
        """Put the adapter back to its initial weights: the base model's outputs, exactly."""
        with torch.no_grad():
            for p, p0 in zip(self._params, self._initial, strict=True):
                p.copy_(p0)

    def base_model(self):
        """Context in which the model runs without the adapter (the ICL baseline)."""
        return self.model.disable_adapter()

    def release(self):
        """Remove the adapter and return the plain base model; the engine is unusable after."""
        model = self.model.unload()
        self.model = None
        return model

    def _check_lora(self, config: TTTConfig) -> None:
        for name in ("lora_r", "lora_alpha", "lora_dropout", "lora_targets"):
            if getattr(config, name) != getattr(self.lora, name):
                raise ValueError(
                    f"config {name}={getattr(config, name)} differs from this engine's "
                    f"adapter ({getattr(self.lora, name)}); build a new TTTEngine for it"
                )

    def encode(self, task: Task, config: TTTConfig) -> tuple[list[Encoded], int]:
        """The task's training sequences that fit ``max_length``, and how many did not."""
        data = build_ttt_data(
            task, config.families, config.max_sequences, config.seed, config.leave_out
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
        batches = length_grouped_batches([len(s.ids) for s in seqs], config.batch_size, rng)
        total = config.epochs * len(batches)
        if config.max_steps is not None and total > config.max_steps:
            result.failure = f"needs {total} steps, over the budget of {config.max_steps}"
            return result
        torch.manual_seed(config.seed)
        optimizer = torch.optim.AdamW(self._params, lr=config.learning_rate, weight_decay=0.0)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, cosine_with_warmup(total, int(config.warmup_fraction * total))
        )
        autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if self.device.type == "cuda"
            else nullcontext()
        )
        padded = 0
        self.model.train()
        try:
            for epoch in range(config.epochs):
                order = (
                    batches if epoch == 0 else [batches[i] for i in rng.permutation(len(batches))]
                )
                for batch in order:
                    ids, mask, labels = collate([seqs[i] for i in batch], self.pad_id, self.device)
                    with autocast:
                        loss = causal_lm_loss(self.model, ids, mask, labels)
                    if not torch.isfinite(loss):
                        result.failure = f"loss is {loss.item()} at step {result.steps}"
                        break
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(self._params, config.grad_clip)
                    optimizer.step()
                    schedule.step()
                    optimizer.zero_grad(set_to_none=True)
                    result.steps += 1
                    result.losses.append(loss.item())
                    result.tokens += int(mask.sum())
                    result.loss_tokens += int((labels[:, 1:] != IGNORE).sum())
                    padded += mask.numel()
                if result.failure:
                    break
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
