import copy
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tiny import chat_tokenizer

from arc_seal.encoding import IGNORE, Encoded, TaskEncoder
from arc_seal.models import new_llama
from arc_seal.predict import PredictConfig, predict, score
from arc_seal.synthetic import make_task
from arc_seal.tokenizer import build_compact_tokenizer
from arc_seal.training import collate, length_grouped_batches
from arc_seal.ttt import ORACLE, Plateau, TTTConfig, TTTEngine, batch_plan

ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
SMALL_LORA = dict(lora_r=32, lora_alpha=32, lora_targets=ALL_LINEAR)


def _task(seed=0, **kw):
    kw = {"n_train": 3, "min_side": 2, "max_side": 3} | kw
    return make_task("flip_lr", np.random.default_rng(seed), **kw)


def _labelled(tok, seq: Encoded) -> str:
    return tok.decode([i for i, lab in zip(seq.ids, seq.labels, strict=True) if lab != IGNORE])


@pytest.fixture(params=["compact", "chat"])
def tokenizer(request):
    return build_compact_tokenizer() if request.param == "compact" else chat_tokenizer()


def test_output_token_mask_is_the_answer_and_nothing_after(tokenizer):
    enc = TaskEncoder(tokenizer)
    task = _task()
    seq = enc.training_sequence(task, "output_tokens")
    answer = enc.format.answer_text(task.test[0].output)
    n_answer = len(tokenizer(answer, add_special_tokens=False)["input_ids"])
    assert seq.labels[-n_answer:] == seq.ids[-n_answer:]  # every answer token, end marker included
    assert all(lab == IGNORE for lab in seq.labels[:-n_answer])  # nothing else
    assert _labelled(tokenizer, seq) == answer
    # the prompt the model answers at inference is exactly the unlabelled prefix
    assert enc.prompt_ids(task.train, task.test[0].input) == seq.ids[:-n_answer]


def test_demo_output_mask_adds_each_demonstration_output(tokenizer):
    enc = TaskEncoder(tokenizer)
    task = _task()
    seq = enc.training_sequence(task, "output_tokens", demo_outputs=True)
    labelled = _labelled(tokenizer, seq).replace(" ", "")
    answers = [enc.format.answer_text(e.output) for e in task.train + task.test]
    assert labelled == "".join(answers).replace(" ", "")
    plain = enc.training_sequence(task, "output_tokens")
    assert plain.ids == seq.ids


def test_all_token_mask_covers_every_real_token(tokenizer):
    seq = TaskEncoder(tokenizer).training_sequence(_task(), "all_tokens")
    assert seq.labels == seq.ids


def test_compact_mask_position_by_position():
    tok = build_compact_tokenizer()
    task = _task(n_train=1, min_side=1, max_side=1)
    seq = TaskEncoder(tok).training_sequence(task, "output_tokens", demo_outputs=True)
    tokens = tok.convert_ids_to_tokens(seq.ids)
    d_in, d_out = task.train[0].input.item(), task.train[0].output.item()
    t_in, t_out = task.test[0].input.item(), task.test[0].output.item()
    assert tokens == ["<s>", "I", str(d_in), "\n", "O", str(d_out), "\n", "E"] + [
        "I",
        str(t_in),
        "\n",
        "O",
        str(t_out),
        "\n",
        "E",
    ]
    trained = [lab != IGNORE for lab in seq.labels]
    assert trained == [0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1]


def test_padding_never_carries_loss():
    seqs = [Encoded([1, 5, 6], [IGNORE, 5, 6]), Encoded([1, 5, 6, 7, 8], [IGNORE] * 3 + [7, 8])]
    batch = collate(seqs, pad_id=0, device=torch.device("cpu"))
    assert batch.mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch.labels[0, 3:].tolist() == [IGNORE, IGNORE]
    assert batch.ids[0, 3:].tolist() == [0, 0]
    assert (batch.tokens, batch.labelled) == (8, 4)


def test_length_grouping_pairs_similar_lengths():
    lengths = [10, 50, 11, 52, 30, 31]
    batches = length_grouped_batches(lengths, 2, np.random.default_rng(0))
    assert sorted(sorted(lengths[i] for i in b) for b in batches) == [[10, 11], [30, 31], [50, 52]]


def test_reset_adapter_reproduces_the_base_model_exactly():
    tok = build_compact_tokenizer()
    model = new_llama(tok, hidden_size=32, layers=2, heads=2)
    ids = torch.tensor([tok("I01\n10\nO10\n01\nEI0\n1\nO")["input_ids"]])
    with torch.no_grad():
        before = model(input_ids=ids).logits.clone()
    engine = TTTEngine(model, tok, TTTConfig(**SMALL_LORA))
    result = engine.train(
        _task(), TTTConfig(families=(), learning_rate=1e-2, epochs=2, **SMALL_LORA)
    )
    assert result.ok and result.steps > 0
    with torch.no_grad():
        trained = engine.model(input_ids=ids).logits
        assert not torch.equal(trained, before)
        engine.reset()
        assert torch.equal(engine.model(input_ids=ids).logits, before)


def test_ttt_solves_a_task_the_untrained_model_cannot():
    """Seeded: TTT on a random tiny model learns a colour map from its demonstrations."""
    tok = build_compact_tokenizer()
    engine = TTTEngine(
        new_llama(tok, hidden_size=64, layers=2, heads=4), tok, TTTConfig(**SMALL_LORA)
    )
    config = TTTConfig(
        families=(), demo_outputs=True, learning_rate=1e-2, epochs=10, max_steps=None, **SMALL_LORA
    )
    views = PredictConfig(
        views=("identity",), orders=1, leave_one_out=False, max_new_tokens=8, infer_shape=False
    )
    for seed in range(3):
        task = make_task(
            "colour_map", np.random.default_rng(seed), n_train=8, min_side=1, max_side=1
        )
        engine.reset()
        with engine.base_model():
            assert not score(task, predict(engine.model, engine.encoder, task, views)).solved
        result = engine.train(task, config)
        assert result.ok, result.failure
        assert result.losses[-1] < result.losses[0] / 4
        assert score(task, predict(engine.model, engine.encoder, task, views)).solved, seed


def test_too_long_sequences_are_skipped_and_counted():
    tok = build_compact_tokenizer()
    engine = TTTEngine(
        new_llama(tok, hidden_size=32, layers=1, heads=2), tok, TTTConfig(**SMALL_LORA)
    )
    task = make_task("identity", np.random.default_rng(0), n_train=4, min_side=2, max_side=6)
    seqs, _ = engine.encode(task, TTTConfig(families=(), **SMALL_LORA))
    lengths = sorted(len(s.ids) for s in seqs)
    limit = lengths[len(lengths) // 2]
    config = TTTConfig(families=(), max_length=limit, epochs=1, **SMALL_LORA)
    result = engine.train(task, config)
    assert result.ok
    assert result.skipped_too_long == sum(n > limit for n in lengths) > 0
    assert result.sequences == sum(n <= limit for n in lengths)
    nothing_fits = engine.train(task, TTTConfig(families=(), max_length=5, **SMALL_LORA))
    assert nothing_fits.failure == "no training sequence fits max_length=5"
    assert nothing_fits.skipped_too_long == len(lengths)


def test_failures_are_recorded_not_raised(monkeypatch):
    tok = build_compact_tokenizer()
    model = new_llama(tok, hidden_size=32, layers=1, heads=2)
    engine = TTTEngine(model, tok, TTTConfig(**SMALL_LORA))
    task = _task()

    over = engine.train(task, TTTConfig(families=("basic",), max_steps=3, **SMALL_LORA))
    assert over.failure.startswith("needs ") and over.failure.endswith("over the budget of 3")
    assert over.steps == 0

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with monkeypatch.context() as m:
        m.setattr("arc_seal.training.causal_lm_loss", out_of_memory)
        oom = engine.train(task, TTTConfig(families=(), **SMALL_LORA))
    assert oom.failure == "out of memory at step 0: CUDA out of memory. Tried to allocate 2.00 GiB"

    with torch.no_grad():
        model.get_output_embeddings().weight[0, 0] = float("nan")
    nan = engine.train(task, TTTConfig(families=(), **SMALL_LORA))
    assert nan.failure == "loss is nan at step 0"


def test_config_validation_and_oracle():
    assert ORACLE.families == ("basic", "size", "chain", "repeat")
    assert (ORACLE.strategy, ORACLE.learning_rate, ORACLE.epochs) == ("output_tokens", 1e-4, 2)
    assert (ORACLE.lora_r, ORACLE.lora_alpha) == (128, 16)
    with pytest.raises(ValueError, match="strategy"):
        TTTConfig(strategy="train_everything")
    with pytest.raises(
        ValueError, match="families = \\('colour',\\): item 'colour': expected one of"
    ):
        TTTConfig(families=("colour",))
    with pytest.raises(ValueError, match="learning_rate"):
        TTTConfig(learning_rate=float("nan"))


def test_engine_refuses_a_config_with_another_adapter_shape():
    tok = build_compact_tokenizer()
    engine = TTTEngine(
        new_llama(tok, hidden_size=32, layers=1, heads=2), tok, TTTConfig(**SMALL_LORA)
    )
    with pytest.raises(ValueError, match="lora_r=8 differs"):
        engine.train(_task(), TTTConfig(**(SMALL_LORA | {"lora_r": 8})))


def test_a_ttt_run_does_not_depend_on_the_global_random_state():
    """Two engines built after different global seeds train to the same losses: a run
    reproduces in a new process."""
    tok = build_compact_tokenizer()
    torch.manual_seed(0)
    model = new_llama(tok, hidden_size=32, layers=2, heads=2)
    losses = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        engine = TTTEngine(copy.deepcopy(model), tok, TTTConfig(**SMALL_LORA))
        config = TTTConfig(families=(), learning_rate=1e-2, epochs=3, **SMALL_LORA)
        losses.append(engine.train(_task(), config).losses)
    assert len(losses[0]) > 2 and losses[0] == losses[1]


def test_full_fine_tuning_reset_restores_the_base_models_logits_exactly():
    tok = build_compact_tokenizer()
    model = new_llama(tok, hidden_size=32, layers=2, heads=2, grid_positions="learned")
    ids = torch.tensor([tok("I01\n10\nO10\n01\nEI0\n1\nO")["input_ids"]])
    with torch.no_grad():
        before = model(input_ids=ids).logits.clone()
    engine = TTTEngine(model, tok, TTTConfig(method="full"))
    config = TTTConfig(method="full", families=(), learning_rate=1e-2, epochs=2)
    assert engine.train(_task(), config).ok
    with torch.no_grad():
        assert not torch.equal(engine.model(input_ids=ids).logits, before)
        with engine.base_model():  # the policy and the ICL row see the base weights
            assert torch.equal(engine.model(input_ids=ids).logits, before)
    assert engine.train(_task(), config).ok
    engine.reset()
    with torch.no_grad():
        assert torch.equal(engine.model(input_ids=ids).logits, before)
    with pytest.raises(ValueError, match="method=lora differs"):
        engine.train(_task(), TTTConfig(families=()))


def test_full_fine_tuning_trains_every_weight():
    tok = build_compact_tokenizer()
    model = new_llama(tok, hidden_size=32, layers=1, heads=2, grid_positions="learned")
    base = {n: p.detach().clone() for n, p in model.named_parameters()}
    engine = TTTEngine(model, tok, TTTConfig(method="full"))
    engine.train(_task(), TTTConfig(method="full", families=(), learning_rate=1e-2, epochs=1))
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, base[n])}
    assert {"model.row_embed.weight", "model.embed_tokens.weight"} <= moved
    assert len(moved) == len(base)


def test_a_token_budget_trains_long_and_short_tasks_on_the_same_number_of_tokens():
    tok = build_compact_tokenizer()
    engine = TTTEngine(new_llama(tok, hidden_size=32, layers=1, heads=2), tok, TTTConfig())
    config = TTTConfig(families=("basic",), epochs=2, tokens_per_epoch=3000, max_steps=None)
    short, long = _task(1, max_side=2), _task(2, min_side=6, max_side=8)
    results = [engine.train(t, config) for t in (short, long)]
    assert all(r.ok for r in results)
    budget = config.epochs * config.tokens_per_epoch
    for task, r in zip((short, long), results, strict=True):
        seqs, _ = engine.encode(task, config)
        longest_batch = config.batch_size * max(len(s.ids) for s in seqs)
        assert budget <= r.tokens < budget + longest_batch
    assert results[0].steps > results[1].steps  # short sequences: more, cheaper steps
    one_pass = engine.train(long, replace(config, tokens_per_epoch=None, epochs=1))
    assert one_pass.tokens == sum(len(s.ids) for s in engine.encode(long, config)[0])


@given(
    lengths=st.lists(st.integers(1, 400), min_size=1, max_size=12),
    epochs=st.integers(1, 6),
    tokens_per_epoch=st.integers(1, 900),
    seed=st.integers(0, 2**16),
)
def test_a_token_budget_plan_ends_each_epoch_at_the_batch_that_reaches_its_share(
    lengths, epochs, tokens_per_epoch, seed
):
    rng = np.random.default_rng(seed)
    batches = length_grouped_batches(lengths, 2, rng)
    plan = batch_plan(batches, lengths, epochs, tokens_per_epoch, rng)
    assert len(plan) == epochs
    done = 0
    for epoch, steps in enumerate(plan, 1):
        for step in steps:
            assert done < epoch * tokens_per_epoch  # no batch after the epoch's share is met
            done += sum(lengths[i] for i in step)
        assert done >= epoch * tokens_per_epoch


def test_the_stopping_rule_waits_out_its_patience_and_not_a_step_less():
    rule = Plateau(patience=2, min_delta=0.05)
    assert [rule.stop(x) for x in (2.0, 1.0, 0.5, 0.3, 0.2, 0.1)] == [False] * 6  # falling
    assert [rule.stop(x) for x in (0.08, 0.09)] == [False, True]  # two epochs without 0.05
    rule = Plateau(patience=3, min_delta=0.0)
    assert [rule.stop(x) for x in (1.0, 1.0, 0.9, 0.95, 0.95, 0.89)] == [False] * 6
    assert [rule.stop(x) for x in (0.89, 0.89, 0.89)] == [False, False, True]


def test_a_long_budget_stops_once_the_leave_out_loss_stops_falling():
    tok = build_compact_tokenizer()
    engine = TTTEngine(
        new_llama(tok, hidden_size=64, layers=2, heads=4), tok, TTTConfig(**SMALL_LORA)
    )
    task = make_task("colour_map", np.random.default_rng(0), n_train=8, min_side=1, max_side=1)
    config = TTTConfig(
        families=(),
        demo_outputs=True,
        learning_rate=1e-2,
        epochs=40,
        tokens_per_epoch=300,
        max_steps=None,
        **SMALL_LORA,
    )
    whole = engine.train(task, config)
    stopped = engine.train(task, replace(config, stop_patience=2, stop_min_delta=0.01))
    assert whole.ok and stopped.ok and whole.stopped_after is None
    assert stopped.stopped_after is not None and stopped.stopped_after < config.epochs
    assert stopped.steps < whole.steps
    assert stopped.losses == whole.losses[: stopped.steps]  # the same run, cut short
    assert min(stopped.losses) < stopped.losses[0] / 4  # it had learned the task first
