"""Answer tokens per second: arc-seal's cached search against ``model.generate``.

The same prompts (every query the default prediction settings ask about the subset's eval
tasks), the same batch size, greedy: transformers' ``generate`` (stopping at the end marker,
no grammar) and ``arc_seal.decode.search`` (grid grammar, KV cache, its own loop). Then the
search with a probability cutoff (DFS): candidates per query and prefixes fed per second.
Prints a table, then one JSON object as its last line.

    python scripts/bench_decode.py
    python scripts/bench_decode.py --model runs/pretrain --limit 2 --threads 1
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from arc_seal import config as cfg
from arc_seal.data import load_subset
from arc_seal.decode import GridGrammar, search
from arc_seal.encoding import TaskEncoder
from arc_seal.launch import run_cli
from arc_seal.models import DEFAULT_MODEL, load_model
from arc_seal.predict import build_queries, shape_rule


@torch.no_grad()
def with_generate(model, encoder: TaskEncoder, prompts: list[list[int]], batch: int) -> int:
    """Greedy answers from ``model.generate``, left-padded batches; answer tokens written."""
    written = 0
    for start in range(0, len(prompts), batch):
        group = prompts[start : start + batch]
        width = max(map(len, group))
        ids = torch.full((len(group), width), encoder.pad_id)
        mask = torch.zeros_like(ids)
        for row, p in enumerate(group):
            ids[row, width - len(p) :] = torch.tensor(p)
            mask[row, width - len(p) :] = 1
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=encoder.max_answer_tokens,
            do_sample=False,
            eos_token_id=encoder.end_token_id,
            pad_token_id=encoder.pad_id,
        )
        for row in out[:, width:].tolist():
            written += (
                row.index(encoder.end_token_id) + 1 if encoder.end_token_id in row else len(row)
            )
    return written


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="local directory; unset: the embedded model")
    parser.add_argument("--config", default="default", help="prediction settings from here")
    parser.add_argument("--subset", default="simplified")
    parser.add_argument("--limit", type=int, default=4, help="eval tasks to take prompts from")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    parser.add_argument("--cutoff", type=float, default=0.1, help="DFS probability cutoff")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    config = cfg.from_dict(cfg.load_yaml(cfg.config_path(args.config)), args.config).predict
    model, tokenizer = load_model(args.model or DEFAULT_MODEL, "cpu")
    model.eval()
    encoder = TaskEncoder(tokenizer)
    queries = [
        q
        for task in load_subset(args.subset).eval[: args.limit]
        for i in range(len(task.test))
        for q in build_queries(task, i, config)
    ]
    prompts = [encoder.prompt_ids(q.context, q.input) for q in queries]
    shapes = [shape_rule(q.context, q.input) for q in queries]
    grammar = GridGrammar(tokenizer, encoder.format.end_marker)
    batch = config.batch_size

    start = time.perf_counter()
    generated = with_generate(model, encoder, prompts, batch)
    generate_s = time.perf_counter() - start

    start = time.perf_counter()
    greedy = search(model, grammar, prompts, shapes, encoder.pad_id, batch_size=batch)
    search_s = time.perf_counter() - start
    searched = sum(len(a.tokens) for answers in greedy for a in answers)

    start = time.perf_counter()
    found = search(
        model, grammar, prompts, shapes, encoder.pad_id, cutoff=args.cutoff, batch_size=batch
    )
    dfs_s = time.perf_counter() - start
    candidates = sum(map(len, found)) / len(found)

    report = {
        "model": args.model or "embedded default",
        "threads": torch.get_num_threads(),
        "queries": len(prompts),
        "batch_size": batch,
        "generate_tokens_per_s": round(generated / generate_s, 1),
        "search_greedy_tokens_per_s": round(searched / search_s, 1),
        "speedup": round((searched / search_s) / (generated / generate_s), 2),
        "generate_ms_per_token": round(1000 * generate_s / generated, 2),
        "search_ms_per_token": round(1000 * search_s / searched, 2),
        "dfs_cutoff": args.cutoff,
        "dfs_seconds_per_query": round(dfs_s / len(prompts), 3),
        "dfs_candidates_per_query": round(candidates, 2),
    }
    print(f"{len(prompts)} queries, batch {batch}, {report['threads']} threads")
    print(
        f"model.generate: {report['generate_tokens_per_s']} answer tokens/s "
        f"({report['generate_ms_per_token']} ms/token)"
    )
    print(
        f"arc-seal search, greedy: {report['search_greedy_tokens_per_s']} answer tokens/s "
        f"({report['search_ms_per_token']} ms/token), x{report['speedup']}"
    )
    print(
        f"arc-seal search, cutoff {args.cutoff}: {report['dfs_seconds_per_query']} s/query, "
        f"{report['dfs_candidates_per_query']} candidates/query"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    run_cli(main)
