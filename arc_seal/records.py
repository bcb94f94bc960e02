"""The run directory's record store: one typed record per finished job, appended as it ends.

``records.jsonl`` holds one JSON line per finished job, keyed by (stage, iteration, task_id,
sample), flushed and synced as it is written. A run of several processes (``torchrun``) has
each rank append to its own shard, ``records.rank-N.jsonl``; every shard is read, whatever
the world size that wrote it, and the finished run merges them into ``records.jsonl``.
After a crash, a full disk or Ctrl-C at most the line being written is lost: a partial last
line is cut away on resume and that job runs again. A damaged line anywhere else is reported
with its line number, moved to ``records.rejected.jsonl`` and its job redone; nothing else is
lost. ``run_lock`` keeps a second process out of a run directory in use. This module is the
only place records become JSON and back.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from arc_seal.config import check_resumable, store_config
from arc_seal.errors import ConfigError
from arc_seal.self_edit import InvalidSelfEdit, SelfEdit, self_edit_from_json

if TYPE_CHECKING:
    from arc_seal.config import RunConfig
    from arc_seal.distributed import Ranks

log = logging.getLogger(__name__)

RECORDS = "records.jsonl"
REJECTED = "records.rejected.jsonl"
LOCK = "run.lock"
# Crash tests (``CrashTest``): the process sends itself this signal (default SIGKILL) right after
# it has appended this many records.
STOP_AFTER = "ARC_SEAL_STOP_AFTER_RECORDS"
STOP_SIGNAL = "ARC_SEAL_STOP_SIGNAL"
Key = tuple[str, int, str, int]
T = TypeVar("T")


class Stage(StrEnum):
    """What a job is for. A stage is its own name (``str(Stage.ICL) == "icl"``), so records,
    keys and job seeds read as they always have."""

    ICL = "icl"
    """The bare model answers (in-context learning)."""
    ORACLE = "oracle"
    """Test-time training under the oracle configuration, on eval tasks."""
    ORACLE_TRAIN = "oracle_train"
    """The same, on train tasks."""
    NO_RL = "no_rl"
    """Self-edits of the un-reinforced policy, on eval tasks."""
    REST_EM = "rest_em"
    """Self-edits sampled on train tasks, to be rewarded."""
    BASELINE = "baseline"
    """ICL on train tasks, the bar of the ``best_of_n`` reward."""
    SEAL = "seal"
    """Self-edits of the reinforced policy, on eval tasks."""
    SFT = "sft"
    """A ReST-EM policy update (a ``PolicyUpdate``, not a job)."""
    GRID = "grid"
    """Curation: a task under one configuration of the grid (the sample is its index)."""
    CHOICES = "choices"
    """The policy's exact choice probabilities over a grid's configurations, on an eval task
    (iteration 0: before any reinforcement)."""


@dataclass
class TTTStats:
    """What one test-time training run did."""

    learning_rate: float
    epochs: int
    steps: int
    sequences: int
    skipped_too_long: int
    tokens: int
    padding_fraction: float
    losses: list[float]
    seconds: float
    tokens_per_epoch: int | None = None
    """The budget: an epoch's trained tokens (None: an epoch is one pass over the data)."""
    stopped_after: int | None = None
    """Epochs trained when the stopping rule ended the run early; None: the whole budget."""


@dataclass
class JobRecord:
    """One finished job: a task answered (ICL), or trained on and answered (oracle, self-edit).

    ``solved`` is None when the task's test outputs are unknown (a prediction-only run) or the
    job failed before answering; ``failure`` says why a job failed.
    """

    stage: Stage
    iteration: int
    task_id: str
    sample: int
    solved: bool | None = None
    per_test: list[bool] | None = None
    cell_accuracy: float | None = None
    shape_accuracy: float | None = None
    trivial_cell_accuracy: float | None = None
    """What a trivial answer scores at the true shape (``predict.Verdict``)."""
    truth_in_candidates: float | None = None
    attempts: list[list[list[list[int]]]] | None = None
    """Per test input, the attempts as nested lists of cells."""
    failure: str | None = None
    seconds: float = 0.0
    ttt: TTTStats | None = None
    self_edit: SelfEdit | None = None
    """The configuration the job trained under, when a self-edit chose it (stored in the
    reference JSON layout); None when none was valid."""
    self_edit_text: str | None = None
    invalid: str | None = None
    logprob: float | None = None
    tries: int | None = None
    from_grid: bool = False
    """The verdict was read from the subset's grid (``reward_source: grid``), not trained for."""

    @property
    def key(self) -> Key:
        return (self.stage, self.iteration, self.task_id, self.sample)

    @property
    def scored(self) -> bool:
        return self.solved is not None


@dataclass
class PolicyUpdate:
    """One ReST-EM policy update: which samples were reinforced and how SFT went."""

    iteration: int
    note: str
    reward_rule: str
    train_reward_rate: float
    reinforced: list[list[Any]]
    pairs: int
    steps: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    failure: str | None = None
    """Why the fine-tuning failed (the policy is then unchanged)."""
    stage: Stage = Stage.SFT
    task_id: str = "*"
    sample: int = 0

    @property
    def key(self) -> Key:
        return (self.stage, self.iteration, self.task_id, self.sample)


@dataclass
class Choices:
    """Stage ``choices``: the policy's exact p(configuration | task) over a grid's
    configurations on one eval task, what the expected rows are computed from."""

    iteration: int
    task_id: str
    probabilities: list[float] | None = None
    seconds: float = 0.0
    failure: str | None = None
    stage: Stage = Stage.CHOICES
    sample: int = 0

    @property
    def key(self) -> Key:
        return (self.stage, self.iteration, self.task_id, self.sample)


Record = JobRecord | PolicyUpdate | Choices
# Fields records once carried, read away when they hold nothing: choices were job records.
RETIRED = {f.name: f.default for f in dataclasses.fields(JobRecord)} | {"probabilities": None}


def to_json(record: Record) -> str:
    raw = dataclasses.asdict(record)
    if isinstance(record, JobRecord) and record.self_edit is not None:
        raw["self_edit"] = record.self_edit.to_json()
    return json.dumps(raw)


def from_json(line: str) -> Record:
    """A record from one line; ``ValueError`` (with the reason) for anything malformed."""
    try:
        raw = json.loads(line)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    return from_dict(raw)


def from_dict(raw: Any) -> Record:
    """A record from its parsed JSON; ``ValueError`` (with the reason) for anything malformed."""
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    try:
        stage = Stage(raw.get("stage"))
    except ValueError:
        raise ValueError(f"unknown stage {raw.get('stage')!r}") from None
    cls = {Stage.SFT: PolicyUpdate, Stage.CHOICES: Choices}.get(stage, JobRecord)
    names = {f.name for f in dataclasses.fields(cls)}
    raw = {k: v for k, v in raw.items() if k in names or k not in RETIRED or v != RETIRED[k]}
    unknown = set(raw) - names
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    raw["stage"] = stage
    try:
        if cls is JobRecord and raw.get("ttt") is not None:
            raw["ttt"] = TTTStats(**raw["ttt"])
        if cls is JobRecord and raw.get("self_edit") is not None:
            raw["self_edit"] = self_edit_from_json(raw["self_edit"])
        return cls(**raw)
    except (TypeError, InvalidSelfEdit) as e:
        raise ValueError(str(e)) from None


def read_lines(path: Path, parse: Callable[[str], T], rejected: Path | None = None) -> list[T]:
    """Every line of an append-only JSON-lines file, parsed (``parse`` raises ValueError on a
    damaged line). A line cut off by a crash is cut away, so its work is redone; a damaged
    line elsewhere is reported with its number and moved to ``rejected`` (default
    ``NAME.rejected.jsonl``), never a traceback."""
    if not path.exists():
        return []
    rejected = rejected or path.with_name(path.stem + ".rejected.jsonl")
    raw = path.read_bytes()
    complete = raw[: raw.rfind(b"\n") + 1]
    if len(complete) != len(raw):
        with open(path, "r+b") as f:
            f.truncate(len(complete))
    parsed, good, bad = [], [], []
    for number, line in enumerate(complete.decode(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            parsed.append(parse(line))
        except ValueError as e:
            log.warning("%s line %d is damaged (%s): set aside, redone", path, number, e)
            bad.append(line)
            continue
        good.append(line)
    if bad:
        with open(rejected, "a") as f:
            f.write("".join(line + "\n" for line in bad))
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in good))
        os.replace(tmp, path)
    return parsed


def append_line(path: Path, line: str) -> None:
    """One line appended, flushed and synced before this returns; a failed write (a full disk,
    say) names the file."""
    try:
        with open(path, "a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(path)) from None


def shard_name(rank: int, world: int) -> str:
    """The file a rank appends its records to."""
    return RECORDS if world == 1 else f"records.rank-{rank}.jsonl"


class Records:
    """The jobs a run has finished (read from every shard), and the shard this process
    appends to."""

    def __init__(self, run_dir: Path, shard: str = RECORDS):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / shard
        self.done: dict[Key, Record] = {}
        self.crash_test = CrashTest.from_environment()
        self.listeners: list[Callable[[Record], None]] = []
        """Called once with every record that arrives after the store was opened: one this
        process adds, or one another rank wrote, seen on ``refresh`` (the W&B log listens)."""
        self.refresh()

    def shards(self) -> list[Path]:
        ranks = sorted(self.run_dir.glob("records.rank-*.jsonl"))
        return [p for p in (self.run_dir / RECORDS, *ranks) if p.exists()]

    def refresh(self) -> None:
        """Read what every shard holds (the other ranks' records included)."""
        for path in self.shards():
            for record in read_lines(path, from_json, path.with_name(REJECTED)):
                if record.key not in self.done:
                    self.done[record.key] = record
                    for listener in self.listeners:
                        listener(record)

    def get(self, key: Key) -> Record | None:
        return self.done.get(key)

    def add(self, record: Record) -> Record:
        if record.key in self.done:
            raise ValueError(f"job {record.key} is already recorded")
        append_line(self.path, to_json(record))
        self.done[record.key] = record
        for listener in self.listeners:
            listener(record)
        if self.crash_test is not None:
            self.crash_test.added()
        return record

    def merge(self) -> None:
        """Every shard's records into ``records.jsonl``, the rank shards removed."""
        shards = [p for p in self.shards() if p.name != RECORDS]
        if not shards:
            return
        tmp = self.run_dir / (RECORDS + ".tmp")
        with open(tmp, "w") as f:
            f.write("".join(to_json(r) + "\n" for r in self.done.values()))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.run_dir / RECORDS)
        for path in shards:
            path.unlink()
        self.path = self.run_dir / RECORDS

    def jobs(self, stage: Stage | None = None) -> list[JobRecord]:
        return [
            r
            for r in self.done.values()
            if isinstance(r, JobRecord) and (stage is None or r.stage == stage)
        ]

    def updates(self) -> list[PolicyUpdate]:
        return [r for r in self.done.values() if isinstance(r, PolicyUpdate)]


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir`` as its one writer while the block runs; a second process is refused
    with one line naming the holder's pid. The lock is the kernel's (``flock``), so a process
    that died holds nothing and its run can be resumed at once."""
    path = Path(run_dir) / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ConfigError(f"{path}: cannot create the run's lock ({e.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            raise ConfigError(
                f"{run_dir}: in use by another process (pid {holder}); one process writes a "
                "run directory at a time"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def new_run_dir(root: str | Path, subset: str) -> Path:
    """``root/<timestamp>-<subset>``, suffixed until it names a folder that does not exist."""
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{Path(subset).stem}"
    path, n = Path(root) / stem, 1
    while path.exists():
        n += 1
        path = Path(root) / f"{stem}-{n}"
    try:
        path.mkdir(parents=True)
    except OSError as e:
        raise ConfigError(f"{path}: cannot create the run directory ({e.strerror})") from None
    return path


def prepare_run_dir(path: Path, check_only: bool = False) -> None:
    """Create an empty run directory at ``path``, or fail with one line saying why;
    ``check_only`` checks what can be checked without creating anything."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: is a file, not a directory for a run")
    if path.is_dir() and any(path.iterdir()):
        raise ConfigError(f"{path}: already holds a run; use --resume {path}")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise ConfigError(f"{path}: cannot create the run directory ({blocker} is a file)")
    if check_only:
        return
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"{path}: cannot write a run there ({e.strerror})") from None


@dataclass
class CrashTest:
    """A test seam, set only by the environment a crash test gives a run: the process sends
    itself ``signal_name`` right after it has appended ``after`` records, so a test stops a run
    at an exact point instead of on a timer."""

    after: int
    signal_name: str
    count: int = 0

    @classmethod
    def from_environment(cls) -> CrashTest | None:
        after = int(os.environ.get(STOP_AFTER) or 0)
        return cls(after, os.environ.get(STOP_SIGNAL) or "SIGKILL") if after else None

    def added(self) -> None:
        self.count += 1
        if self.count == self.after:
            os.kill(os.getpid(), getattr(signal, self.signal_name))


def claim_run_dir(
    run_dir: Path | None,
    resume: bool,
    config: RunConfig,
    name: str,
    ranks: Ranks,
    held: ExitStack,
) -> Path:
    """The run directory every recipe writes: ``run_dir`` made empty (or, with ``resume``, the
    one to finish, refused if it began under other settings), or a new
    ``runs/<timestamp>-<name>``. Rank 0 holds its lock in ``held`` and stores the config there
    (on resume this records a changed W&B mode); the other ranks are told where it is, or
    why it was refused."""
    problem = None
    if ranks.main:
        try:
            if run_dir is None:
                run_dir = new_run_dir("runs", name)
            elif resume:
                check_resumable(run_dir, config)
            else:
                prepare_run_dir(run_dir)
            held.enter_context(run_lock(run_dir))
            store_config(config, run_dir)
        except ConfigError as e:
            problem = str(e)
    run_dir, problem = ranks.share((run_dir, problem))
    if problem:
        raise ConfigError(problem)
    return run_dir
