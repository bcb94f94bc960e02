"""How often would the reinforced policy, used as the TTT learner, change a grid verdict?

A run with ``ttt_learner: initial`` reads its verdicts from a grid computed with the initial
model. The reference instead adapts the reinforced policy at test time; this measures what
that would change: a seeded sample of the grid's (task, configuration) pairs is trained on
afresh from the run's final policy (the initial model with each iteration's adapter merged)
and compared with the grid.

    python scripts/learner_drift.py runs/seal-effect-seed0 --pairs 24
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from peft import PeftModel
from tqdm import tqdm

from arc_seal.config import stored_config
from arc_seal.data import load_subset
from arc_seal.errors import ConfigError
from arc_seal.jobs import Job, configuration_job
from arc_seal.launch import run_cli
from arc_seal.records import Records, Stage
from arc_seal.reward import RewardTable
from arc_seal.ttt import TTTEngine, load_engine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished run directory on a curated subset")
    parser.add_argument("--pairs", type=int, default=24, help="(task, configuration) pairs")
    parser.add_argument("--seed", type=int, default=0, help="seeds the sample of pairs")
    parser.add_argument("--device", help="cpu, cuda, cuda:N or mps")
    args = parser.parse_args()
    config = stored_config(args.run)
    subset = load_subset(config.subset)
    if subset.grid is None:
        raise ConfigError(f"{args.run}: its subset {config.subset!r} has no grid to compare with")
    table = RewardTable.from_grid(subset.grid)
    updates = Records(args.run).updates()
    engine = load_engine(config, args.device or config.device or "cpu")
    tokenizer = engine.encoder.tokenizer
    model = engine.release()
    merged = 0
    for update in sorted(updates, key=lambda u: u.iteration):
        adapter = args.run / "policy" / f"iteration-{update.iteration}"
        if update.pairs and update.failure is None:
            base = model.float() if config.sft.float32 else model
            model = PeftModel.from_pretrained(base, adapter).merge_and_unload()
            merged += 1
    learner = TTTEngine(model, tokenizer, config.ttt)
    tasks = {t.id: t for t in subset.train + subset.eval if t.id in table.verdicts}
    pairs = [(t, i) for t in sorted(tasks) for i in range(len(table.configurations))]
    picked = np.random.default_rng(args.seed).permutation(len(pairs))[: args.pairs]
    out = []
    for k in tqdm(sorted(picked.tolist()), desc="fresh TTT", unit="pair"):
        task_id, index = pairs[k]
        job = Job(Stage.GRID, 0, tasks[task_id], index, seed=0)
        record = configuration_job(learner, job, config, table.configurations[index])
        out.append(
            {
                "task": task_id,
                "configuration": index,
                "grid": bool(table.verdicts[task_id][index, 0]),
                "reinforced_learner": bool(record.solved),
            }
        )
    changed = sum(p["grid"] != p["reinforced_learner"] for p in out)
    summary = {
        "policy_updates_merged": merged,
        "pairs": len(out),
        "changed": changed,
        "solved_by_grid": sum(p["grid"] for p in out),
        "solved_by_reinforced_learner": sum(p["reinforced_learner"] for p in out),
        "detail": out,
    }
    (args.run / "learner_drift.json").write_text(json.dumps(summary, indent=1))
    print(
        f"{changed} of {len(out)} verdicts change with the reinforced policy as the TTT learner "
        f"({merged} policy update(s) merged); the grid solves {summary['solved_by_grid']}, "
        f"the reinforced learner {summary['solved_by_reinforced_learner']}; written to "
        f"{args.run / 'learner_drift.json'}"
    )
    return 0


if __name__ == "__main__":
    run_cli(main)
