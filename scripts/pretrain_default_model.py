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
import shutil
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from arc_seal.launch import run_cli
from arc_seal.models import default_device, new_llama
from arc_seal.pretrain import STATE, Sitting
from arc_seal.synthetic import RULES
from arc_seal.tokenizer import build_compact_tokenizer

SYNTHETIC_RULES = list(RULES)


def parser() -> argparse.ArgumentParser:
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
    p.add_argument(
        "--synthetic-fraction",
        type=float,
        default=0.5,
        help="share of sequences from a freshly generated synthetic task",
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
        "--schedule-by",
        choices=["steps", "minutes"],
        default="steps",
        help="the cosine decay ends at --total-steps, or at the end of this sitting's --minutes"
        " (one sitting whose step rate is not known ahead, e.g. on a GPU)",
    )
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--save-every", type=float, default=10.0, help="minutes between checkpoints")
    p.add_argument("--wandb", choices=["offline", "online", "disabled"], default="offline")
    _model_flags(p)
    return p


def _model_flags(p: argparse.ArgumentParser) -> None:
    """The architecture of a new model (a resumed one keeps its checkpoint's) and its kernels."""
    p.add_argument("--hidden", type=int, default=160)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=5)
    p.add_argument("--intermediate", type=int, default=480)
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


def check(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse flags that cannot work together, in one line each."""
    if unknown := sorted(set(args.families.split(",")) - set(SYNTHETIC_RULES)):
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


def start(args: argparse.Namespace, tokenizer) -> tuple[torch.nn.Module, dict, list[str]]:
    """The model to train, its trainer state and the tables new to it: the checkpoint in --out
    (copied there from --init-from first), grown by the architecture flags that add tables, or
    a new model."""
    if args.init_from:
        args.out.mkdir(parents=True, exist_ok=True)
        for f in args.init_from.iterdir():
            if f.is_file() and f.name != "optimizer.pt" and f.suffix in (".json", ".safetensors"):
                shutil.copy2(f, args.out / f.name)
        args.resume = True
    if not args.resume:
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
        return model, {"step": 0, "tokens": 0, "seconds": 0.0, "losses": []}, []
    changes = {"edge_positions": True} if args.edge_positions else {}
    if args.static_pairs is not None:
        changes["static_pairs"] = args.static_pairs
    model, info = AutoModelForCausalLM.from_pretrained(
        args.out, dtype=torch.float32, output_loading_info=True, **changes
    )
    with torch.no_grad():  # tables new to the checkpoint start at zero: same function
        for name in info["missing_keys"]:
            model.get_parameter(name).zero_()
    state = json.loads((args.out / STATE).read_text())
    return model, state, info["missing_keys"]


def main() -> None:
    p = parser()
    args = p.parse_args()
    check(p, args)
    if args.threads:
        torch.set_num_threads(args.threads)
    tokenizer = build_compact_tokenizer()
    model, state, grown = start(args, tokenizer)
    Sitting(model, tokenizer, args, state, grown).run()


if __name__ == "__main__":
    run_cli(main)
