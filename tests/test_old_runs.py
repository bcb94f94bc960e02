"""A run directory written by an earlier version (tests/data/run-2026-12-05: the small whole
loop on the tiny model, made before row names, row counts and SFT statistics became types)
still compares and resumes to the records it would have had."""

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

from tiny import learnable_run_inputs

from arc_seal.config import CONFIG, CONFIG_DIGEST, digest
from arc_seal.records import from_json
from arc_seal.report import read_results, seeds_markdown

OLD = Path(__file__).resolve().parent / "data" / "run-2026-12-05"
ROOT = Path(__file__).resolve().parent.parent
WRITTEN_FROM = "/tmp/tiny-before"  # where its inputs were when it ran


def test_an_old_run_directory_compares_and_resumes_to_its_own_records(tmp_path):
    (table,) = [seeds_markdown(read_results([OLD, OLD]))]
    assert "| ICL (no TTT) |" in table and "Oracle TTT config" in table

    inputs = learnable_run_inputs(tmp_path)  # the same tiny model and tasks, rebuilt
    run_dir = tmp_path / "old"
    shutil.copytree(OLD, run_dir)
    config = (run_dir / CONFIG).read_text().replace(WRITTEN_FROM, str(tmp_path))
    (run_dir / CONFIG).write_text(config)
    (run_dir / CONFIG_DIGEST).write_text(digest(config) + "\n")
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    (run_dir / "records.jsonl").write_text("".join(x + "\n" for x in lines[:3]))
    (run_dir / "results.json").unlink()
    assert Path(inputs["model"]).parent == tmp_path

    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_arc.py"), "--resume", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    def contents(path: Path) -> list[dict]:
        """The records as the store reads them, without their timings."""
        out = []
        for line in path.read_text().splitlines():
            record = dataclasses.asdict(from_json(line))
            record.pop("seconds")
            if record.get("ttt"):
                record["ttt"].pop("seconds")
            out.append(record)
        return out

    assert contents(run_dir / "records.jsonl") == contents(OLD / "records.jsonl")
    rows = json.loads((run_dir / "results.json").read_text())["rows"]
    old_rows = json.loads((OLD / "results.json").read_text())["rows"]
    assert {k: r["per_task"] for k, r in rows.items()} == {
        k: r["per_task"] for k, r in old_rows.items()
    }
