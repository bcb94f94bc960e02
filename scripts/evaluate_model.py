"""Score a model on a subset or on fresh synthetic tasks (same as `arc-seal evaluate`)."""

from arc_seal.cli import evaluate
from arc_seal.launch import run_cli

if __name__ == "__main__":
    run_cli(evaluate)
