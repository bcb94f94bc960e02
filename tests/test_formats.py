import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import grids, tasks

from arc_seal.formats import CHAT, COMPACT, Unparseable
from arc_seal.grid import MAX_SIDE

FORMATS = [COMPACT, CHAT]


@pytest.mark.parametrize("fmt", FORMATS, ids=["compact", "chat"])
@given(grid=grids())
def test_answer_round_trips(fmt, grid):
    parsed = fmt.parse_answer(fmt.answer_text(grid))
    assert not isinstance(parsed, Unparseable)
    assert parsed.dtype == np.int8 and np.array_equal(parsed, grid)


@pytest.mark.parametrize("fmt", FORMATS, ids=["compact", "chat"])
@given(task=tasks(max_side=6))
def test_prompt_then_answer_is_the_whole_task_text(fmt, task):
    full = fmt.task_prompt(task) + fmt.answer_text(task.test[0].output)
    demos = [fmt.example_text(e) for e in task.train + task.test]
    assert full == fmt.example_separator.join(demos)
    assert fmt.task_prompt(task).endswith(fmt.output_marker)


@pytest.mark.parametrize("fmt", FORMATS, ids=["compact", "chat"])
@given(text=st.text(max_size=300))
def test_parsing_never_raises(fmt, text):
    result = fmt.parse_answer(text)
    if not isinstance(result, Unparseable):
        assert result.ndim == 2 and min(result.shape) >= 1 and max(result.shape) <= MAX_SIDE
        assert result.min() >= 0 and result.max() <= 9


@pytest.mark.parametrize("fmt", FORMATS, ids=["compact", "chat"])
@given(
    grid=grids(max_side=8),
    cut=st.integers(0, 400),
    junk=st.sampled_from(["x", "[", "]", " ", "\n", "5", "-"]),
)
def test_mutated_answers_never_raise(fmt, grid, cut, junk):
    text = fmt.answer_text(grid)
    cut = cut % (len(text) + 1)
    assert isinstance(fmt.parse_answer(text[:cut] + junk + text[cut:]), (np.ndarray, Unparseable))


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty answer"),
        ("E", "empty answer"),
        ("012\n01\nE", "ragged rows: widths [2, 3]"),
        ("012\n0a2\nE", "stray symbol 'a' in row 1"),
        ("01\n\n01\nE", "row 1 is empty"),
        ("0\n" * 31 + "E", "grid 31x1 is larger than 30x30"),
        ("0" * 31 + "\nE", "grid 1x31 is larger than 30x30"),
    ],
)
def test_compact_unparseable_reasons(text, reason):
    assert COMPACT.parse_answer(text) == Unparseable(reason)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("   #", "empty answer"),
        ("[[1 2]\n [3]]#", "ragged rows: widths [1, 2]"),
        ("[[1 2]\n [3 x]]#", "not a grid"),
        ("[[1 12]]#", "row 0 has '12'"),
        ("[[1 2]\n []]#", "row 1 is empty"),
        ("[[1 2]", "not a grid"),
        ("[" + "[0]" * 31 + "]", "grid 31x1 is larger than 30x30"),
    ],
)
def test_chat_unparseable_reasons(text, reason):
    result = CHAT.parse_answer(text)
    assert isinstance(result, Unparseable) and result.reason.startswith(reason)


def test_chat_format_reads_like_numpy_and_is_lenient_where_a_person_would_be():
    grid = np.array([[0, 1], [2, 3]], dtype=np.int8)
    assert CHAT.answer_text(grid) == "[[0 1]\n [2 3]]#"
    assert CHAT.answer_text(grid)[:-1] == str(grid)
    for text in ["[[0 1]\n [2 3]]# trailing words", "  [[0, 1], [2, 3]]#", "[[0 1] [2 3]]"]:
        assert np.array_equal(CHAT.parse_answer(text), grid), text


def test_compact_layout():
    grid = np.array([[0, 1], [2, 3]], dtype=np.int8)
    assert COMPACT.answer_text(grid) == "01\n23\nE"
    assert np.array_equal(COMPACT.parse_answer("01\n23\nE0000"), grid)
