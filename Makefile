# `make run` and `make test` set everything up on first use: a .venv with the project and
# its dev tools. Override TORCH to pick another build, e.g. `make test TORCH=torch`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: run test test-fast lint experiment design-pool policy-grid save-grids seal-effect seal-effect-grid ttt-curve gpu-sitting evaluate-next clean

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

# Does the policy read the task? (README, docs/policy.md): on the shipped grid
# (tasks/$(POLICY_SUBSET).json, $(PAIR_SEEDS) TTT seeds per pair), per RL seed a SEAL run with
# the configuration-head policy and its SEAL-blind twin (the same run, no demonstration in the
# policy's prompt), two side by side, one CPU thread each (logs in runs/); then one table with
# the contrasts' intervals over eval tasks and RL seeds, and the choice picture. Resumable:
# run it again to go on. The grid itself is `make policy-grid`.
SEEDS ?= 0 1 2 3 4
POLICY_SUBSET ?= seal-policy
PAIR_SEEDS ?= 3
POLICY_RUN = OMP_NUM_THREADS=1 $(BIN)/python scripts/run_arc.py
experiment: $(BIN)/.installed
	@test -f tasks/$(POLICY_SUBSET).json || { echo "tasks/$(POLICY_SUBSET).json is not there:" \
	  "its grid is made by make policy-grid"; exit 2; }
	mkdir -p runs
	printf '%s\n' $(foreach s,$(SEEDS),seal-$(s) blind-$(s)) | xargs -P 2 -I{} sh -c '\
	  d=runs/$(POLICY_SUBSET)-{}; seed=$${d##*-}; \
	  case {} in blind-*) blind=--blind;; *) blind=;; esac; \
	  $(POLICY_RUN) $$(test -f $$d/config.yaml && echo --resume $$d || echo --config \
	    configs/seal-policy.yaml --subset $(POLICY_SUBSET) --pair-seeds $(PAIR_SEEDS) \
	    --seed $$seed $$blind --output-dir $$d) > $$d.log 2>&1'
	$(BIN)/python scripts/compare_runs.py $(foreach s,$(SEEDS),runs/$(POLICY_SUBSET)-seal-$(s)) \
	  --blind $(foreach s,$(SEEDS),runs/$(POLICY_SUBSET)-blind-$(s)) \
	  --picture runs/$(POLICY_SUBSET)-choices.png | tee runs/$(POLICY_SUBSET).md

# A long curation's records are committed between sittings, gzipped, under tasks/grids/NAME
# (`make save-grids` writes them, the shards of a torchrun curation included); a target that
# curates first restores its run directory runs/NAME from them when it is not there, then
# resumes it.
GRIDS := curate-seal-design curate-seal-policy
restore = test -d runs/$(1) || ! test -f tasks/grids/$(1)/records.jsonl.gz || { \
  mkdir -p runs/$(1) && cp tasks/grids/$(1)/config.yaml tasks/grids/$(1)/config.sha256 \
  tasks/grids/$(1)/pool.json runs/$(1)/ && for f in tasks/grids/$(1)/records*.jsonl.gz; do \
  gunzip -c $$f > runs/$(1)/$$(basename $$f .gz); done; }
save-grids:
	for g in $(GRIDS); do test -f runs/$$g/config.yaml || continue; mkdir -p tasks/grids/$$g; \
	  cp runs/$$g/config.yaml runs/$$g/config.sha256 runs/$$g/pool.json tasks/grids/$$g/; \
	  rm -f tasks/grids/$$g/records*.jsonl.gz; touch runs/$$g/records.jsonl; \
	  for f in runs/$$g/records*.jsonl; do gzip -9nc $$f > tasks/grids/$$g/$$(basename $$f).gz; \
	  done; done

# The policy experiment's configurations, chosen on a design pool of their own (docs/policy.md):
# 12 synthetic families x 8 tasks (pool seed 7) x the candidates of
# configs/seal-design-candidates.json x 3 TTT seeds per pair (resumable), then
# scripts/design_space.py writes the configurations kept to configs/seal-policy-grid.json
# (the pool's subset: tasks/seal-design.json).
SEAL_FAMILIES := rot90 rot180 rot270 flip_ud flip_lr transpose anti_transpose colour_map \
  mirror gravity recolour_largest move
CURATE = OMP_NUM_THREADS=1 $(BIN)/python scripts/curate_subset.py --config configs/seal-effect.yaml \
  --max-side 5 --pair-seeds 3 --wandb disabled
design-pool: $(BIN)/.installed
	$(call restore,curate-seal-design)
	$(CURATE) --name seal-design --families $(SEAL_FAMILIES) --synthetic 8 --seed 7 \
	  --configurations configs/seal-design-candidates.json \
	  --out runs/curate-seal-design \
	  $$(test -f runs/curate-seal-design/config.yaml && echo --resume)
	$(BIN)/python scripts/design_space.py seal-design \
	  --write configs/seal-policy-grid.json | tee runs/seal-design-space.md

# The policy experiment's grid, on a fresh pool (pool seed 11, never used for design): the 8
# families where the design pool found at least 2 informative tasks, POLICY_POOL synthetic
# tasks each x configs/seal-policy-grid.json x 3 TTT seeds per pair, written to
# tasks/seal-policy.json. Thread-hours: resumable, run it again to go on (`make save-grids`
# commits its records).
POLICY_FAMILIES := anti_transpose flip_lr flip_ud gravity mirror rot180 rot270 transpose
POLICY_POOL ?= 48
policy-grid: $(BIN)/.installed
	$(call restore,curate-seal-policy)
	$(CURATE) --name seal-policy --families $(POLICY_FAMILIES) --synthetic $(POLICY_POOL) \
	  --seed 11 --eval-fraction 0.41 --configurations configs/seal-policy-grid.json \
	  --out runs/curate-seal-policy \
	  $$(test -f runs/curate-seal-policy/config.yaml && echo --resume)

# The exact SEAL experiment (docs/seal-effect.md): the language model as the policy, choosing
# among the 8 configurations of the shipped seal-effect grid (its own target:
# seal-effect-grid), ReST-EM with every verdict read from the grid, one run per RL seed, one
# table with paired-bootstrap intervals, and how often the reinforced policy as TTT learner
# would change a verdict.
seal-effect: $(BIN)/.installed
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
