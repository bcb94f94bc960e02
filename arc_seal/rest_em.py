"""ReST-EM for self-edits: pick the self-edits that earned reward, fine-tune the policy on them.

E-step: the caller samples self-edits per train task and scores each by TTT + prediction.
``reinforced`` picks which (prompt, self-edit) pairs to learn from under the configured rule;
``sft_policy`` is the M-step: LoRA on the self-edit tokens only, then merged into the model,
which becomes the next policy and the next TTT base.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from peft import LoraConfig, get_peft_model

from arc_seal.config import SFTConfig
from arc_seal.grid import Task
from arc_seal.models import IGNORE, Encoded, TaskEncoder
from arc_seal.self_edit import prompt_ids
from arc_seal.ttt import causal_lm_loss, collate, cosine_with_warmup, length_grouped_batches


def reinforced(records: list[dict], rule: str, baselines: dict[str, float]) -> list[dict]:
    """The sample records to learn from.

    ``binary``: every valid self-edit whose adapted model solved its task (pass@2).
    ``best_of_n``: per task, the valid self-edit with the highest dense score (cell accuracy
    of the best attempt), provided it beats the un-adapted model's score ``baselines[task]``.
    """
    valid = [r for r in records if r.get("self_edit") is not None and r.get("failure") is None]
    if rule == "binary":
        return [r for r in valid if r["solved"]]
    if rule != "best_of_n":
        raise ValueError(f"unknown reward rule {rule!r}")
    chosen = []
    for task_id in sorted({r["task_id"] for r in valid}):
        mine = sorted((r for r in valid if r["task_id"] == task_id), key=lambda r: r["sample"])
        best = max(mine, key=lambda r: r["cell_accuracy"])  # first of equals
        if best["cell_accuracy"] > baselines.get(task_id, 0.0):
            chosen.append(best)
    return chosen


def sft_sequence(encoder: TaskEncoder, task: Task, self_edit_text: str) -> Encoded:
    """Prompt then self-edit; loss on the self-edit tokens and the end-of-sequence token."""
    prompt = prompt_ids(encoder, task)
    tok = encoder.tokenizer
    answer = tok(self_edit_text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    return Encoded(prompt + answer, [IGNORE] * len(prompt) + answer)


def sft_policy(
    model,
    encoder: TaskEncoder,
    pairs: list[tuple[Task, str]],
    config: SFTConfig,
    targets: tuple[str, ...],
    seed: int,
    save_to: Path | None = None,
) -> tuple[object, dict]:
    """Fine-tune ``model`` (a plain model, no adapter) on (task, self-edit text) pairs with a
    fresh LoRA adapter, save the adapter (PEFT format) to ``save_to``, and return the merged
    model with training stats."""
    start = time.perf_counter()
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
    seqs = [sft_sequence(encoder, task, text) for task, text in pairs]
    rng = np.random.default_rng(seed)
    batches = length_grouped_batches([len(s.ids) for s in seqs], config.batch_size, rng)
    total = config.epochs * len(batches)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, cosine_with_warmup(total, int(config.warmup_fraction * total))
    )
    device = next(peft_model.parameters()).device
    pad = encoder.tokenizer.pad_token_id
    pad = encoder.tokenizer.eos_token_id if pad is None else pad
    losses = []
    peft_model.train()
    for _ in range(config.epochs):
        for batch in [batches[i] for i in rng.permutation(len(batches))]:
            ids, mask, labels = collate([seqs[i] for i in batch], pad, device)
            loss = causal_lm_loss(peft_model, ids, mask, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
    peft_model.eval()
    if save_to is not None:
        peft_model.save_pretrained(save_to)
    merged = peft_model.merge_and_unload()
    stats = {"pairs": len(pairs), "steps": total, "losses": losses}
    return merged, stats | {"seconds": time.perf_counter() - start}
