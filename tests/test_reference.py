"""The reference protocol (`configs/llama-1b.yaml`), checked on data: the numbers below are
worked out from the reference's rules, not read off this project's output."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from tiny import LLAMA3_LIKE_TEMPLATE, chat_tokenizer, learnable_run_inputs

from arc_seal import config as cfg
from arc_seal.augment import IDENTITY, family_transforms, transform_task
from arc_seal.encoding import TaskEncoder
from arc_seal.grid import Task
from arc_seal.jobs import Job, self_edit_job
from arc_seal.models import new_llama
from arc_seal.policy import prompt_ids
from arc_seal.predict import Candidate, build_queries, reference_vote
from arc_seal.records import Stage
from arc_seal.rest_em import SFTConfig, sft_policy
from arc_seal.self_edit import SelfEdit, SelfEditSpace
from arc_seal.synthetic import make_task
from arc_seal.tokenizer import build_compact_tokenizer
from arc_seal.training import length_grouped_batches
from arc_seal.ttt import TTTEngine, batch_plan
from arc_seal.ttt_data import _key, build_ttt_data, leave_out_tasks

REFERENCE = cfg.from_dict(cfg.load_yaml(cfg.config_path("llama-1b")), "llama-1b")


def _task(n_train: int, seed: int = 0) -> Task:
    # many colours and no symmetry, so no augmented copy coincides with another
    return make_task(
        "colour_map", np.random.default_rng(seed), n_train=n_train, min_side=3, max_side=4
    )


def test_ttt_data_with_basic_only_on_three_demonstrations():
    """3 demonstrations: 3 leave-1 + 6 leave-2 tasks; basic adds 11 transforms to each (12
    views, 108 tasks); the reference then gives every one of them a recoloured, reordered
    copy: 216, half of them recoloured. arc-seal adds one recoloured and one reordered copy
    per leave-out task: 108 + 9 recoloured + at most 3 reordered (a 1-demonstration context
    has one order, a 2-demonstration one a single other order) = 117 to 120."""
    task = _task(3)
    ttt = REFERENCE.ttt
    reference = build_ttt_data(task, ("basic",), 250, 0, 2, ttt.permuted_copies)
    ours = build_ttt_data(task, ("basic",), 250, 0, 2, "base")
    assert len(reference) == 216 and 117 <= len(ours) <= 120
    rng = np.random.default_rng(0)  # the translate shift build_ttt_data draws first
    views = [IDENTITY, *family_transforms("basic", rng)]
    augmented = {_key(transform_task(b, v)) for b in leave_out_tasks(task, 2) for v in views}
    assert len(augmented) == 108
    assert sum(_key(t) not in augmented for t in reference) == 108  # every copy is new
    assert sum(_key(t) not in augmented for t in ours) == len(ours) - 108
    # no family: the reference still reorders every leave-out task (4 + 12 of them for 4
    # demonstrations; a copy whose random order is the given one is the task itself, dropped)
    four = _task(4)
    plain = build_ttt_data(four, (), 250, 0, 2, "all")
    assert 16 < len(plain) <= 32 and len(build_ttt_data(four, (), 250, 0, 2, "base")) == 16


@pytest.mark.parametrize("n", [216, 250, 126])
def test_the_step_budget_fails_at_the_epochs_the_reference_rule_gives(n):
    """The reference fails a self-edit when epochs x sequences / 2 > 375."""
    lengths = [100 + i % 7 for i in range(n)]
    rng = np.random.default_rng(0)
    batches = length_grouped_batches(lengths, REFERENCE.ttt.batch_size, rng)
    for epochs in range(1, 9):
        steps = sum(map(len, batch_plan(batches, lengths, epochs, None, rng)))
        assert (steps > REFERENCE.ttt.max_steps) == (epochs * n / 2 > 375), (n, epochs)


def test_prediction_queries_are_leave_one_contexts_in_three_orders_under_six_views():
    task = _task(4)
    queries = build_queries(task, 0, REFERENCE.predict)
    assert len(queries) == 4 * 3 * 6
    assert all(len(q.context) == 3 for q in queries)  # never all four demonstrations
    assert {q.view.name for q in queries} == {
        "identity",
        "transpose",
        "flip_ud",
        "flip_lr",
        "rot90",
        "rot180",
    }


def _g(*values) -> np.ndarray:
    return np.array([values], dtype=np.int8)


def test_reference_vote_top_three_per_view_and_over_all_identity_breaks_ties():
    a, b, c, d, e = _g(1), _g(2), _g(3), _g(4), _g(5)
    candidates = [
        *[Candidate("identity", g) for g in (a, a, b, c, d)],  # identity top 3: a, b, c
        *[Candidate("flip_lr", g) for g in (e, e, d, b)],  # flip_lr top 3: e, d, b
    ]
    # all: a 2, e 2, b 2, d 2, c 1 -> top 3 a, e, b (first seen breaks the tie)
    # support: a 2, b 3, e 2, c 1, d 1 -> b; then a and e tie on support, a was written by
    # the identity view, e was not
    attempts = reference_vote(candidates)
    assert [x.tolist() for x in attempts] == [b.tolist(), a.tolist()]


def test_reference_vote_fills_a_missing_attempt_with_the_majority_grid():
    only = np.array([[1, 2], [3, 4]], dtype=np.int8)
    other = np.array([[1, 9], [3, 9]], dtype=np.int8)
    third = np.array([[7, 9], [3, 4]], dtype=np.int8)
    candidates = [Candidate("identity", only), Candidate("identity", None, "bad")]
    assert [x.tolist() for x in reference_vote(candidates)] == [only.tolist()]  # nothing new
    candidates = [Candidate("identity", g) for g in (only, other, third)]
    three = reference_vote(candidates, attempts=4)
    assert len(three) == 4 and three[3].tolist() == [[1, 9], [3, 4]]  # cell-wise majority


def test_reference_prompt_lists_the_keys_without_example_values_and_no_date_lines():
    tok = chat_tokenizer()
    dated = LLAMA3_LIKE_TEMPLATE.replace(
        "{{ m['content'] | trim }}",
        "{% if m['role'] == 'system' %}Cutting Knowledge Date: December 2023\n"
        "Today Date: 26 Jul 2024\n\n{% endif %}{{ m['content'] | trim }}",
    )
    old = tok.chat_template
    tok.chat_template = dated
    try:
        task = _task(2)
        text = tok.decode(prompt_ids(TaskEncoder(tok), task, "reference"))
        ours = tok.decode(prompt_ids(TaskEncoder(tok), task, "arc-seal"))
    finally:
        tok.chat_template = old
    assert "Today Date" not in text and "Cutting Knowledge" not in text
    assert "Input:\n" in text and "\n---\n" in text and "Output:\n" in text
    first_row = " ".join(map(str, task.train[0].input[0].tolist()))
    assert first_row in text
    for key in ("use_basic_augmentations", "strategy", "learning_rate", "num_train_epochs"):
        assert key in text
    assert '"learning_rate": ...' in text
    assert "0.0001" not in text and "true" not in text  # no example values to anchor on
    assert "0.0001" in ours  # the project's own prompt does show one


def test_identical_self_edits_train_on_identical_data_with_a_task_seed(monkeypatch):
    tok = build_compact_tokenizer()
    task = _task(3, seed=1)
    edit = SelfEdit(True, False, False, False, "train_using_output_tokens", 1e-3, 1)
    monkeypatch.setattr("arc_seal.policy.sample_schema", lambda *args, **kw: (edit.text(), -1.0))
    small = {"max_sequences": 6, "max_steps": None, "lora_r": 4, "lora_alpha": 4}
    space = SelfEditSpace((edit,))
    losses = {}
    for seeding in ("task", "job"):
        config = replace(
            REFERENCE,
            decoding="schema",
            ttt_seed=seeding,
            ttt=replace(REFERENCE.ttt, **small),
            predict=replace(REFERENCE.predict, views=("identity",), orders=1),
        )
        engine = TTTEngine(new_llama(tok, hidden_size=32, layers=1, heads=2), tok, config.ttt)
        runs = [
            self_edit_job(engine, Job(Stage.NO_RL, 0, task, s, seed=s + 7), config, space)
            for s in range(2)
        ]
        losses[seeding] = [r.ttt.losses for r in runs]
    assert losses["task"][0] == losses["task"][1]
    assert losses["job"][0] != losses["job"][1]


@pytest.mark.parametrize("float32", [True, False])
def test_the_merged_policy_moves_by_the_learned_delta(tmp_path, float32):
    tok = build_compact_tokenizer()
    torch.manual_seed(0)
    model = new_llama(tok, hidden_size=64, layers=1, heads=2).to(torch.bfloat16)
    name = "model.layers.0.self_attn.q_proj.weight"
    base = model.get_parameter(name).detach().float().clone()
    pairs = [
        (
            _task(2, seed=s),
            SelfEdit(True, False, False, False, "train_using_output_tokens", 1e-4, 2).text(),
        )
        for s in range(3)
    ]
    config = SFTConfig(lora_r=4, lora_alpha=4, epochs=2, learning_rate=1e-3, float32=float32)
    merged, stats = sft_policy(
        model, TaskEncoder(tok), pairs, config, ("q_proj",), seed=0, save_to=tmp_path / "a"
    )
    assert stats.failure is None
    adapter = load_file(tmp_path / "a" / "adapter_model.safetensors")
    a = next(v for k, v in adapter.items() if "q_proj.lora_A" in k).float()
    b = next(v for k, v in adapter.items() if "q_proj.lora_B" in k).float()
    delta = b @ a * (config.lora_alpha / config.lora_r)
    moved = merged.get_parameter(name).detach().float() - base
    assert delta.abs().max() > 0
    error = (moved - delta).abs().max().item()
    if float32:
        assert merged.dtype == torch.float32 and error < 1e-6
    else:
        assert merged.dtype == torch.bfloat16 and error > 1e-4  # rounded away in part


def test_the_chat_path_runs_the_reference_protocol_through_every_stage(tmp_path, capsys):
    """A tiny random Llama with a Llama-3-style chat template, `configs/llama-1b.yaml`'s
    protocol with tiny budgets: every stage runs and records its jobs."""
    from arc_seal.cli import main

    inputs = learnable_run_inputs(tmp_path)
    model_dir = tmp_path / "chat-model"
    new_llama(chat_tokenizer(), hidden_size=32, layers=1, heads=2).save_pretrained(model_dir)
    chat_tokenizer().save_pretrained(model_dir)
    out = tmp_path / "run"
    tiny = ["--samples-per-task", "1", "--eval-samples", "1", "--decoding", "schema"]
    tiny += ["--ttt.max-sequences", "4", "--ttt.lora-r", "4", "--sft.lora-r", "4"]
    tiny += ["--predict.max-new-tokens", "12", "--predict.batch-size", "8", "--sft.epochs", "1"]
    tiny += ["--reward", "best_of_n", "--oracle-on-train"]
    with pytest.raises(SystemExit) as done:
        main(
            ["run", "--config", "llama-1b", "--model", str(model_dir), "--device", "cpu"]
            + ["--subset", str(inputs["subset"]), "--output-dir", str(out)]
            + ["--wandb", "disabled", *tiny]
        )
    err = capsys.readouterr().err
    assert done.value.code in (0, 1), err[-3000:]  # 1: a row in which every job failed
    stages = {json.loads(x)["stage"] for x in (out / "records.jsonl").read_text().splitlines()}
    assert {
        "icl",
        "oracle",
        "no_rl",
        "oracle_train",
        "rest_em",
        "baseline",
        "sft",
        "seal",
    } <= stages
    assert (out / "results.md").exists() and (out / "submission.json").exists()
