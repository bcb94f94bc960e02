"""Curate a subset for a model: the tasks some TTT configuration solves (`arc-seal curate`)."""

from arc_seal.cli import curate
from arc_seal.launch import run_cli

if __name__ == "__main__":
    run_cli(curate)
