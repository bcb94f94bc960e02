"""ReST-EM for self-edits: pick the self-edits that earned reward, fine-tune the policy on them.

E-step: the caller samples self-edits per train task and scores each by TTT + prediction.
``reinforced`` picks which (prompt, self-edit) pairs to learn from under the configured rule;
``sft_policy`` is the M-step: LoRA on the self-edit tokens only, then merged into the model,
which becomes the next policy and the next TTT base.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from peft import LoraConfig, get_peft_model
from transformers import PreTrainedModel

from arc_seal.config import SFTConfig
from arc_seal.encoding import IGNORE, Encoded, TaskEncoder
from arc_seal.grid import Task
from arc_seal.policy import prompt_ids
from arc_seal.records import JobRecord
from arc_seal.training import (
    Batch,
    collate,
    cosine_with_warmup,
    length_grouped_batches,
    train_steps,
)


def reinforced(
    records: list[JobRecord], rule: str, baselines: dict[str, float], once: bool = False
) -> list[JobRecord]:
    """The sample records to learn from.

    ``binary``: every valid self-edit whose adapted model solved its task (pass@2); with
    ``once``, each rewarded (task, configuration) pair once (its first sample), so that a pair
    the policy already favours is not reinforced more for being sampled more.
    ``best_of_n``: per task, the valid self-edit with the highest dense score (cell accuracy
    of the best attempt), provided it beats both the un-adapted model's score
    ``baselines[task]`` and a trivial answer's (one colour, or the input copied): a self-edit
    that merely paints the background is not worth learning.
    """
    valid = [r for r in records if r.self_edit is not None and r.failure is None and r.scored]
    if rule == "binary":
        solved = [r for r in valid if r.solved]
        if once:
            first = {(r.task_id, r.self_edit): r for r in reversed(solved)}
            solved = [r for r in solved if first[r.task_id, r.self_edit] is r]
        return solved
    if rule != "best_of_n":
        raise ValueError(f"unknown reward rule {rule!r}")
    chosen = []
    for task_id in sorted({r.task_id for r in valid}):
        mine = sorted((r for r in valid if r.task_id == task_id), key=lambda r: r.sample)
        best = max(mine, key=lambda r: r.cell_accuracy)  # first of equals
        floor = max(baselines.get(task_id, 0.0), best.trivial_cell_accuracy or 0.0)
        if best.cell_accuracy > floor:
            chosen.append(best)
    return chosen


def sft_sequence(
    encoder: TaskEncoder, task: Task, self_edit_text: str, style: str = "arc-seal"
) -> Encoded:
    """Prompt (in the ``style`` it was sampled with) then self-edit; loss on the self-edit
    tokens and the end-of-sequence token."""
    prompt = prompt_ids(encoder, task, style)
    tok = encoder.tokenizer
    answer = tok(self_edit_text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    return Encoded(prompt + answer, [IGNORE] * len(prompt) + answer)


def _tensors(model: torch.nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    yield from model.named_parameters()
    yield from model.named_buffers()


@dataclass
class SFTStats:
    """How one policy fine-tuning went: what a ``PolicyUpdate`` record stores of it."""

    pairs: int
    steps: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    failure: str | None = None
    """Why the fine-tuning failed (the policy is then unchanged)."""


def sft_policy(
    model: PreTrainedModel,
    encoder: TaskEncoder,
    pairs: list[tuple[Task, str]],
    config: SFTConfig,
    targets: tuple[str, ...],
    seed: int,
    save_to: Path | None = None,
    style: str = "arc-seal",
) -> tuple[PreTrainedModel, SFTStats]:
    """Fine-tune ``model`` (a plain model, no adapter) on (task, self-edit text) pairs with a
    fresh LoRA adapter, save the adapter (PEFT format) to ``save_to``, and return the merged
    model with training stats. If training fails (a non-finite loss, out of memory) the model
    comes back unchanged, in its own dtype, and the stats say why. With ``config.float32`` the
    model is cast to float32 first and, once trained, stays so: a small update merged into
    bfloat16 weights is partly rounded away."""
    start = time.perf_counter()
    dtypes = {name: t.dtype for name, t in _tensors(model)}
    if config.float32:
        model = model.float()
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=0.0,
        target_modules=[t for t in targets if t in present],
        task_type="CAUSAL_LM",
    )
    torch.manual_seed(seed)
    peft_model = get_peft_model(model, lora)
    seqs = [sft_sequence(encoder, task, text, style) for task, text in pairs]
    rng = np.random.default_rng(seed)
    batches = length_grouped_batches([len(s.ids) for s in seqs], config.batch_size, rng)
    total = config.epochs * len(batches)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    schedule = cosine_with_warmup(total, int(config.warmup_fraction * total))
    device = next(peft_model.parameters()).device
    losses: list[float] = []

    def steps() -> Iterator[list[Batch]]:
        for _ in range(config.epochs):
            for batch in [batches[i] for i in rng.permutation(len(batches))]:
                yield [collate([seqs[i] for i in batch], encoder.pad_id, device)]

    peft_model.train()
    try:
        train_steps(
            peft_model,
            params,
            steps(),
            optimizer,
            lambda step: config.learning_rate * schedule(step),
            config.grad_clip,
            lambda step, chunks, loss: losses.append(loss),
        )
    except (FloatingPointError, torch.OutOfMemoryError) as e:
        failure = f"{type(e).__name__}: {str(e).splitlines()[0]} at step {len(losses)}"
        failed = SFTStats(len(pairs), len(losses), losses, failure=failure)
        # back in the dtypes it came in (buffers such as rotary frequencies included), as a
        # resumed run or another rank holds it
        model = peft_model.unload()
        for name, t in _tensors(model):
            t.data = t.data.to(dtypes[name])
        failed.seconds = time.perf_counter() - start
        return model, failed
    peft_model.eval()
    if save_to is not None:
        peft_model.save_pretrained(save_to)
    merged = peft_model.merge_and_unload()
    return merged, SFTStats(len(pairs), total, losses, time.perf_counter() - start)
