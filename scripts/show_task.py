"""Draw an ARC task to PNG (same as `arc-seal show`); see `--help`."""

from arc_seal.cli import run_cli, show

if __name__ == "__main__":
    run_cli(show)
