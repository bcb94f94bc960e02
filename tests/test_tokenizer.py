import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from strategies import grids, tasks
from transformers import AutoTokenizer

from arc_seal.formats import COMPACT
from arc_seal.self_edit import SelfEdit
from arc_seal.tokenizer import SYMBOLS, build_compact_tokenizer

TOKENIZER = build_compact_tokenizer()


@given(task=tasks(max_side=6))
def test_task_text_is_one_token_per_symbol_and_round_trips(task):
    text = COMPACT.task_prompt(task) + COMPACT.answer_text(task.test[0].output)
    ids = TOKENIZER(text)["input_ids"]
    assert ids[0] == TOKENIZER.bos_token_id and len(ids) == len(text) + 1
    assert TOKENIZER.unk_token_id not in ids
    assert TOKENIZER.decode(ids, skip_special_tokens=True) == text


@given(grid=grids(max_side=30))
def test_every_cell_is_its_own_token(grid):
    ids = TOKENIZER(COMPACT.grid_text(grid), add_special_tokens=False)["input_ids"]
    assert len(ids) == grid.size + grid.shape[0]


@given(
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["train_using_all_tokens", "train_using_output_tokens"]),
    st.sampled_from([1e-5, 5e-5, 1e-4, 3e-4, 1e-3]),
    st.integers(1, 50),
)
def test_self_edits_are_spelled_without_unknown_tokens(b, s, c, r, strategy, lr, epochs):
    text = SelfEdit(b, s, c, r, strategy, lr, epochs).text()
    ids = TOKENIZER(text, add_special_tokens=False)["input_ids"]
    assert TOKENIZER.unk_token_id not in ids
    assert TOKENIZER.decode(ids) == text


def test_save_and_load_keep_the_vocabulary(tmp_path):
    TOKENIZER.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    text = "I01\n23\nO0\nES{}"
    assert loaded(text)["input_ids"] == TOKENIZER(text)["input_ids"]
    assert loaded.pad_token_id == TOKENIZER.pad_token_id and len(loaded) == len(TOKENIZER)
    assert len(SYMBOLS) == len(set(SYMBOLS))
    unknown = TOKENIZER("Q", add_special_tokens=False)["input_ids"]
    assert unknown == [TOKENIZER.unk_token_id]
    assert np.all(
        np.array(TOKENIZER(COMPACT.end_marker, add_special_tokens=False)["input_ids"]) > 3
    )
