"""Draw an ARC task to PNG (same as `arc-seal show`); see `--help`."""

from arc_seal.cli import show
from arc_seal.launch import run_cli

if __name__ == "__main__":
    run_cli(show)
