"""Run SEAL on an ARC subset (same as `arc-seal run`); see `--help`."""

from arc_seal.cli import run
from arc_seal.launch import run_cli

if __name__ == "__main__":
    run_cli(run)
