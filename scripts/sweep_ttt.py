"""Which test-time training recipe helps: the oracle row under one changed setting per variant.

Every variant starts from --config and changes the settings it names (dotted, as the
``arc-seal run`` flags: ``oracle_learning_rate``, ``ttt.method``, ``predict.views``...); each
task is trained on and answered under each variant, beside the bare model (``icl``) and the
trivial answer. Each (variant, task) is a job record (its stage: the variant) appended to
OUT/records.jsonl as it finishes, so a second call with the same --out finishes an
interrupted sweep; the table (per family for synthetic tasks) is printed and written to
OUT/sweep.md.

    python scripts/sweep_ttt.py --synthetic 1 --out runs/sweep-sanity
    python scripts/sweep_ttt.py --subset simplified --out runs/sweep-simplified
    python scripts/sweep_ttt.py --subset arc-agi-1-eval-100 --limit 25 --variants default full
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from arc_seal import config as cfg
from arc_seal.augment import D8
from arc_seal.benchmark import (
    family_summary,
    sanity_tasks,
    score_tasks,
    summary,
    summary_markdown,
)
from arc_seal.cli import run_cli
from arc_seal.data import load_subset
from arc_seal.errors import ConfigError
from arc_seal.models import DEFAULT_MODEL, load_model
from arc_seal.records import Records, run_lock
from arc_seal.ttt import TTTEngine

D8_VIEWS = [t.name for t in D8]
# name -> the settings it changes from the config; a name starting with ``icl`` is a row of the
# bare model (no TTT), the others the oracle row.
VARIANTS: dict[str, dict] = {
    "icl": {},
    "icl, views D8": {"predict.views": D8_VIEWS},
    "default": {},
    "lr 3e-4": {"oracle_learning_rate": 3e-4},
    "lr 3e-3": {"oracle_learning_rate": 3e-3},
    "full, lr 1e-4": {"ttt.method": "full", "oracle_learning_rate": 1e-4},
    "full, lr 3e-5": {"ttt.method": "full", "oracle_learning_rate": 3e-5},
    "lora r 128": {"ttt.lora_r": 128, "ttt.lora_alpha": 128},
    "tokens x1/3": {"ttt.tokens_per_epoch": 4096},
    "tokens x2": {"ttt.tokens_per_epoch": 24576},
    "no augmentation": {"oracle_families": []},
    "basic only": {"oracle_families": ["basic"]},
    "no demo loss": {"ttt.demo_outputs": False},
    "views D8": {"predict.views": D8_VIEWS},
    "poe": {"predict.scoring": "poe"},
    "dfs candidates": {"predict.candidates": "dfs"},
    # the prediction side that helps, with each training change that kept cell accuracy
    "views D8, tokens x1/3": {"predict.views": D8_VIEWS, "ttt.tokens_per_epoch": 4096},
    "views D8, lr 3e-4": {"predict.views": D8_VIEWS, "oracle_learning_rate": 3e-4},
    "views D8, full, lr 3e-5": {
        "predict.views": D8_VIEWS,
        "ttt.method": "full",
        "oracle_learning_rate": 3e-5,
    },
}


def row_of(name: str) -> str:
    return "icl" if name.startswith("icl") else "oracle"


def variant_config(base: dict, changes: dict, where: str) -> cfg.RunConfig:
    values = json.loads(json.dumps(base))  # a deep copy of plain YAML values
    for dotted, value in changes.items():
        cfg.set_value(values, dotted, value)
    return cfg.from_dict(values, where)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="default", help="shipped config name or YAML file")
    parser.add_argument("--model", help="HF model id or local directory; unset: embedded model")
    parser.add_argument("--subset", help="subset whose eval tasks are scored")
    parser.add_argument("--synthetic", type=int, help="fresh synthetic tasks per family")
    parser.add_argument("--max-side", type=int, default=8, help="--synthetic grids' largest side")
    parser.add_argument("--limit", type=int, help="score only the first N tasks")
    parser.add_argument(
        "--variants",
        nargs="+",
        default=list(VARIANTS),
        choices=list(VARIANTS),
        metavar="NAME",
        help=f"rows to run (default all): {', '.join(VARIANTS)}",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the records, sweep.md")
    args = parser.parse_args()
    if (args.subset is None) == (args.synthetic is None):
        raise ConfigError("give exactly one of --subset and --synthetic")
    if args.synthetic is not None:
        tasks = sanity_tasks(args.synthetic, max_side=args.max_side)
        title = f"{args.synthetic} fresh synthetic tasks per family (grids up to {args.max_side})"
    else:
        tasks, title = load_subset(args.subset).eval, f"subset {args.subset}"
    tasks = tasks[: args.limit] if args.limit else tasks
    base = cfg.load_yaml(cfg.config_path(args.config))
    if args.model:
        base["model"] = args.model
    configs = {
        name: variant_config(base, VARIANTS[name], f"variant {name!r}") for name in args.variants
    }
    args.out.mkdir(parents=True, exist_ok=True)
    threads = os.environ.get("OMP_NUM_THREADS", "all")
    with run_lock(args.out):
        store = Records(args.out)
        for name, config in configs.items():
            todo = [t for t in tasks if store.get((name, 0, t.id, 0)) is None]
            if not todo:
                continue
            print(f"{name}: {len(todo)} tasks")
            model, tokenizer = load_model(
                config.model or DEFAULT_MODEL,
                config.device,
                trust_remote_code=config.trust_remote_code,
            )
            engine = TTTEngine(model, tokenizer, config.ttt)
            score_tasks(engine, todo, config, {name: row_of(name)}, store)
    wanted = {t.id for t in tasks}
    done = [r for r in store.jobs() if r.task_id in wanted and r.stage in configs]
    rows = summary(done) if args.synthetic is None else family_summary(done)
    rows = {name: rows[name] for name in args.variants if name in rows}
    text = summary_markdown(f"{title}, {len(tasks)} tasks ({threads} threads)", rows)
    (args.out / "sweep.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    run_cli(main)
