import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

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
