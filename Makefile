# `make run` and `make test` set everything up on first use: a .venv with the project and
# its dev tools. Override TORCH to pick another build, e.g. `make test TORCH=torch`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: run test test-fast lint experiment seal-effect-grid ttt-curve gpu-sitting evaluate-next clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

run: $(BIN)/.installed
	$(BIN)/python scripts/run_arc.py --subset simplified

test: $(BIN)/.installed
	$(BIN)/python -m pytest --durations=15

test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not slow"

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The SEAL effect, measured exactly (README): the grid of 12 synthetic families x 16 tasks x
# the 8 configurations of configs/seal-effect-grid.json (resumable: run it again to go on),
# written to tasks/seal-effect.json; then ReST-EM with every verdict read from the grid, one
# run per RL seed (two side by side, one CPU thread each; logs in runs/), one table with
# paired-bootstrap intervals, and how often the reinforced policy as TTT learner would change a
# verdict.
SEEDS ?= 0 1 2 3 4
SEAL_FAMILIES := rot90 rot180 rot270 flip_ud flip_lr transpose anti_transpose colour_map \
  mirror gravity recolour_largest move
experiment: seal-effect-grid
	mkdir -p runs
	printf '%s\n' $(SEEDS) | xargs -P 2 -I{} sh -c 'OMP_NUM_THREADS=1 \
	  $(BIN)/python scripts/run_arc.py $$(test -f runs/seal-effect-seed{}/config.yaml \
	    && echo --resume runs/seal-effect-seed{} \
	    || echo --config configs/seal-effect.yaml --seed {} --output-dir runs/seal-effect-seed{}) \
	  > runs/seal-effect-seed{}.log 2>&1'
	$(BIN)/python scripts/compare_runs.py $(foreach s,$(SEEDS),runs/seal-effect-seed$(s)) \
	  | tee runs/seal-effect.md
	$(BIN)/python scripts/learner_drift.py runs/seal-effect-seed0 --pairs 24

seal-effect-grid: $(BIN)/.installed
	OMP_NUM_THREADS=1 $(BIN)/python scripts/curate_subset.py --name seal-effect \
	  --config configs/seal-effect.yaml --synthetic 16 --max-side 5 \
	  --families $(SEAL_FAMILIES) --configurations configs/seal-effect-grid.json \
	  --out runs/curate-seal-effect --wandb disabled \
	  $$(test -f runs/curate-seal-effect/config.yaml && echo --resume)

# The test-time compute curve (docs/ttt-curve.md): the oracle row's solves against the TTT
# budget (1x = the default's ~4,000 trained tokens per task) on `simplified`, the 100 sanity
# tasks and `arc-agi-1-eval-100` (a fixed sample of 40 at 16x), each (benchmark,
# budget) a resumable run directory under runs/ttt-curve; two processes side by side, one CPU
# thread each. Then runs/ttt-curve/curve.md and curve.png.
CURVE = OMP_NUM_THREADS=1 $(BIN)/python scripts/ttt_curve.py --out runs/ttt-curve
EVAL100 = --benchmark arc-agi-1-eval-100 --views identity transpose
ttt-curve: $(BIN)/.installed
	( $(CURVE) --benchmark simplified --budgets 1 4 16 64 && \
	  $(CURVE) --benchmark sanity --budgets 1 4 && \
	  $(CURVE) --benchmark sanity --budgets 16 --sample 40 ) & first=$$!; \
	( $(CURVE) $(EVAL100) --budgets 1 4 && \
	  $(CURVE) $(EVAL100) --budgets 16 --sample 40 ) && wait $$first
	$(CURVE)

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
