# `make run` and `make test` set everything up on first use: a .venv with the project and
# its dev tools. Override TORCH to pick another build, e.g. `make test TORCH=torch`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: run test test-fast lint experiment clean

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

clean:
	rm -rf $(VENV) runs
