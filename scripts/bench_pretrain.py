"""Pretraining throughput: tokens/s and model FLOPs utilisation, padded rows beside packed ones.

Draws one pool of pretraining sequences (the pretraining script's own data path,
``pretrain.draw_sequence``, timed alone), then times optimizer steps over it as padded
micro-batches and as packed rows of --max-length tokens, on a fresh model of the given size.
Prints one JSON line.

Tokens are real tokens (padding is not counted). Model FLOPs per token count the weights
(6 per parameter outside the embeddings, forward and backward) and attention (12 x layers x
width x the keys each token attends to within its own sequence), so padding and the attention
across packed neighbours that the mask removes count for nothing. Utilisation divides by the
device's peak: bf16 dense on CUDA (from the GPU's name, or --peak-tflops), and on CPU the fp32
rate of a large matrix product measured here, so the CPU figure says how close the step comes
to what these cores do at their best.

    python scripts/bench_pretrain.py                          # CPU, the shipped model's size
    python scripts/bench_pretrain.py --device cuda --hidden 512 --layers 8 --heads 8 \\
        --max-length 4096 --micro-batch 16 --steps 20
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from arc_seal.encoding import TaskEncoder
from arc_seal.launch import run_cli
from arc_seal.models import default_device, new_llama
from arc_seal.pretrain import draw_sequences, pretraining_tasks
from arc_seal.synthetic import RULES
from arc_seal.tokenizer import build_compact_tokenizer
from arc_seal.training import micro_batches, optimizer_step

# bf16 dense peak, TFLOP/s, by a word of the device's name
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}


def sequences(n_tokens: int, args: argparse.Namespace) -> tuple[list, float]:
    """About ``n_tokens`` of pretraining sequences, drawn as the pretraining script draws them,
    and the seconds the data path took to draw and encode them."""
    encoder = TaskEncoder(build_compact_tokenizer())
    tasks = pretraining_tasks()
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    pool = draw_sequences(rng, tasks, list(RULES), encoder, args, n_tokens)
    return pool, time.perf_counter() - start


def flops_per_token(model: torch.nn.Module, pool: list) -> float:
    """Training FLOPs per real token: weights and in-sequence causal attention."""
    c = model.config
    embeddings = sum(p.numel() for n, p in model.named_parameters() if "embed" in n)
    weights = sum(p.numel() for p in model.parameters()) - embeddings
    if c.tie_word_embeddings:  # the output layer is a matrix product too
        weights += model.get_output_embeddings().weight.numel()
    lengths = np.array([len(s.ids) for s in pool], dtype=np.float64)
    keys_per_token = float(((lengths + 1) / 2 * lengths).sum() / lengths.sum())
    return 6 * weights + 12 * c.num_hidden_layers * c.hidden_size * keys_per_token


def cpu_peak_gflops(seconds: float = 2.0) -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * 1024**3 * count / (time.perf_counter() - start) / 1e9


def steps_per_mode(pool: list, args: argparse.Namespace, pad_id: int) -> dict[str, list]:
    """The pool cut into optimizer steps of about --batch-tokens, each as micro-batches: padded
    (rows of similar length) and packed (rows of --max-length)."""
    steps, current, n = [], [], 0
    for seq in pool:
        current.append(seq)
        n += len(seq.ids)
        if n >= args.batch_tokens:
            steps.append(current)
            current, n = [], 0
    mb = args.micro_batch
    return {
        "padded": [micro_batches(seqs, mb, pad_id) for seqs in steps],
        "packed": [micro_batches(seqs, mb, pad_id, args.max_length) for seqs in steps],
    }


def time_mode(model, steps: list, device: torch.device, warmup: int) -> dict:
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, fused=device.type == "cuda")
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else None
    tokens = slots = 0
    start = None
    for i, chunks in enumerate(steps):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        chunks = [c.to(device, non_blocking=True) for c in chunks]
        optimizer_step(model, params, chunks, optimizer, 1.0, autocast)
        if i >= warmup:
            tokens += sum(c.tokens for c in chunks)
            slots += sum(c.ids.numel() for c in chunks)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {
        "tokens_per_s": round(tokens / seconds),
        "padding_fraction": round(1 - tokens / slots, 4),
        "steps": len(steps) - warmup,
        "seconds": round(seconds, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default=default_device())
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--intermediate", type=int, default=None, help="default: 3 x hidden")
    parser.add_argument("--max-length", type=int, default=1024, help="row width when packed")
    parser.add_argument("--max-side", type=int, default=12, help="synthetic grids' largest side")
    parser.add_argument("--synthetic-fraction", type=float, default=0.5, help="as in pretraining")
    parser.add_argument("--self-edit-fraction", type=float, default=0.1, help="as in pretraining")
    parser.add_argument("--batch-tokens", type=int, default=8192, help="tokens per step")
    parser.add_argument("--micro-batch", type=int, default=8, help="rows per forward pass")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per mode")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--compile", action="store_true", help="torch.compile the decoder")
    parser.add_argument(
        "--attention",
        choices=["sdpa", "eager", "flex_attention"],
        default="sdpa",
        help="attention kernel (flex_attention: CUDA only, it has no backward pass on CPU)",
    )
    parser.add_argument("--peak-tflops", type=float, help="the device's peak (default: looked up)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    tok = build_compact_tokenizer()
    n_steps = args.steps + args.warmup
    # a step takes at least --batch-tokens: a margin so that every timed step is full
    pool, data_seconds = sequences(int(args.batch_tokens * n_steps * 1.3), args)
    data_tokens = sum(len(s.ids) for s in pool)
    modes = steps_per_mode(pool, args, tok.pad_token_id)
    out = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "max_length": args.max_length,
        "batch_tokens": args.batch_tokens,
        "micro_batch": args.micro_batch,
        "attention": args.attention,
        "data_path_tokens_per_s": round(data_tokens / data_seconds),
    }
    peak = args.peak_tflops
    if peak is None and device.type == "cuda":
        name = out["device"]
        peak = next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    elif peak is None:
        peak = cpu_peak_gflops() / 1000
        out["cpu_fp32_peak_gflops"] = round(peak * 1000, 1)
    if len(modes["padded"]) < n_steps:
        raise RuntimeError(f"drew {len(modes['padded'])} steps of sequences, {n_steps} needed")
    for mode, steps in modes.items():
        model = new_llama(
            tok,
            args.hidden,
            args.layers,
            args.heads,
            intermediate_size=args.intermediate or 3 * args.hidden,
            grid_positions="learned",
        ).to(device)
        model.set_attn_implementation(args.attention)
        model.train()
        if args.compile:
            model.get_decoder().compile()
        out["parameters"] = sum(p.numel() for p in model.parameters())
        result = time_mode(model, steps[:n_steps], device, args.warmup)
        flops = flops_per_token(model, pool)
        result["mfu"] = round(result["tokens_per_s"] * flops / (peak * 1e12), 4) if peak else None
        out[mode] = result
    out["model_flops_per_token"] = round(flops)
    out["packed_over_padded"] = round(
        out["packed"]["tokens_per_s"] / out["padded"]["tokens_per_s"], 3
    )
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    run_cli(main)
