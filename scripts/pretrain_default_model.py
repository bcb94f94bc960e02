"""Pretrain the embedded default model: a small Llama with the compact ARC tokenizer.

Trains from scratch on augmented ARC-AGI-1 training tasks and ARC-AGI-2's training tasks that
ARC-AGI-1 lacks, minus every task of the subsets in tasks/ and all of ARC-AGI-1's evaluation
set, and on synthetic tasks drawn fresh for every sequence; loss on every output grid. A share
of the sequences are self-edit prompts with uniformly drawn self-edits, so the policy starts
with a flat prior over the options. By default the model sees (row, column, plane) positions
(``arc_seal.grid_model``); ``--grid-positions none`` trains a plain Llama.
Checkpoints to --out (safetensors) every few minutes and at the end; --resume continues from
there, so hours of CPU can be spent across sittings.

    python scripts/pretrain_default_model.py --out runs/pretrain --minutes 60
    python scripts/pretrain_default_model.py --out runs/pretrain --minutes 60 --resume
    python scripts/pretrain_default_model.py --out runs/pretrain --device cuda \
        --batch-tokens 65536 --micro-batch 64 --workers 7 --minutes 7.5 --schedule-by minutes
    make gpu-sitting      # the next sitting: from the shipped checkpoint, 4,096-token rows
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm
from transformers import AutoModelForCausalLM

from arc_seal.cli import run_cli
from arc_seal.encoding import TaskEncoder
from arc_seal.models import default_device, new_llama
from arc_seal.pretrain import draw_sequence, excluded_ids, pretraining_tasks
from arc_seal.synthetic import RULES
from arc_seal.tokenizer import build_compact_tokenizer
from arc_seal.training import (
    cosine_by_fraction,
    cosine_with_warmup,
    micro_batches,
    optimizer_step,
)

STATE = "trainer_state.json"
SYNTHETIC_RULES = list(RULES)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="checkpoint folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument(
        "--init-from",
        type=Path,
        help="start --out from this checkpoint (e.g. arc_seal/default_model: the shipped one),"
        " its history kept, with a fresh optimizer warmed up by --warmup steps",
    )
    p.add_argument("--minutes", type=float, default=60.0, help="wall-clock budget of this sitting")
    p.add_argument("--total-steps", type=int, default=4000, help="length of the LR schedule")
    p.add_argument("--batch-tokens", type=int, default=4096, help="tokens per optimizer step")
    p.add_argument("--max-length", type=int, default=1024)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--hidden", type=int, default=160)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=5)
    p.add_argument("--intermediate", type=int, default=480)
    p.add_argument(
        "--synthetic-fraction",
        type=float,
        default=0.5,
        help="share of sequences from a freshly generated synthetic task",
    )
    p.add_argument(
        "--grid-positions",
        choices=["learned", "rotary", "none"],
        default="learned",
        help="(row, column, plane) positions: learned embeddings, rotary, or none (plain Llama)",
    )
    p.add_argument(
        "--edge-positions",
        action="store_true",
        help="input-grid cells also get their row from the bottom and column from the right"
        " (added to a resumed model too: its new tables start at zero)",
    )
    p.add_argument(
        "--static-pairs",
        type=int,
        default=None,
        help="rotary frequency pairs per head that do not turn (the slowest); on --resume,"
        " changes the checkpoint's",
    )
    p.add_argument(
        "--families",
        default=",".join(SYNTHETIC_RULES),
        help="comma-separated synthetic families to draw from",
    )
    p.add_argument(
        "--max-side",
        type=int,
        default=12,
        help="largest side of a synthetic grid (smaller grids: more tasks per token, a curriculum)",
    )
    p.add_argument(
        "--self-edit-fraction",
        type=float,
        default=0.1,
        help="share of sequences that are a self-edit prompt and a uniformly drawn self-edit",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=default_device())
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes that draw and pad the sequences (0: in this one); a GPU needs several",
    )
    p.add_argument(
        "--micro-batch", type=int, default=8, help="rows (sequences, or packed rows) per pass"
    )
    p.add_argument(
        "--pack",
        action="store_true",
        help="several sequences per row of --max-length tokens, attention kept inside each,"
        " instead of one sequence per row with rows of similar length padded",
    )
    p.add_argument(
        "--attention",
        choices=["sdpa", "eager", "flex_attention"],
        default="sdpa",
        help="attention kernel; flex_attention skips the blocks a packed row's mask removes"
        " (CUDA: it has no backward pass on CPU)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the model's decoder (worth it for long GPU sittings)",
    )
    p.add_argument(
        "--schedule-by",
        choices=["steps", "minutes"],
        default="steps",
        help="the cosine decay ends at --total-steps, or at the end of this sitting's --minutes"
        " (one sitting whose step rate is not known ahead, e.g. on a GPU)",
    )
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--save-every", type=float, default=10.0, help="minutes between checkpoints")
    p.add_argument("--wandb", choices=["offline", "online", "disabled"], default="offline")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    tokenizer = build_compact_tokenizer()
    encoder = TaskEncoder(tokenizer)
    state = {"step": 0, "tokens": 0, "seconds": 0.0, "losses": []}
    grown: list[str] = []
    families = args.families.split(",")
    if unknown := sorted(set(families) - set(SYNTHETIC_RULES)):
        p.error(f"unknown synthetic families {unknown}; known: {', '.join(SYNTHETIC_RULES)}")
    if args.workers < 0 or args.micro_batch < 1:
        p.error("--workers must be at least 0 and --micro-batch at least 1")
    if not 1 <= args.max_side <= 30:
        p.error(f"--max-side {args.max_side}: expected 1 to 30 (ARC grids are at most 30x30)")
    if args.grid_positions == "none" and (args.edge_positions or args.static_pairs):
        p.error("--edge-positions and --static-pairs need --grid-positions learned or rotary")
    if args.init_from:
        if args.resume:
            p.error("--init-from starts a new --out; --resume continues one")
        if (args.out / "config.json").exists():
            p.error(f"{args.out} already holds a checkpoint: continue it with --resume")
        if not (args.init_from / "config.json").is_file():
            p.error(f"--init-from {args.init_from}: no checkpoint there (config.json)")
        args.out.mkdir(parents=True, exist_ok=True)
        for f in args.init_from.iterdir():
            if f.is_file() and f.name != "optimizer.pt" and f.suffix in (".json", ".safetensors"):
                shutil.copy2(f, args.out / f.name)
        args.resume = True
    if args.resume:
        changes = {"edge_positions": True} if args.edge_positions else {}
        if args.static_pairs is not None:
            changes["static_pairs"] = args.static_pairs
        model, info = AutoModelForCausalLM.from_pretrained(
            args.out, dtype=torch.float32, output_loading_info=True, **changes
        )
        with torch.no_grad():  # tables new to the checkpoint start at zero: same function
            for name in info["missing_keys"]:
                model.get_parameter(name).zero_()
        grown = info["missing_keys"]
        state = json.loads((args.out / STATE).read_text())
    else:
        model = new_llama(
            tokenizer,
            args.hidden,
            args.layers,
            args.heads,
            intermediate_size=args.intermediate,
            seed=args.seed,
            grid_positions=None if args.grid_positions == "none" else args.grid_positions,
            edge_positions=args.edge_positions,
            static_pairs=args.static_pairs or 0,
        )
    model.set_attn_implementation(args.attention)
    model.to(args.device).train()
    fresh_optimizer = True  # until saved moments are loaded
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=args.lr,
        weight_decay=0.01,
        betas=(0.9, 0.95),
        fused=torch.device(args.device).type == "cuda",  # one kernel for every parameter
    )
    if args.compile:
        model.get_decoder().compile()
    if grown:  # the saved moments belong to a different list of parameters
        print(f"new tables {grown}: the optimizer starts afresh")
    elif args.resume and (args.out / "optimizer.pt").exists():
        optimizer.load_state_dict(torch.load(args.out / "optimizer.pt", weights_only=True))
        fresh_optimizer = False

    schedule = cosine_with_warmup(args.total_steps, args.warmup, floor=0.1)
    # by the clock: warm-up by steps, then the cosine over the rest of the sitting's minutes
    time_schedule = cosine_by_fraction(args.warmup, floor=0.1)
    params = [p for p in model.parameters() if p.requires_grad]

    tasks = pretraining_tasks()
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"{len(tasks)} ARC tasks (ARC-AGI-1 evaluation and {len(excluded_ids())} subset ids held"
        f" out) + fresh synthetic tasks; {n_params:,} parameters"
    )
    run = None
    if args.wandb != "disabled":
        import wandb

        run = wandb.init(
            project="arc-seal-pretrain",
            dir=str(args.out),
            mode=args.wandb,
            config=vars(args) | {"parameters": n_params, "tasks": len(tasks)},
            resume="allow",
            id=f"pretrain-{args.seed}",
        )

    earlier = state.pop("sittings", [])  # each sitting's settings, this one's added on save
    device = torch.device(args.device)
    start = time.perf_counter()
    last_save = start
    tokens_before, first_step = state["tokens"], state["step"]
    budget = args.minutes * 60
    bar = tqdm(total=args.total_steps, initial=state["step"], desc="pretraining", unit="step")

    def save() -> None:
        args.out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(args.out)
        tokenizer.save_pretrained(args.out)
        torch.save(optimizer.state_dict(), args.out / "optimizer.pt")
        done = state | {"seconds": state["seconds"] + time.perf_counter() - start}
        cpu = platform.processor() or platform.machine()
        gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
        done["hardware"] = f"{cpu}, {os.cpu_count()} cores, device {args.device}{gpu}"
        # the sitting's settings, with the architecture the model really has (a resumed
        # run keeps the checkpoint's, whatever the flags say)
        c = model.config
        sitting = {k: str(v) for k, v in vars(args).items()} | {
            "hidden": str(c.hidden_size),
            "layers": str(c.num_hidden_layers),
            "heads": str(c.num_attention_heads),
            "intermediate": str(c.intermediate_size),
            "grid_positions": getattr(c, "grid_encoding", "none"),
            "edge_positions": str(getattr(c, "edge_positions", False)),
            "static_pairs": str(getattr(c, "static_pairs", 0)),
            "tokens_at_end": str(state["tokens"]),
        }
        done["sittings"] = earlier + [sitting]
        (args.out / STATE).write_text(json.dumps(done, indent=1))

    batches = torch.utils.data.DataLoader(
        Batches(tasks, encoder, families, args, first_step=state["step"]),
        batch_size=None,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
    )
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else None

    # a sitting by the clock warms a fresh optimizer up from its own first step
    warm_from = first_step if fresh_optimizer else 0

    def lr_factor() -> float:
        if args.schedule_by == "steps":
            return schedule(state["step"])
        return time_schedule(state["step"] - warm_from, (time.perf_counter() - start) / budget)

    for chunks, n_tokens in batches:
        if state["step"] >= args.total_steps or time.perf_counter() - start >= budget:
            break
        lr = args.lr * lr_factor()
        for g in optimizer.param_groups:
            g["lr"] = lr
        chunks = [c.to(device, non_blocking=True) for c in chunks]
        loss_value = optimizer_step(model, params, chunks, optimizer, 1.0, autocast)
        state["step"] += 1
        state["tokens"] += n_tokens
        state["losses"].append(round(loss_value, 4))
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.3f}", tokens=f"{state['tokens'] / 1e6:.1f}M")
        if run is not None:
            run.log(
                {
                    "loss": loss_value,
                    "tokens": state["tokens"],
                    "lr": lr,
                },
                step=state["step"],
            )
        if time.perf_counter() - last_save > args.save_every * 60:
            save()
            last_save = time.perf_counter()
    save()
    bar.close()
    if run is not None:
        run.finish()
    rate = (state["tokens"] - tokens_before) / (time.perf_counter() - start)
    print(
        f"saved {args.out} at step {state['step']}, {state['tokens']:,} tokens"
        f" ({rate:,.0f} tokens/s this sitting)"
    )


class Batches(torch.utils.data.IterableDataset):
    """Endless optimizer-step batches of about --batch-tokens tokens, already made into
    micro-batches (``training.micro_batches``). Each DataLoader worker draws its own stream
    (seeded by the run's seed, the step the sitting starts at, and the worker), so a GPU is not
    kept waiting for one process to generate tasks."""

    def __init__(self, tasks, encoder, families, args, first_step: int) -> None:
        self.tasks, self.encoder, self.families = tasks, encoder, families
        self.args, self.first_step = args, first_step

    def __iter__(self):
        args = self.args
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([args.seed, self.first_step, info.id if info else 0])
        while True:
            pool, n_tokens = [], 0
            while n_tokens < args.batch_tokens:
                seq = draw_sequence(
                    rng,
                    self.tasks,
                    self.families,
                    self.encoder,
                    args.max_length,
                    args.max_side,
                    args.synthetic_fraction,
                    args.self_edit_fraction,
                )
                if seq is not None:
                    pool.append(seq)
                    n_tokens += len(seq.ids)
            width = args.max_length if args.pack else None
            yield micro_batches(pool, args.micro_batch, self.encoder.pad_id, width), n_tokens


if __name__ == "__main__":
    run_cli(main)
