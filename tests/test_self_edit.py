import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny import chat_tokenizer

from arc_seal.encoding import TaskEncoder
from arc_seal.models import new_llama
from arc_seal.policy import sample_free, sample_schema
from arc_seal.self_edit import InvalidSelfEdit, SelfEdit, SelfEditSpace, parse_self_edit
from arc_seal.synthetic import make_task
from arc_seal.tokenizer import build_compact_tokenizer
from arc_seal.ttt import TTTConfig

EDIT = SelfEdit(True, False, True, False, "train_using_output_tokens", 1e-4, 3)
REFERENCE_TEXT = json.dumps(EDIT.to_json(), indent=2)


def test_round_trip_and_mapping_to_ttt_config():
    assert parse_self_edit(EDIT.text()) == EDIT
    assert parse_self_edit(REFERENCE_TEXT) == EDIT
    config = EDIT.ttt_config(TTTConfig(lora_r=8))
    assert config.families == ("basic", "chain")
    assert (config.strategy, config.learning_rate, config.epochs, config.lora_r) == (
        "output_tokens",
        1e-4,
        3,
        8,
    )
    all_tokens = SelfEdit(False, False, False, False, "train_using_all_tokens", 1e-3, 1)
    assert all_tokens.ttt_config(TTTConfig()).strategy == "all_tokens"
    assert all_tokens.ttt_config(TTTConfig()).families == ()


@pytest.mark.parametrize(
    "text",
    [
        f"```json\n{REFERENCE_TEXT}\n```",
        f"Here is my plan:\n{REFERENCE_TEXT}\nGood luck!",
        "{not json} then " + EDIT.text(),
        json.dumps(
            {
                "training": EDIT.to_json()["training"],
                "data_generation": EDIT.to_json()["data_generation"],
            }
        ),
    ],
)
def test_parser_is_lenient_on_form(text):
    assert parse_self_edit(text) == EDIT


def _mutated(**training):
    obj = EDIT.to_json()
    obj["training"].update(training)
    return json.dumps(obj)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "no JSON object found"),
        ("I would rotate things", "no JSON object found"),
        (_mutated(strategy="train_everything"), "unknown strategy 'train_everything'"),
        (_mutated(learning_rate="fast"), "learning_rate is 'fast', expected a number"),
        (_mutated(learning_rate=3.0), "learning_rate 3.0 is outside"),
        (_mutated(learning_rate=0), "learning_rate 0 is outside"),
        (_mutated(num_train_epochs=2.5), "num_train_epochs is 2.5"),
        (_mutated(num_train_epochs=True), "num_train_epochs is True"),
        (_mutated(num_train_epochs=1000), "num_train_epochs 1000 is outside"),
        ('{"training": {}}', "needs 'data_generation' and 'training' objects"),
        (
            json.dumps({"data_generation": {}, "training": {}}),
            "missing key 'use_basic_augmentations'",
        ),
    ],
)
def test_parser_is_strict_on_meaning(text, reason):
    with pytest.raises(InvalidSelfEdit) as err:
        parse_self_edit(text)
    assert str(err.value).startswith(reason)


def _mutations(draw_text: str, position: int, insert: str, cut: int) -> str:
    p = position % (len(draw_text) + 1)
    return draw_text[:p] + insert + draw_text[p + cut % 5 :]


@settings(max_examples=500)
@given(st.text(max_size=300))
def test_fuzz_random_text(text):
    _only_invalid_escapes(text)


@settings(max_examples=500)
@given(
    st.sampled_from([EDIT.text(), REFERENCE_TEXT]),
    st.integers(0, 400),
    st.sampled_from(['"', "{", "}", ":", ",", "1e9", "-", "null", "true", "]", "\\", "NaN", ""]),
    st.integers(0, 10),
)
def test_fuzz_mutated_self_edits(text, position, insert, cut):
    _only_invalid_escapes(_mutations(text, position, insert, cut))


def _only_invalid_escapes(text: str) -> None:
    try:
        edit = parse_self_edit(text)
    except InvalidSelfEdit:
        return
    config = edit.ttt_config(TTTConfig())  # validates again: raises on anything invalid
    assert config.learning_rate > 0 and config.epochs >= 1


@pytest.mark.parametrize("kind", ["compact", "chat"])
def test_schema_sampling_is_always_valid_with_a_log_probability(kind):
    tok = build_compact_tokenizer() if kind == "compact" else chat_tokenizer()
    model = new_llama(tok, hidden_size=32, layers=1, heads=2)
    task = make_task("flip_lr", np.random.default_rng(0), n_train=2, min_side=2, max_side=3)
    space = SelfEditSpace.product(learning_rates=(1e-4, 1e-3), epochs=(1, 2))
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(4):
        text, logprob = sample_schema(model, TaskEncoder(tok), task, space, rng)
        edit = parse_self_edit(text)
        assert text == edit.text()
        assert edit in space.configurations
        assert logprob <= 0.0
        seen.add(text)
    assert len(seen) > 1  # it samples, it does not always pick the same options


def test_free_sampling_returns_text_for_the_parser():
    tok = build_compact_tokenizer()
    model = new_llama(tok, hidden_size=32, layers=1, heads=2)
    task = make_task("identity", np.random.default_rng(0), n_train=2, min_side=2, max_side=2)
    text = sample_free(model, TaskEncoder(tok), task, seed=0, max_new_tokens=16)
    assert 0 < len(tok(text, add_special_tokens=False)["input_ids"]) <= 16
    assert text == sample_free(model, TaskEncoder(tok), task, seed=0, max_new_tokens=16)
    with pytest.raises(InvalidSelfEdit):  # an untrained model writes no valid self-edit
        parse_self_edit(text)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("{" * 1_000_000, "reply has 1000000 characters; a self-edit takes at most 10000"),
        ('{"training": {"learning_rate": ' + "9" * 5000 + "}}", "no JSON object found"),
        (
            REFERENCE_TEXT.replace('"learning_rate": 0.0001', '"learning_rate": ' + "9" * 4000),
            "a number is too large",
        ),
    ],
)
def test_hostile_replies_are_invalid_self_edits(text, reason):
    with pytest.raises(InvalidSelfEdit, match=reason):
        parse_self_edit(text)
