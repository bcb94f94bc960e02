# `make run` and `make test` set everything up on first use: a .venv with the project and
# its dev tools. Override TORCH to pick another build, e.g. `make test TORCH=torch`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: run test test-fast lint experiment gpu-sitting evaluate-next clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

run: $(BIN)/.installed
	$(BIN)/python scripts/run_arc.py --subset simplified

test: $(BIN)/.installed
	$(BIN)/python -m pytest

test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not slow"

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The SEAL effect on a subset curated for the embedded model (docs/curation.md): curation
# on fresh small synthetic tasks, then 3 seeds of 2 ReST-EM iterations
# (one CPU thread each, side by side; logs in runs/), then one table.
experiment: $(BIN)/.installed
	$(BIN)/python scripts/curate_subset.py --name embedded-curated --synthetic 3 --max-side 5 \
	  --size 6 --out runs/curate \
	  $$(test -f runs/curate/config.yaml && echo --resume)
	for seed in 0 1 2; do \
	  OMP_NUM_THREADS=1 $(BIN)/python scripts/run_arc.py --subset embedded-curated --iterations 2 \
	    --seal-each-iteration --reward binary --no-oracle-on-train --seed $$seed \
	    --output-dir runs/curated-seed$$seed > runs/curated-seed$$seed.log 2>&1 & \
	done; wait
	$(BIN)/python scripts/compare_runs.py runs/curated-seed0 runs/curated-seed1 runs/curated-seed2

# The next pretraining sitting, for a lent GPU (docs/pretraining.md): the throughput benchmark
# (about a minute), then SITTING_MINUTES of pretraining from the shipped checkpoint on packed
# 4,096-token rows with grids up to 30, checkpointed to runs/next-model every minute.
SITTING_MINUTES ?= 8
gpu-sitting: $(BIN)/.installed
	$(BIN)/python scripts/bench_pretrain.py --device cuda --max-length 4096 --micro-batch 16 \
	  --batch-tokens 262144 --steps 8 --compile
	$(BIN)/python scripts/pretrain_default_model.py --init-from arc_seal/default_model \
	  --out runs/next-model --device cuda --max-length 4096 --max-side 30 --pack \
	  --batch-tokens 262144 --micro-batch 16 --workers 14 --lr 6e-4 --warmup 30 \
	  --schedule-by minutes --minutes $(SITTING_MINUTES) --save-every 1 --compile

# Whether runs/next-model ships: the sanity check per family, then the clean benchmark, ICL
# and oracle rows (on a GPU, or on CPU after the sitting).
evaluate-next: $(BIN)/.installed
	$(BIN)/python scripts/evaluate_model.py --synthetic 5 --model runs/next-model \
	  --out runs/next-model-sanity --loss --wandb disabled
	$(BIN)/python scripts/evaluate_model.py --subset arc-agi-1-eval-100 --model runs/next-model \
	  --out runs/next-model-eval-100 --wandb disabled

clean:
	rm -rf $(VENV) runs
