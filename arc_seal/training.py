"""The training step every trainer here shares: test-time training, the policy's SFT, and
pretraining the embedded model.

Sequences are right-padded into batches of similar length, the loss is the mean next-token
loss over labelled positions, the learning rate follows linear warm-up then cosine decay,
gradients are clipped, and a non-finite loss stops a run (``FloatingPointError``) before it can
corrupt the weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from arc_seal.encoding import IGNORE, Encoded

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


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
    return ids.to(device), mask.to(device), labels.to(device)


def causal_lm_loss(
    model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
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
    labelled tokens); returns the mean loss. A non-finite loss raises ``FloatingPointError``
    with no update made."""
    counts = [int((labels[:, 1:] != IGNORE).sum()) for _, _, labels in chunks]
    total = sum(counts)
    loss_sum = 0.0
    for (ids, mask, labels), n in zip(chunks, counts, strict=True):
        if autocast is None:
            loss = causal_lm_loss(model, ids, mask, labels)
        else:
            with autocast:
                loss = causal_lm_loss(model, ids, mask, labels)
        if not torch.isfinite(loss):
            optimizer.zero_grad(set_to_none=True)
            raise FloatingPointError(f"loss is {loss.item()}")
        (loss * (n / total)).backward()
        loss_sum += loss.item() * n
    torch.nn.utils.clip_grad_norm_(params, grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss_sum / total
