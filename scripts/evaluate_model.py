"""Score a model on a subset or on fresh synthetic tasks (same as `arc-seal evaluate`)."""

from arc_seal.cli import evaluate, run_cli

if __name__ == "__main__":
    run_cli(evaluate)
