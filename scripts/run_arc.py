"""Run SEAL on an ARC subset: baselines, ReST-EM on self-edits, and the four-row table.

    python scripts/run_arc.py --subset simplified                   # the embedded model
    python scripts/run_arc.py --config configs/llama-1b.yaml
    python scripts/run_arc.py --resume runs/20261127-120000-simplified

Settings come from --config (YAML; every field is documented in arc_seal/config.py and
configs/), then from the flags below, which override it. A run directory collects the
resolved config, one record per job, the results table, Kaggle-format predictions, pictures
and W&B files; --resume finishes an interrupted run without redoing finished jobs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from arc_seal import config as cfg
from arc_seal.cli import run_cli
from arc_seal.errors import ConfigError
from arc_seal.report import new_run_dir
from arc_seal.seal import Experiment, write_config


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--config", help="YAML file of settings (default: configs/default.yaml)")
    parser.add_argument(
        "--resume", type=Path, help="run directory to finish; its config.yaml is used"
    )
    cfg.add_arguments(parser)
    args = parser.parse_args()

    if args.resume:
        run_dir = args.resume
        if not (run_dir / "config.yaml").is_file():
            raise ConfigError(f"{run_dir}: not a run directory (no config.yaml)")
        config = cfg.from_dict(cfg.load_yaml(run_dir / "config.yaml"), str(run_dir / "config.yaml"))
        experiment = Experiment(config)
    else:
        default = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"
        path = args.config or (default if default.exists() else None)
        config = cfg.resolve(args, cfg.load_yaml(path) if path else {})
        run_dir = Path(config.output_dir) if config.output_dir else None
        if run_dir and run_dir.exists() and any(run_dir.iterdir()):
            raise ConfigError(f"{run_dir}: already holds a run; use --resume {run_dir}")
        experiment = Experiment(config)
        if run_dir:
            run_dir.mkdir(parents=True, exist_ok=True)
        else:
            run_dir = new_run_dir("runs", config.subset)
        write_config(config, run_dir)
    print(f"run directory: {run_dir}")
    experiment.run(run_dir)
    print((run_dir / "results.md").read_text())


if __name__ == "__main__":
    run_cli(main)
