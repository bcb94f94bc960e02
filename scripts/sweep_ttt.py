"""Which test-time training recipe helps: the oracle row under one changed setting per variant.

Every variant starts from --config and changes the settings it names (dotted, as the
``arc-seal run`` flags: ``oracle_learning_rate``, ``ttt.method``, ``predict.views``...); each
task is trained on and answered under each variant, beside the bare model (``icl``) and the
trivial answer. Each variant is a run directory of its own, OUT/<variant>/, holding its
settings and one job record per task, appended as it finishes, so a second call with the
same --out finishes an interrupted sweep (a variant whose settings changed is refused); the
table (per family for synthetic tasks) is printed and written to OUT/sweep.md.

    python scripts/sweep_ttt.py --synthetic 1 --out runs/sweep-sanity
    python scripts/sweep_ttt.py --subset simplified --out runs/sweep-simplified
    python scripts/sweep_ttt.py --synthetic 2 --variants default "leave-2 contexts" --out runs/sw2
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from arc_seal import config as cfg
from arc_seal.augment import D8
from arc_seal.benchmark import family_summary, sanity_tasks, score_in_run_dir, summary
from arc_seal.cli import run_cli
from arc_seal.data import load_subset
from arc_seal.distributed import from_environment
from arc_seal.errors import ConfigError
from arc_seal.records import Stage
from arc_seal.report import summary_markdown

D8_VIEWS = [t.name for t in D8]
# name -> the settings it changes from the config; a name starting with ``icl`` is a row of the
# bare model (no TTT), the others the oracle row.
VARIANTS: dict[str, dict] = {
    "icl": {},
    "icl, views identity": {"predict.views": ["identity"]},
    "icl, views D8": {"predict.views": D8_VIEWS},
    "icl, 2 orders": {"predict.orders": 2},
    "icl, leave-one-out contexts": {"predict.leave_one_out": True},
    "default": {},
    "lr 3e-4": {"oracle_learning_rate": 3e-4},
    "lr 3e-3": {"oracle_learning_rate": 3e-3},
    "full, lr 1e-4": {"ttt.method": "full", "oracle_learning_rate": 1e-4},
    "full, lr 3e-5": {"ttt.method": "full", "oracle_learning_rate": 3e-5},
    "lora r 128": {"ttt.lora_r": 128, "ttt.lora_alpha": 128},
    "tokens 2,048": {"ttt.tokens_per_epoch": 2048},
    "tokens 4,096": {"ttt.tokens_per_epoch": 4096},
    "tokens 12,288": {"ttt.tokens_per_epoch": 12288},
    "tokens 24,576": {"ttt.tokens_per_epoch": 24576},
    "leave-1 contexts": {"ttt.leave_out": 1},
    "leave-2 contexts": {"ttt.leave_out": 2},
    "no augmentation": {"oracle_families": []},
    "basic only": {"oracle_families": ["basic"]},
    "no demo loss": {"ttt.demo_outputs": False},
    "colours x8": {"oracle_families": [], "ttt.colour_copies": 8},
    "colours x8, all families": {"ttt.colour_copies": 8},
    "views identity": {"predict.views": ["identity"]},
    "views D8": {"predict.views": D8_VIEWS},
    "2 orders": {"predict.orders": 2},
    "poe": {"predict.scoring": "poe"},
    "dfs candidates": {"predict.candidates": "dfs"},
    # long budgets: the two changes that paid at 16x together; and stopping a task's training
    # once its leave-out loss stops falling
    "lr 3e-3, colours x8": {"oracle_learning_rate": 3e-3, "ttt.colour_copies": 8},
    "stop patience 2": {"ttt.stop_patience": 2},
    "stop patience 4, delta 0.001": {"ttt.stop_patience": 4, "ttt.stop_min_delta": 0.001},
    # the second round: the prediction side that helped, with each training change that kept
    # cell accuracy in the first
    "views D8, tokens 4,096": {"predict.views": D8_VIEWS, "ttt.tokens_per_epoch": 4096},
    "views D8, lr 3e-4": {"predict.views": D8_VIEWS, "oracle_learning_rate": 3e-4},
    "views D8, full, lr 3e-5": {
        "predict.views": D8_VIEWS,
        "ttt.method": "full",
        "oracle_learning_rate": 3e-5,
    },
}


def row_of(name: str) -> Stage:
    return Stage.ICL if name.startswith("icl") else Stage.ORACLE


def folder_of(name: str) -> str:
    """A variant's run directory name: ``views D8, lr 3e-4`` -> ``views-D8-lr-3e-4``."""
    return "-".join(name.replace(",", " ").replace("/", "_").split())


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
    ranks = from_environment(configs[args.variants[0]].device)
    done = {}
    for name, config in configs.items():
        run_dir = args.out / folder_of(name)
        done[name] = score_in_run_dir(run_dir, config, tasks, row_of(name), ranks)
    if not ranks.main:  # its share is recorded; rank 0 reports
        return 0
    table = summary if args.synthetic is None else family_summary
    rows = {name: table(records)[row_of(name)] for name, records in done.items()}
    text = summary_markdown(f"{title}, {len(tasks)} tasks ({threads} threads)", rows)
    (args.out / "sweep.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    run_cli(main)
