"""Put several runs of one setting (different seeds) into one table: mean [lowest, highest].

python scripts/compare_runs.py runs/seed0 runs/seed1 runs/seed2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from arc_seal.cli import run_cli
from arc_seal.errors import ConfigError
from arc_seal.evaluate import seeds_markdown


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("runs", type=Path, nargs="+", help="run directories with results.json")
    args = p.parse_args()
    results = []
    for run in args.runs:
        path = run / "results.json"
        if not path.is_file():
            raise ConfigError(f"{run}: no results.json (the run has not finished)")
        results.append(json.loads(path.read_text()))
    settings = {(r["subset"], r["model"]) for r in results}
    if len(settings) > 1:
        raise ConfigError(f"the runs differ in subset or model: {sorted(settings)}")
    print(seeds_markdown(results))


if __name__ == "__main__":
    run_cli(main)
