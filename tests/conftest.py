import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings
from tiny import WHOLE_RUN, learnable_run_inputs, run_command

# Timing belongs in benchmarks: no per-example deadline, which a loaded CI machine would trip.
settings.register_profile("arc-seal", deadline=None)
settings.load_profile("arc-seal")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run_script():
    """Run one of scripts/ as a user would; returns the CompletedProcess."""

    def run(name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(ROOT / "scripts" / name), *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=300,
        )

    return run


@pytest.fixture(scope="session")
def whole_run(tmp_path_factory) -> tuple[dict[str, Path], Path, subprocess.CompletedProcess]:
    """One small whole SEAL run on the tiny model (``tiny.WHOLE_RUN``, W&B offline), made once
    for the tests that read a finished run: its inputs, its run directory and the process.
    Read it; a test that writes into a run copies it first."""
    root = tmp_path_factory.mktemp("whole-run")
    inputs = learnable_run_inputs(root)
    out = root / "run"
    done = subprocess.run(
        run_command(inputs, out, *WHOLE_RUN, "--wandb", "offline"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return inputs, out, done


def pytest_collection_modifyitems(items):
    """A test that runs a script in a subprocess, or reads the session's whole run, is slow:
    ``make test-fast`` leaves it out."""
    for item in items:
        if {"run_script", "whole_run"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
