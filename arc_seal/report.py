"""The run directory: records appended one job at a time, resume, results files, W&B.

``records.jsonl`` holds one JSON line per finished job, keyed by (stage, iteration, task_id,
sample), flushed and synced as it is written. After a crash, at most the line being written is
lost: a partial last line is cut away on resume and that job runs again, so no record is lost
or duplicated.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

RECORDS = "records.jsonl"
Key = tuple[str, int, str, int]


def new_run_dir(root: str | Path, subset: str) -> Path:
    """``root/<timestamp>-<subset>``, suffixed until it names a folder that does not exist."""
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{Path(subset).stem}"
    path, n = Path(root) / stem, 1
    while path.exists():
        n += 1
        path = Path(root) / f"{stem}-{n}"
    path.mkdir(parents=True)
    return path


def key_of(record: dict) -> Key:
    return (record["stage"], record["iteration"], record["task_id"], record["sample"])


class Records:
    """The jobs a run has finished, and the file they are appended to."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / RECORDS
        self.done: dict[Key, dict] = {}
        if self.path.exists():
            raw = self.path.read_bytes()
            complete = raw[: raw.rfind(b"\n") + 1]
            if len(complete) != len(raw):  # a line cut off by a crash: drop it
                with open(self.path, "r+b") as f:
                    f.truncate(len(complete))
            for line in complete.decode().splitlines():
                if line.strip():
                    record = json.loads(line)
                    self.done[key_of(record)] = record

    def get(self, key: Key) -> dict | None:
        return self.done.get(key)

    def add(self, record: dict) -> dict:
        key = key_of(record)
        if key in self.done:
            raise ValueError(f"job {key} is already recorded")
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.done[key] = record
        return record

    def stage(self, stage: str, iteration: int | None = None) -> list[dict]:
        return [
            r
            for k, r in self.done.items()
            if k[0] == stage and (iteration is None or k[1] == iteration)
        ]


class Tracker:
    """W&B logging, or nothing when disabled; offline files go inside the run directory."""

    def __init__(self, run_dir: Path, mode: str, config: dict, name: str):
        self.run = None
        if mode == "disabled":
            return
        import wandb

        self.wandb = wandb
        self.run = wandb.init(
            project="arc-seal",
            dir=str(run_dir),
            mode=mode,
            config=config,
            name=name,
            id=name.replace("/", "-"),
            resume="allow",
        )

    def log(self, values: dict) -> None:
        if self.run is not None:
            self.run.log(values)

    def histogram(self, name: str, values: list[float]) -> None:
        if self.run is not None and values:
            self.run.log({name: self.wandb.Histogram(values)})

    def table(self, name: str, columns: list[str], rows: list[list], images: int | None = None):
        """Log a table; the column at index ``images`` holds PNG paths shown as pictures."""
        if self.run is None:
            return
        if images is not None:
            rows = [[*r[:images], self.wandb.Image(str(r[images])), *r[images + 1 :]] for r in rows]
        self.run.log({name: self.wandb.Table(columns=columns, data=rows)})

    def line(self, name: str, columns: list[str], rows: list[list], x: str, y: str):
        if self.run is not None and rows:
            table = self.wandb.Table(columns=columns, data=rows)
            self.run.log({name: self.wandb.plot.line(table, x, y, title=name)})

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()
