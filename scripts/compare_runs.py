"""One table over runs of one setting (same as `arc-seal compare`); see `--help`."""

from arc_seal.cli import compare
from arc_seal.launch import run_cli

if __name__ == "__main__":
    run_cli(compare)
