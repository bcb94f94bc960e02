"""The training loop every trainer here shares: test-time training, the policy's SFT, and
pretraining the embedded model.

Sequences are right-padded into batches of similar length, or packed several to a row (each
row's sequences attend only within themselves, their positions restarting at 0: the same loss
and gradients, without the padding); the loss is the mean next-token loss over labelled
positions, the learning rate follows linear warm-up then cosine decay, gradients are clipped,
and a non-finite loss stops a run (``FloatingPointError``) before it can corrupt the weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from arc_seal.encoding import IGNORE, Encoded


@dataclass
class Batch:
    """A micro-batch's token ids and labels, as right-padded rows (``mask``: 1 on real tokens)
    or as packed rows (``positions``: each sequence's positions, restarting at 0, so attention
    stays inside it). ``labelled`` (the tokens that carry loss) and ``tokens`` (the real ones)
    are counted when the batch is made, so a step needs no device round-trip to weigh it."""

    ids: torch.Tensor
    labels: torch.Tensor
    labelled: int
    tokens: int
    mask: torch.Tensor | None = None
    positions: torch.Tensor | None = None

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=non_blocking)

        return Batch(
            move(self.ids),
            move(self.labels),
            self.labelled,
            self.tokens,
            move(self.mask),
            move(self.positions),
        )


def length_grouped_batches(
    lengths: list[int], batch_size: int, rng: np.random.Generator
) -> list[list[int]]:
    """Indices in batches of similar length (random order among equals), batches shuffled."""
    order = sorted(rng.permutation(len(lengths)).tolist(), key=lambda i: lengths[i])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def collate(seqs: Sequence[Encoded], pad_id: int, device: torch.device | str) -> Batch:
    """Right-padded ids, attention mask and labels (padding never carries loss)."""
    width = max(len(s.ids) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    labels = torch.full((len(seqs), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        ids[row, : len(s.ids)] = torch.tensor(s.ids)
        labels[row, : len(s.ids)] = torch.tensor(s.labels)
        mask[row, : len(s.ids)] = 1
    labelled = int((labels[:, 1:] != IGNORE).sum())
    tokens = sum(len(s.ids) for s in seqs)
    return Batch(ids, labels, labelled, tokens, mask=mask).to(device)


def pack(lengths: Sequence[int], width: int) -> list[list[int]]:
    """Sequence indices in rows of at most ``width`` tokens: longest first, each into the first
    row with room (first-fit decreasing, within a few percent of the fewest rows)."""
    if any(n > width for n in lengths):
        raise ValueError(f"a sequence of {max(lengths)} tokens does not fit a row of {width}")
    rows: list[list[int]] = []
    room: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        row = next((r for r, free in enumerate(room) if free >= lengths[i]), None)
        if row is None:
            rows.append([])
            room.append(width)
            row = len(rows) - 1
        rows[row].append(i)
        room[row] -= lengths[i]
    return rows


def collate_packed(
    rows: Sequence[Sequence[Encoded]], width: int, pad_id: int, device: torch.device | str
) -> Batch:
    """Rows of ``width`` tokens, each holding its sequences one after another and padding at
    the end; every sequence's positions restart at 0, and its first token carries no loss (it
    is not predicted from the sequence before it)."""
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    tokens = 0
    for r, seqs in enumerate(rows):
        start = 0
        for s in seqs:
            end = start + len(s.ids)
            ids[r, start:end] = torch.tensor(s.ids)
            labels[r, start:end] = torch.tensor(s.labels)
            labels[r, start] = IGNORE
            positions[r, start:end] = torch.arange(len(s.ids))
            start = end
        positions[r, start:] = torch.arange(width - start)  # the padding: a sequence of its own
        tokens += start
    labelled = int((labels[:, 1:] != IGNORE).sum())
    return Batch(ids, labels, labelled, tokens, positions=positions).to(device)


def micro_batches(
    seqs: Sequence[Encoded], rows: int, pad_id: int, pack_width: int | None = None
) -> list[Batch]:
    """One optimizer step's sequences as micro-batches of ``rows`` rows: packed into rows of
    ``pack_width`` tokens, or (None) one sequence per row, rows of similar length padded."""
    if pack_width is not None:
        packed = [[seqs[i] for i in row] for row in pack([len(s.ids) for s in seqs], pack_width)]
        return [
            collate_packed(packed[i : i + rows], pack_width, pad_id, "cpu")
            for i in range(0, len(packed), rows)
        ]
    ordered = sorted(seqs, key=lambda s: len(s.ids))  # rows of similar length: little padding
    return [collate(ordered[i : i + rows], pad_id, "cpu") for i in range(0, len(ordered), rows)]


def causal_lm_loss(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """Mean next-token loss over labelled positions.

    The output layer runs only on positions that carry loss, which saves most of its cost
    with a large vocabulary. Models that post-process logits (soft-capping) take the plain path.
    A packed batch has no attention mask: its restarting positions tell ``transformers`` to
    keep attention inside each sequence.
    """
    targets = batch.labels[:, 1:]
    keep = targets != IGNORE
    inputs = {"input_ids": batch.ids, "attention_mask": batch.mask, "use_cache": False}
    if batch.positions is not None:
        inputs["position_ids"] = batch.positions
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(base.config, "final_logit_softcapping", None) is None:
        hidden = base.get_decoder()(**inputs).last_hidden_state
        logits = base.get_output_embeddings()(hidden[:, :-1][keep])
    else:
        logits = model(**inputs).logits[:, :-1][keep]
    return F.cross_entropy(logits.float(), targets[keep])


def cosine_with_warmup(total: int, warmup: int, floor: float = 0.0) -> Callable[[int], float]:
    """Learning-rate factor per step: linear warm-up, then cosine decay down to ``floor``."""
    by_fraction = cosine_by_fraction(warmup, floor)
    return lambda step: by_fraction(step, (step - warmup) / max(1, total - warmup))


def cosine_by_fraction(warmup: int, floor: float = 0.0) -> Callable[[int, float], float]:
    """Learning-rate factor from the step and the fraction of the decay done: linear warm-up by
    steps, then cosine decay down to ``floor``. The fraction may come from a time budget, for
    runs whose step rate is not known ahead (a sitting of fixed minutes on a GPU)."""

    def factor(step: int, fraction: float) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = min(1.0, max(0.0, fraction))
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def optimizer_step(
    model: torch.nn.Module,
    params: list[torch.nn.Parameter],
    chunks: Sequence[Batch],
    optimizer: torch.optim.Optimizer,
    grad_clip: float,
    autocast=None,
) -> float:
    """One optimizer step over ``chunks`` (gradient accumulation, each chunk weighted by its
    labelled tokens); returns the mean loss. The losses are read back once, after every chunk's
    backward pass is queued; a non-finite one raises ``FloatingPointError`` with no update
    made."""
    total = sum(c.labelled for c in chunks)
    losses = []
    for chunk in chunks:
        if autocast is None:
            loss = causal_lm_loss(model, chunk)
        else:
            with autocast:
                loss = causal_lm_loss(model, chunk)
        (loss * (chunk.labelled / total)).backward()
        losses.append(loss.detach())
    values = torch.stack(losses).tolist()  # the step's one wait for the device
    bad = next((v for v in values if not math.isfinite(v)), None)
    if bad is not None:
        optimizer.zero_grad(set_to_none=True)
        raise FloatingPointError(f"loss is {bad}")
    torch.nn.utils.clip_grad_norm_(params, grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return sum(v * c.labelled for v, c in zip(values, chunks, strict=True)) / total


def train_steps(
    model: torch.nn.Module,
    params: list[torch.nn.Parameter],
    steps: Iterable[Sequence[Batch]],
    optimizer: torch.optim.Optimizer,
    learning_rate: Callable[[int], float],
    grad_clip: float,
    after_step: Callable[[int, Sequence[Batch], float], bool | None],
    autocast=None,
) -> None:
    """The one training loop: for each step's micro-batches, the step's learning rate
    (``learning_rate(step)``, steps counted from 0 in this call), one ``optimizer_step``
    (accumulation, the non-finite guard, clipping), then ``after_step(step, micro_batches,
    loss)``: the trainer's own bookkeeping (losses, logging, checkpoints, early stopping),
    which ends the loop by returning True. A non-finite loss raises ``FloatingPointError``
    with no update made; what ``after_step`` recorded is the trainer's."""
    for step, chunks in enumerate(steps):
        lr = learning_rate(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = optimizer_step(model, params, chunks, optimizer, grad_clip, autocast)
        if after_step(step, chunks, loss):
            break
