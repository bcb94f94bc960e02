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


def pytest_collection_modifyitems(items):
    """A test that runs a script in a subprocess is slow: ``make test-fast`` leaves it out."""
    for item in items:
        if "run_script" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
