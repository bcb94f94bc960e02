"""The command line: ``arc-seal run | evaluate | curate | show | compare``.

Each command parses its flags, resolves its config and hands a recipe (``seal.Experiment``,
``benchmark.Benchmark``, ``curate.Curation``) to ``launch``, which claims the run directory
and runs it. However a command stops, it says so in one line: a user mistake exits with
status 2, Ctrl-C or SIGTERM (a scheduler's preemption) with 130 or 143 and how to resume, a
full disk with 1 — never a traceback. Each command imports what it needs when it runs, so
``arc-seal --help`` answers at once.
"""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arc_seal.errors import USER_ERRORS, ConfigError

if TYPE_CHECKING:
    from arc_seal.config import RunConfig
    from arc_seal.distributed import Ranks

USAGE_ERROR, FAILED_RUN = 2, 1
# The setting flags `evaluate` and `curate` take (dotted-name prefixes): what trains and answers.
EVALUATE_SETTINGS = ("ttt.", "predict.", "oracle_", "wandb")
CURATE_SETTINGS = ("ttt.", "predict.", "learning_rates", "epoch_options", "wandb")


class Stopped(KeyboardInterrupt):
    """Ctrl-C or a termination signal: the command stops as Ctrl-C stops it."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.status = 128 + signum  # the shell's status for a process ended by the signal


def _stop(signum: int, frame: object) -> None:
    raise Stopped(signum)


def run_cli(main: Callable[[], int | None]) -> None:
    """Run ``main``; a bad task file or config, or an unknown task, subset or model, exits with
    status 2 and one line; Ctrl-C and SIGTERM with 130 and 143. ``main``'s own return value is
    the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    signal.signal(signal.SIGTERM, _stop)
    try:
        status = main()
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(USAGE_ERROR)
    except KeyboardInterrupt as e:
        if not getattr(e, "told", False):
            print("interrupted", file=sys.stderr)
        sys.exit(getattr(e, "status", 128 + signal.SIGINT))
    sys.exit(status or 0)


def launch(
    config: RunConfig,
    run_dir: Path | None,
    resume: bool,
    name: str,
    make: Callable[[Ranks], Any],
    again: str,
) -> tuple[Any, Path]:
    """``make(ranks)`` (a recipe: it loads the model) and its ``run(run_dir)``'s result, on
    ``run_dir`` (made empty, or with ``resume`` the one to finish) or a new
    ``runs/<timestamp>-<name>``. A directory to resume is claimed before the load, so one in use
    is refused at once; a new one after it, so a model that fails to load leaves none behind.
    Stopped by Ctrl-C, SIGTERM or a full disk, rank 0 says how to finish: ``again`` with the
    run directory for ``{}``."""
    from arc_seal.distributed import from_environment
    from arc_seal.records import claim_run_dir, prepare_run_dir
    from arc_seal.report import check_wandb_login

    check_wandb_login(config.wandb)
    ranks = from_environment(config.device)
    with ExitStack() as held:  # rank 0 holds the run directory's lock until the run ends
        if resume:
            run_dir = claim_run_dir(run_dir, resume, config, name, ranks, held)
            recipe = make(ranks)
        else:
            if run_dir is not None and ranks.main:
                prepare_run_dir(run_dir, check_only=True)  # before the model loads
            recipe = make(ranks)
            run_dir = claim_run_dir(run_dir, resume, config, name, ranks, held)
        if ranks.main:
            world = f" ({ranks.world} ranks)" if ranks.world > 1 else ""
            print(f"run directory: {run_dir}{world}", flush=True)
        finish = f"finish the run with `{again.format(run_dir)}`"
        try:
            return recipe.run(run_dir), run_dir
        except KeyboardInterrupt as e:
            if ranks.main:
                print(f"interrupted: every finished job is recorded; {finish}", file=sys.stderr)
            e.told = True
            raise
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            print(
                f"error: {e.filename or run_dir}: {e.strerror}; every finished job is recorded; "
                f"free some space, then {finish}",
                file=sys.stderr,
            )
            sys.exit(FAILED_RUN)


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


def _resolve(args: argparse.Namespace, settings: tuple[str, ...] = ("",)) -> RunConfig:
    """The config: --config's file (default: the shipped default), then the flags given."""
    from arc_seal import config as cfg

    name = args.config or "default"
    values = cfg.load_yaml(cfg.config_path(name))
    values |= {k: getattr(args, k) for k in ("model", "device") if getattr(args, k, None)}
    return cfg.resolve(args, values, args.config or "default config", settings)


def run(argv: Sequence[str] | None = None) -> int:
    """Run SEAL on an ARC subset: baselines, ReST-EM on self-edits, and the four-row table.

    arc-seal run --subset simplified                   # the embedded model
    arc-seal run --config llama-1b                     # a shipped config, or a YAML path
    arc-seal run --resume runs/20261127-120000-simplified

    Settings come from --config (YAML; default: the shipped default config), then from the
    flags below, which override it. A run directory collects the resolved config, one record
    per job, the results table, ARC Prize-format predictions, pictures and W&B files; --resume
    finishes an interrupted run without redoing finished jobs, under the settings it began with.
    """
    from arc_seal import config as cfg
    from arc_seal.seal import Experiment, failed_rows

    parser = _parser(run)
    parser.add_argument(
        "--resume", type=Path, help="run directory to finish; its stored config.yaml is used"
    )
    args = parser.parse_args(argv)
    if args.resume and args.config:
        raise ConfigError("--config cannot change a resumed run: it keeps its config.yaml")
    if args.resume:
        config = cfg.for_resume(cfg.stored_config(args.resume), args, str(args.resume))
        run_dir = args.resume
    else:
        config = _resolve(args)
        run_dir = Path(config.output_dir) if config.output_dir else None
    results, run_dir = launch(
        config,
        run_dir,
        bool(args.resume),
        config.subset,
        lambda ranks: Experiment(config, ranks),
        "arc-seal run --resume {}",
    )
    if results is None:  # not rank 0: its share is recorded, rank 0 reports
        return 0
    print((run_dir / "results.md").read_text())
    failed = failed_rows(results)
    if failed:
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
    --oracle-* flags, as for `arc-seal run`. The benchmark's eval tasks are scored; with
    --synthetic, N fresh tasks of every synthetic family the embedded model is pretrained on,
    reported per family.
    """
    from arc_seal.benchmark import BENCHMARK_ROWS, Benchmark, benchmark_tasks
    from arc_seal.records import Stage

    parser = _parser(evaluate, EVALUATE_SETTINGS)
    parser.add_argument("--subset", help="subset whose eval tasks are scored")
    parser.add_argument("--synthetic", type=int, help="fresh synthetic tasks per family")
    parser.add_argument("--max-side", type=int, default=8, help="--synthetic grids' largest side")
    parser.add_argument("--model", help="HF model id or local directory; unset: embedded model")
    parser.add_argument("--device", help="cpu, cuda, cuda:N or mps")
    parser.add_argument(
        "--rows",
        nargs="*",
        choices=BENCHMARK_ROWS,
        default=list(BENCHMARK_ROWS),
        help="rows to score (none: only --loss)",
    )
    parser.add_argument("--limit", type=int, help="score only the first N tasks")
    parser.add_argument("--loss", action="store_true", help="also the held-out loss on answers")
    parser.add_argument(
        "--out",
        type=Path,
        help="run directory for records.jsonl (each job as it finishes), benchmark.json and "
        ".md (default: a new runs/<timestamp>-evaluate-<subset>)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="finish the interrupted evaluation in --out: jobs recorded there are not run again",
    )
    args = parser.parse_args(argv)
    if args.resume and not args.out:
        raise ConfigError("--resume needs the --out of the evaluation to finish")
    tasks, title = benchmark_tasks(args.subset, args.synthetic, args.max_side, args.limit)
    config = _resolve(args, EVALUATE_SETTINGS)
    name = f"evaluate-{Path(args.subset).stem}" if args.subset else "evaluate-synthetic"
    rows = [Stage(r) for r in args.rows]
    text, out = launch(
        config,
        args.out,
        args.resume,
        name,
        lambda ranks: Benchmark(config, ranks, tasks, title, rows, args.loss, not args.subset),
        "arc-seal evaluate ... --out {} --resume",
    )
    if text is not None:
        print(f"{text}\nrun directory: {out}")
    return 0


def curate(argv: Sequence[str] | None = None) -> int:
    """Curate a subset for a model: the pool's tasks that some TTT configuration solves.

    arc-seal curate --name embedded-curated --size 16 --limit 60 --out runs/curate
    arc-seal curate --name embedded-curated --size 16 --limit 60 --out runs/curate --resume
    arc-seal curate --name synthetic-curated --synthetic 3 --max-side 5 --size 6 --out runs/cs

    Every pool task is trained on and answered under every configuration of a grid (the
    self-edit space of --config, or a seeded sample of --size): one job each, recorded in
    OUT/records.jsonl as it completes, so --resume finishes an interrupted curation (under the
    same pool and settings). Settings (TTT, prediction, the self-edit space) come from
    --config, then the --ttt.*, --predict.*, --learning-rates and --epoch-options flags. The
    tasks some configuration solves are split (seeded) into train and eval and written, with
    the grid, to --write (default tasks/NAME.json). With --synthetic the pool is fresh
    synthetic tasks (a seed the sanity check and pretraining do not use), and the kept ones
    are written as task files to a folder NAME beside the subset file.
    """
    from arc_seal.curate import (
        Curation,
        check_same_pool,
        configurations,
        draw_pool,
        read_configurations,
    )
    from arc_seal.self_edit import SelfEditSpace

    parser = _parser(curate, CURATE_SETTINGS)
    parser.add_argument("--name", required=True, help="the curated subset's name")
    parser.add_argument("--model", help="HF model id or local directory; unset: embedded model")
    parser.add_argument("--pool", default="arc-agi-1-eval", help="subset whose tasks are tried")
    parser.add_argument(
        "--exclude",
        nargs="*",
        default=["arc-agi-1-eval-100", "simplified"],
        help="subsets whose tasks are left out of the pool (benchmarks, the SEAL subset)",
    )
    parser.add_argument("--synthetic", type=int, help="pool: N fresh tasks of every family")
    parser.add_argument("--max-side", type=int, default=8, help="--synthetic grids' largest side")
    parser.add_argument("--families", nargs="*", help="--synthetic: only these families")
    parser.add_argument("--limit", type=int, help="try a seeded sample of N pool tasks")
    parser.add_argument("--size", type=int, help="a seeded sample of N configurations")
    parser.add_argument(
        "--configurations",
        type=Path,
        help="JSON file listing the grid's configurations (self-edits in the reference "
        "layout) instead of the config's self-edit options",
    )
    parser.add_argument("--eval-fraction", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0, help="seeds the samples and the split")
    parser.add_argument("--out", type=Path, required=True, help="run directory for the grid")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="finish the interrupted curation in --out: pairs recorded there are not run again",
    )
    parser.add_argument("--write", type=Path, help="subset file (default: tasks/NAME.json)")
    args = parser.parse_args(argv)
    if not 0 < args.eval_fraction < 1:
        raise ConfigError(f"--eval-fraction {args.eval_fraction}: expected between 0 and 1")
    config = _resolve(args, CURATE_SETTINGS)
    tasks, dataset = draw_pool(
        args.pool,
        args.exclude,
        args.synthetic,
        args.max_side,
        args.families,
        args.limit,
        args.seed,
    )
    if args.configurations:
        space = SelfEditSpace(tuple(read_configurations(args.configurations)))
    else:
        space = SelfEditSpace.product(config.learning_rates, config.epoch_options)
    configs = configurations(space, args.size, args.seed)
    drawn = {k: getattr(args, k) for k in ("pool", "exclude", "synthetic", "max_side", "limit")}
    drawn |= {"size": args.size, "seed": args.seed, "tasks": [t.id for t in tasks]}
    drawn |= {"configurations": [c.text() for c in configs]}
    if args.resume:
        check_same_pool(args.out, drawn)
    target = args.write or Path("tasks") / f"{args.name}.json"
    launch(
        config,
        args.out,
        args.resume,
        f"curate-{args.name}",
        lambda ranks: Curation(
            config,
            ranks,
            tasks,
            dataset or args.name,
            configs,
            drawn,
            target,
            args.eval_fraction,
            args.seed,
            generated=bool(args.synthetic),
        ),
        "arc-seal curate ... --out {} --resume",
    )
    return 0


def show(argv: Sequence[str] | None = None) -> int:
    """Draw an ARC task to PNG.

    arc-seal show 007bbfb7 --out task.png        # ARC-AGI-1, else ARC-AGI-2
    arc-seal show path/to/task.json --out task.png
    """
    from arc_seal.data import DATASETS, lookup_tasks
    from arc_seal.render import render_task

    parser = _parser(show, None)
    parser.add_argument("task", help="an ARC-AGI-1/2 task id, or an ARC JSON task file")
    parser.add_argument(
        "--out", type=Path, help="PNG path (default: <task id>.png); a folder for a multi-task file"
    )
    parser.add_argument("--dataset", choices=list(DATASETS), help="look the id up only here")
    args = parser.parse_args(argv)
    tasks = lookup_tasks(args.task, args.dataset)
    for task in tasks:
        if len(tasks) == 1:
            out = args.out or Path(f"{task.id}.png")
        else:  # a file of several tasks: --out names a folder
            out = (args.out or Path(".")) / f"{task.id}.png"
        try:
            print(render_task(task, out, title=f"{task.id} ({task.source})"))
        except OSError as e:
            raise ConfigError(f"{out}: cannot write the picture ({e.strerror})") from None
    return 0


def compare(argv: Sequence[str] | None = None) -> int:
    """Put several runs of one setting (different seeds) into one table: mean [lowest, highest].

    arc-seal compare runs/seed0 runs/seed1 runs/seed2
    """
    from arc_seal.report import read_results, seeds_markdown

    parser = _parser(compare, None)
    parser.add_argument("runs", type=Path, nargs="+", help="run directories with results.json")
    args = parser.parse_args(argv)
    results = [read_results(run_dir) for run_dir in args.runs]
    settings = {(r["subset"], r["model"]) for r in results}
    if len(settings) > 1:
        raise ConfigError(f"the runs differ in subset or model: {sorted(settings)}")
    print(seeds_markdown(results))
    return 0


COMMANDS = {
    "run": run,
    "evaluate": evaluate,
    "curate": curate,
    "show": show,
    "compare": compare,
}


def main(argv: Sequence[str] | None = None) -> None:
    """``arc-seal COMMAND ...``: the entry point installed with the package."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        lines = [f"  {name:<8} {fn.__doc__.splitlines()[0]}" for name, fn in COMMANDS.items()]
        print("usage: arc-seal {" + ",".join(COMMANDS) + "} ...\n\ncommands:\n" + "\n".join(lines))
        sys.exit(0 if argv and argv[0] in ("-h", "--help") else USAGE_ERROR)
    command = COMMANDS[argv[0]]
    run_cli(lambda: command(argv[1:]))
