"""The command line: ``arc-seal run | evaluate | curate | show | compare``.

Each command parses its flags, resolves its config and hands a recipe (``seal.Experiment``,
``benchmark.Benchmark``, ``curate.Curation``) to ``launch.launch``, which claims the run
directory and runs it; however it stops, it says so in one line. Each command imports what it
needs when it runs, so ``arc-seal --help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from arc_seal.errors import ConfigError
from arc_seal.launch import FAILED_RUN, USAGE_ERROR, launch, run_cli

if TYPE_CHECKING:
    from arc_seal.config import RunConfig
    from arc_seal.distributed import Ranks
# The setting flags `evaluate` and `curate` take (dotted-name prefixes): what trains and answers.
EVALUATE_SETTINGS = ("ttt.", "predict.", "oracle_", "wandb")
CURATE_SETTINGS = ("ttt.", "predict.", "learning_rates", "epoch_options", "pair_seeds", "wandb")


def _parser(fn: Callable, settings: tuple[str, ...] | None = ("",)) -> argparse.ArgumentParser:
    """A command's parser, its help the command's docstring, with --config and the setting
    flags ``settings`` picks (None: neither)."""
    from arc_seal import config as cfg

    parser = argparse.ArgumentParser(
        prog=f"arc-seal {fn.__name__}",
        description=fn.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if settings is not None:
        parser.add_argument("--config", help="shipped config name (default, llama-1b...) or YAML")
        cfg.add_arguments(parser, settings)
    return parser


def _pool_flags(parser: argparse.ArgumentParser, what: str, out_help: str) -> None:
    """The flags `evaluate` and `curate` share: the model, a synthetic pool, a sample of it,
    and the run directory to write or finish."""
    parser.add_argument("--model", help="HF model id or local directory; unset: embedded model")
    parser.add_argument("--synthetic", type=int, help="N fresh synthetic tasks per family")
    parser.add_argument("--max-side", type=int, default=8, help="--synthetic grids' largest side")
    parser.add_argument("--limit", type=int, help=f"only {what} N tasks")
    parser.add_argument("--out", type=Path, help=out_help)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="finish the interrupted work in --out: jobs recorded there are not run again",
    )


def _resolve(args: argparse.Namespace, settings: tuple[str, ...] = ("",)) -> RunConfig:
    """The config: --config's file (default: the shipped default), then the flags given."""
    from arc_seal import config as cfg

    values = cfg.load_yaml(cfg.config_path(args.config or "default"))
    values |= {k: getattr(args, k) for k in ("model", "device") if getattr(args, k, None)}
    return cfg.resolve(args, values, args.config or "default config", settings)


def run(argv: Sequence[str] | None = None) -> int:
    """Run SEAL on an ARC subset: baselines, ReST-EM on self-edits, and the four-row table.

    arc-seal run --subset simplified                   # the embedded model
    arc-seal run --config llama-1b                     # a shipped config, or a YAML path
    arc-seal run --resume runs/20261127-120000-simplified

    Settings come from --config (default: the shipped default), then the flags below. A run
    directory collects the resolved config, one record per job, the results table, ARC Prize
    predictions, pictures and W&B files; --resume finishes it without redoing a job.
    """
    from arc_seal import config as cfg
    from arc_seal.seal import Experiment

    parser = _parser(run)
    parser.add_argument("--resume", type=Path, help="run directory to finish, as it began")
    args = parser.parse_args(argv)
    if args.resume and args.config:
        raise ConfigError("--config cannot change a resumed run: it keeps its config.yaml")
    if args.resume:
        config = cfg.for_resume(cfg.stored_config(args.resume), args, str(args.resume))
        run_dir = args.resume
    else:
        config = _resolve(args)
        run_dir = Path(config.output_dir) if config.output_dir else None

    def recipe(ranks: Ranks) -> Experiment:
        return Experiment(config, ranks)

    again = "arc-seal run --resume {}"
    results, run_dir = launch(config, run_dir, bool(args.resume), config.subset, recipe, again)
    if results is None:  # not rank 0: its share is recorded, rank 0 reports
        return 0
    print((run_dir / "results.md").read_text())
    if failed := results.failed_rows():
        print(f"every job failed in: {', '.join(failed)} (see results.md)", file=sys.stderr)
        return FAILED_RUN
    return 0


def evaluate(argv: Sequence[str] | None = None) -> int:
    """Score a model without the SEAL loop: ICL and oracle rows, pass@2, cell and shape accuracy.

    arc-seal evaluate --subset arc-agi-1-eval-100              # the clean benchmark
    arc-seal evaluate --synthetic 10                           # sanity: fresh synthetic tasks
    arc-seal evaluate --subset simplified --model runs/ckpt --out runs/bench
    arc-seal evaluate --subset simplified --model runs/ckpt --out runs/bench --resume

    Settings (TTT, oracle, prediction) come from --config, then the --ttt.*, --predict.* and
    --oracle-* flags. The subset's eval tasks are scored; with --synthetic, N fresh tasks of
    every synthetic family the embedded model is pretrained on, reported per family.
    """
    from arc_seal.benchmark import BENCHMARK_ROWS, Benchmark, benchmark_tasks
    from arc_seal.records import Stage

    parser = _parser(evaluate, EVALUATE_SETTINGS)
    out_help = "run directory for the records and benchmark.md (default: a new one in runs/)"
    _pool_flags(parser, "the first", out_help)
    parser.add_argument("--subset", help="subset whose eval tasks are scored")
    parser.add_argument("--device", help="cpu, cuda, cuda:N or mps")
    parser.add_argument(
        "--rows",
        nargs="*",
        choices=BENCHMARK_ROWS,
        default=list(BENCHMARK_ROWS),
        help="rows to score (none: only --loss)",
    )
    parser.add_argument("--loss", action="store_true", help="also the held-out loss on answers")
    args = parser.parse_args(argv)
    if args.resume and not args.out:
        raise ConfigError("--resume needs the --out of the evaluation to finish")
    tasks, title = benchmark_tasks(args.subset, args.synthetic, args.max_side, args.limit)
    config = _resolve(args, EVALUATE_SETTINGS)
    name = f"evaluate-{Path(args.subset).stem}" if args.subset else "evaluate-synthetic"
    rows, again = [Stage(r) for r in args.rows], "arc-seal evaluate ... --out {} --resume"

    def recipe(ranks: Ranks) -> Benchmark:
        return Benchmark(config, ranks, tasks, title, rows, args.loss, not args.subset)

    text, out = launch(config, args.out, args.resume, name, recipe, again)
    if text is not None:
        print(f"{text}\nrun directory: {out}")
    return 0


def curate(argv: Sequence[str] | None = None) -> int:
    """Curate a subset for a model: the pool's tasks that some TTT configuration solves.

    arc-seal curate --name embedded-curated --size 16 --limit 60 --out runs/curate
    arc-seal curate --name embedded-curated --size 16 --limit 60 --out runs/curate --resume
    arc-seal curate --name synthetic-curated --synthetic 3 --max-side 5 --size 6 --out runs/cs

    Every pool task is trained on and answered under every configuration of a grid (the
    self-edit space of --config, or a sample of --size), one recorded job each, so --resume
    finishes an interrupted curation. The tasks some configuration solves are split into train
    and eval and written, with the grid, to --write (default tasks/NAME.json); a --synthetic
    pool's kept tasks go to a folder NAME beside it. Settings as for `arc-seal evaluate`.
    """
    from arc_seal.curate import Curation, plan_curation

    parser = _parser(curate, CURATE_SETTINGS)
    _pool_flags(parser, "a seeded sample of", "run directory for the grid (required)")
    parser.add_argument("--name", required=True, help="the curated subset's name")
    parser.add_argument("--pool", default="arc-agi-1-eval", help="subset whose tasks are tried")
    parser.add_argument(
        "--exclude",
        nargs="*",
        default=["arc-agi-1-eval-100", "simplified"],
        help="subsets whose tasks are left out of the pool (benchmarks, the SEAL subset)",
    )
    parser.add_argument("--families", nargs="*", help="--synthetic: only these families")
    parser.add_argument("--size", type=int, help="a seeded sample of N configurations")
    parser.add_argument(
        "--configurations",
        type=Path,
        help="JSON file listing the grid's configurations (self-edits in the reference "
        "layout) instead of the config's self-edit options",
    )
    parser.add_argument("--eval-fraction", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0, help="seeds the samples and the split")
    parser.add_argument("--write", type=Path, help="subset file (default: tasks/NAME.json)")
    args = parser.parse_args(argv)
    if args.out is None:
        raise ConfigError("--out: the run directory for the grid is required")
    config = _resolve(args, CURATE_SETTINGS)
    plan, again = plan_curation(args, config), "arc-seal curate ... --out {} --resume"

    def recipe(ranks: Ranks) -> Curation:
        return Curation(config, ranks, plan)

    launch(config, args.out, args.resume, f"curate-{args.name}", recipe, again)
    return 0


def show(argv: Sequence[str] | None = None) -> int:
    """Draw an ARC task to PNG.

    arc-seal show 007bbfb7 --out task.png        # ARC-AGI-1, else ARC-AGI-2
    arc-seal show path/to/task.json --out task.png
    """
    from arc_seal.data import DATASETS, lookup_tasks
    from arc_seal.render import render_tasks

    parser = _parser(show, None)
    parser.add_argument("task", help="an ARC-AGI-1/2 task id, or an ARC JSON task file")
    parser.add_argument(
        "--out", type=Path, help="PNG path (default: <task id>.png); a folder for a multi-task file"
    )
    parser.add_argument("--dataset", choices=list(DATASETS), help="look the id up only here")
    args = parser.parse_args(argv)
    for path in render_tasks(lookup_tasks(args.task, args.dataset), args.out):
        print(path)
    return 0


def compare(argv: Sequence[str] | None = None) -> int:
    """Put several runs of one setting (different seeds) into one table: mean [lowest, highest].

    arc-seal compare runs/seed0 runs/seed1 runs/seed2
    arc-seal compare runs/seal-0 runs/seal-1 --blind runs/blind-0 runs/blind-1 --picture c.png
    """
    from arc_seal.report import choice_panels, read_results, seeds_markdown

    parser = _parser(compare, None)
    parser.add_argument("runs", type=Path, nargs="+", help="run directories with results.json")
    parser.add_argument(
        "--blind",
        type=Path,
        nargs="+",
        default=[],
        help="the runs' SEAL-blind twins (blind: true, one per seed): their SEAL rows are put "
        "beside the runs' and compared",
    )
    parser.add_argument(
        "--picture", type=Path, help="write the policy's choices per family here (PNG)"
    )
    args = parser.parse_args(argv)
    runs = read_results(args.runs)
    blind = read_results(args.blind) if args.blind else []
    if blind and {(r.subset, r.model) for r in blind} != {(runs[0].subset, runs[0].model)}:
        raise ConfigError("--blind: the twins ran on another subset or model than the runs")
    print(seeds_markdown(runs, blind))
    panels = choice_panels(runs, blind)
    if args.picture and panels:
        from arc_seal.render import render_choices

        print(f"choices per family: {render_choices(panels, args.picture)}")
    return 0


COMMANDS = {fn.__name__: fn for fn in (run, evaluate, curate, show, compare)}


def main(argv: Sequence[str] | None = None) -> None:
    """``arc-seal COMMAND ...``: the entry point installed with the package."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        lines = [f"  {name:<8} {fn.__doc__.splitlines()[0]}" for name, fn in COMMANDS.items()]
        print("usage: arc-seal {" + ",".join(COMMANDS) + "} ...\n\ncommands:\n" + "\n".join(lines))
        sys.exit(0 if argv and argv[0] in ("-h", "--help") else USAGE_ERROR)
    command = COMMANDS[argv[0]]
    run_cli(lambda: command(argv[1:]))
