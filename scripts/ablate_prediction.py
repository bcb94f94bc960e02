"""Which lever turns near misses into exact solves: the oracle row with one lever added per row.

Rows, each adding its lever to the row before (the last has them all):

    default            the config as given (LoRA, its step and sequence caps, greedy, vote)
    + TTT budget       every epoch the same number of trained tokens, whatever the task's size
    + full fine-tuning every weight trains, reset in place between tasks
    + DFS candidates   every answer above the probability cutoff, not only the greedy one
    + PoE scoring      attempts ranked by log-likelihood summed over augmented views

Each row runs the oracle TTT configuration on the subset's eval and train tasks (``--split``)
and reports pass@2 solved, how often the right answer is among the candidates, cell accuracy
beside the trivial answer's, and seconds per task. Markdown and JSON to --out.

    python scripts/ablate_prediction.py --out runs/ablation
    python scripts/ablate_prediction.py --model runs/pretrain --limit 4 --out runs/ablation-quick
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

from arc_seal import config as cfg
from arc_seal.benchmark import score_tasks, summary
from arc_seal.cli import run_cli
from arc_seal.data import load_subset
from arc_seal.models import DEFAULT_MODEL, load_model
from arc_seal.records import prepare_run_dir
from arc_seal.ttt import TTTEngine


def levers(tokens_per_epoch: int, full_lr: float) -> list[tuple[str, dict]]:
    """(row name, settings it adds), in the order they are added."""
    return [
        ("default", {}),
        ("+ TTT budget", {"ttt": {"tokens_per_epoch": tokens_per_epoch, "max_steps": None}}),
        ("+ full fine-tuning", {"ttt": {"method": "full"}, "oracle_learning_rate": full_lr}),
        ("+ DFS candidates", {"predict": {"candidates": "dfs"}}),
        ("+ PoE scoring", {"predict": {"scoring": "poe"}}),
    ]


def merged(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict):
            out[key] = merged(out.get(key) or {}, value)
        else:
            out[key] = value
    return out


def markdown(title: str, rows: list[dict]) -> str:
    lines = [
        f"# {title}",
        "",
        "| row | split | solved (pass@2) | right answer among candidates | cell accuracy "
        "| trivial answer | s / task |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        for split, s in r["splits"].items():
            lines.append(
                f"| {r['row']} | {split} | {s['solved']} / {s['tasks']} "
                f"| {s['truth_in_candidates']:.2f} | {s['cell_accuracy']:.3f} "
                f"| {s['trivial_cell_accuracy']:.3f} | {s['seconds_per_task']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="default", help="shipped config name or YAML file")
    parser.add_argument("--subset", default="simplified")
    parser.add_argument("--model", help="HF model id or local directory; unset: embedded model")
    parser.add_argument("--split", nargs="+", choices=("eval", "train"), default=["eval", "train"])
    parser.add_argument("--limit", type=int, help="only the first N tasks of each split")
    parser.add_argument(
        "--tokens-per-epoch", type=int, default=16384, help="the TTT budget lever's epoch size"
    )
    parser.add_argument(
        "--full-lr", type=float, default=1e-3, help="the oracle learning rate with full fine-tuning"
    )
    parser.add_argument("--rows", type=int, help="only the first N rows")
    parser.add_argument("--out", type=Path, required=True, help="folder for ablation.md/.json")
    args = parser.parse_args()

    base = cfg.load_yaml(cfg.config_path(args.config))
    if args.model:
        base["model"] = args.model
    cfg.from_dict(base, args.config)  # fail on a bad config before anything runs
    subset = load_subset(args.subset)
    splits = {
        s: getattr(subset, s)[: args.limit] if args.limit else getattr(subset, s)
        for s in args.split
    }
    prepare_run_dir(args.out)
    values, rows = base, []
    for name, extra in levers(args.tokens_per_epoch, args.full_lr)[: args.rows]:
        values = merged(values, extra)
        config = cfg.from_dict(values, f"{args.config} {name}")
        model, tokenizer = load_model(config.model or DEFAULT_MODEL, config.device)
        engine = TTTEngine(model, tokenizer, config.ttt)
        row = {"row": name, "settings": extra, "splits": {}, "tasks": {}}
        for split, tasks in splits.items():
            scores = score_tasks(engine, tasks, config, ("oracle",))
            row["splits"][split] = summary(scores)["oracle"]["all"]
            row["tasks"][split] = [s.__dict__ for s in scores]
        rows.append(row)
        print(markdown(f"{subset.name}: oracle row, levers added in turn", rows[-1:]), flush=True)
        title = f"{subset.name}, {config.model or 'embedded default model'}: the oracle row"
        (args.out / "ablation.md").write_text(markdown(title + ", levers added in turn", rows))
        (args.out / "ablation.json").write_text(json.dumps(rows, indent=1))
    print(markdown("all rows", rows))


if __name__ == "__main__":
    run_cli(main)
