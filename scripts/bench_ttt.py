"""Time one self-edit evaluation (TTT + voted prediction): arc-seal's engine against a
reference-style baseline, on the same task, model and training data.

The baseline is what the reference does: a fresh PEFT adapter per run, transformers'
Trainer with batch 2 padded to the longest sequence in random batches, then one greedy
generation per query. Prints the parts, then one JSON object as its last line.

    python scripts/bench_ttt.py                                   # CPU-sized random Llama
    python scripts/bench_ttt.py --shape llama-1b --device cuda    # Llama-3.2-1B shape, bf16
    python scripts/bench_ttt.py --model path/to/checkpoint
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time

import numpy as np
import torch
from peft import LoraConfig, get_peft_model
from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

from arc_seal.data import find_task
from arc_seal.encoding import TaskEncoder
from arc_seal.launch import run_cli
from arc_seal.models import default_device, default_dtype, load_model, new_llama
from arc_seal.predict import (
    PredictConfig,
    Prediction,
    build_queries,
    predict,
    read_answers,
    score,
    vote,
)
from arc_seal.tokenizer import build_compact_tokenizer
from arc_seal.training import causal_lm_loss, collate, length_grouped_batches
from arc_seal.ttt import TTTConfig, TTTEngine

# (hidden, layers, heads, kv heads, intermediate, vocab or None for the tokenizer's)
SHAPES = {
    "cpu": (256, 4, 8, 8, 1024, None),
    "cpu-llama-vocab": (256, 4, 8, 8, 1024, 128256),  # the same body with Llama 3's vocabulary
    "llama-1b": (2048, 16, 32, 8, 8192, 128256),
}


def build(args):
    if args.model:
        return load_model(args.model, device=args.device)
    tok = build_compact_tokenizer()
    hidden, layers, heads, kv, inter, vocab = SHAPES[args.shape]
    model = new_llama(tok, hidden, layers, heads, kv, inter, vocab_size=vocab)
    return model.to(device=args.device, dtype=default_dtype(args.device)), tok


def bare_tokens_per_s(engine: TTTEngine, seqs, batch_size: int) -> float:
    """Forward + backward on the engine's own batches: no data building, no optimizer."""
    batches = length_grouped_batches(
        [len(s.ids) for s in seqs], batch_size, np.random.default_rng(0)
    )
    engine.model.train()
    tokens, start = 0, time.perf_counter()
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=engine.device.type == "cuda")
    for batch in batches:
        chunk = collate([seqs[i] for i in batch], engine.encoder.pad_id, engine.device)
        with autocast:
            causal_lm_loss(engine.model, chunk).backward()
        tokens += chunk.tokens
    engine.model.zero_grad(set_to_none=True)
    engine.model.eval()
    _sync(engine.device)
    return tokens / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def baseline(pristine, tokenizer, task, config: TTTConfig, seqs, predict_config, engine) -> dict:
    """Reference-style: fresh adapter, Trainer, random batches padded to the longest, then
    one generation per query."""
    start = time.perf_counter()
    model = get_peft_model(
        copy.deepcopy(pristine),
        LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=list(config.lora_targets),
            task_type="CAUSAL_LM",
        ),
    )
    data = [
        {"input_ids": s.ids, "labels": s.labels, "attention_mask": [1] * len(s.ids)} for s in seqs
    ]
    cuda = next(model.parameters()).device.type == "cuda"
    steps = config.epochs * -(-len(seqs) // config.batch_size)
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=config.batch_size,
            num_train_epochs=config.epochs,
            learning_rate=config.learning_rate,
            lr_scheduler_type="cosine",
            warmup_steps=int(config.warmup_fraction * steps),
            max_grad_norm=config.grad_clip,
            weight_decay=0.0,
            save_strategy="no",
            logging_strategy="no",
            report_to=[],
            bf16=cuda,
            use_cpu=not cuda,
            seed=config.seed,
            remove_unused_columns=False,
            disable_tqdm=True,
        )
        collator = DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100)
        Trainer(model=model, args=args, train_dataset=data, data_collator=collator).train()
    _sync(next(model.parameters()).device)
    ttt_s = time.perf_counter() - start
    model.eval()
    start = time.perf_counter()
    preds = []
    for i in range(len(task.test)):
        queries = build_queries(task, i, predict_config)
        prompts = [engine.encoder.prompt_ids(q.context, q.input) for q in queries]
        max_new = predict_config.max_new_tokens or engine.encoder.max_answer_tokens
        texts = [one_generation(model, engine.encoder, p, max_new) for p in prompts]
        candidates = read_answers(queries, texts, engine.encoder.format)
        preds.append(Prediction(vote(candidates), candidates))
    predict_s = time.perf_counter() - start
    return {"ttt_s": ttt_s, "predict_s": predict_s, "verdict": score(task, preds)}


@torch.no_grad()
def one_generation(model, encoder: TaskEncoder, prompt: list[int], max_new: int) -> str:
    """The reference's decoding: ``model.generate`` on one prompt, greedy, no grammar."""
    ids = torch.tensor([prompt], device=next(model.parameters()).device)
    stop = [i for i in (encoder.end_token_id, encoder.tokenizer.eos_token_id) if i is not None]
    out = model.generate(
        ids, max_new_tokens=max_new, do_sample=False, eos_token_id=stop, pad_token_id=encoder.pad_id
    )
    return encoder.decode_answer(out[0, len(prompt) :].tolist())


def engine_format_answer(tokenizer, grid) -> str:
    return TaskEncoder(tokenizer).format.answer_text(grid)


def random_batch_padding(lengths: list[int], batch_size: int, seed: int) -> float:
    order = np.random.default_rng(seed).permutation(len(lengths))
    real = padded = 0
    for i in range(0, len(order), batch_size):
        batch = [lengths[j] for j in order[i : i + batch_size]]
        real += sum(batch)
        padded += max(batch) * len(batch)
    return 1 - real / padded


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--task", default="5582e5ca", help="ARC-AGI-1 task id")
    parser.add_argument(
        "--model", help="HF id or local checkpoint (default: a random Llama of --shape)"
    )
    parser.add_argument("--shape", choices=list(SHAPES), default="cpu")
    parser.add_argument("--device", default=default_device())
    parser.add_argument("--families", default="basic,size,chain,repeat")
    parser.add_argument("--epochs", type=int, default=2, help="the reference's oracle: 2")
    parser.add_argument("--max-sequences", type=int, default=250)
    parser.add_argument(
        "--max-new-tokens", type=int, help="default: the largest demonstration output's length"
    )
    parser.add_argument(
        "--peak-tflops", type=float, default=989.0, help="for MFU on GPU (H100 bf16)"
    )
    return parser


def main() -> None:
    args = parser().parse_args()
    torch.manual_seed(0)
    task = find_task(args.task)
    model, tokenizer = build(args)
    pristine = copy.deepcopy(model)
    n_params = sum(p.numel() for p in model.parameters())
    config = TTTConfig(
        families=tuple(f for f in args.families.split(",") if f),
        epochs=args.epochs,
        max_sequences=args.max_sequences,
        max_steps=None,
    )
    # A random model never writes the end marker; bound answers by the task's largest
    # demonstration output so both sides decode what a trained model would.
    widest = max(
        len(
            tokenizer(engine_format_answer(tokenizer, e.output), add_special_tokens=False)[
                "input_ids"
            ]
        )
        for e in task.train
    )
    predict_config = PredictConfig(max_new_tokens=args.max_new_tokens or widest)
    engine = TTTEngine(model, tokenizer, config)
    seqs, _ = engine.encode(task, config)
    print(
        f"task {task.id}: {len(seqs)} sequences, {sum(len(s.ids) for s in seqs)} tokens; "
        f"model {n_params / 1e6:.1f}M parameters on {args.device}"
    )

    bare = bare_tokens_per_s(engine, seqs, config.batch_size)

    start = time.perf_counter()
    result = engine.train(task, config)
    _sync(engine.device)
    ttt_s = time.perf_counter() - start
    start = time.perf_counter()
    verdict = score(task, predict(engine.model, engine.encoder, task, predict_config))
    predict_s = time.perf_counter() - start
    ours = {"ttt_s": ttt_s, "predict_s": predict_s, "verdict": verdict}
    print(f"arc-seal: TTT {ttt_s:.1f}s ({result.steps} steps), predict {predict_s:.1f}s, {verdict}")

    ref = baseline(pristine, tokenizer, task, config, seqs, predict_config, engine)
    print(f"baseline: TTT {ref['ttt_s']:.1f}s, predict {ref['predict_s']:.1f}s, {ref['verdict']}")

    arc_seal_s = ours["ttt_s"] + ours["predict_s"]
    baseline_s = ref["ttt_s"] + ref["predict_s"]
    report = {
        "device": args.device,
        "model": args.model or f"random-{args.shape}",
        "parameters": n_params,
        "task": task.id,
        "sequences": len(seqs),
        "steps": result.steps,
        "arc_seal_s": round(arc_seal_s, 3),
        "baseline_s": round(baseline_s, 3),
        "speedup": round(baseline_s / arc_seal_s, 2),
        "arc_seal_ttt_s": round(ours["ttt_s"], 3),
        "baseline_ttt_s": round(ref["ttt_s"], 3),
        "arc_seal_predict_s": round(ours["predict_s"], 3),
        "baseline_predict_s": round(ref["predict_s"], 3),
        "padding_fraction": round(result.padding_fraction, 4),
        "baseline_padding_fraction": round(
            random_batch_padding([len(s.ids) for s in seqs], config.batch_size, 0), 4
        ),
        "ttt_tokens_per_s": round(result.tokens / ttt_s, 1),
        "bare_tokens_per_s": round(bare, 1),
    }
    if args.device.startswith("cuda"):
        # forward + backward ~ 6 FLOPs per parameter per token
        report["mfu"] = round(6 * n_params * result.tokens / ttt_s / (args.peak_tflops * 1e12), 4)
        report["peak_memory_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    print(json.dumps(report))


if __name__ == "__main__":
    run_cli(main)
