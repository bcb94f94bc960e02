import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import grids
from tiny import chat_tokenizer

from arc_seal.augment import D8
from arc_seal.encoding import TaskEncoder
from arc_seal.formats import COMPACT
from arc_seal.grid import Example, Task, grids_equal
from arc_seal.models import new_llama
from arc_seal.predict import (
    Candidate,
    GridGrammar,
    PredictConfig,
    Prediction,
    build_queries,
    predict,
    read_answers,
    score,
    shape_rule,
    vote,
)
from arc_seal.synthetic import make_task
from arc_seal.tokenizer import build_compact_tokenizer

A = np.array([[1, 2]], dtype=np.int8)
B = np.array([[3]], dtype=np.int8)
C = np.array([[4, 4], [4, 4]], dtype=np.int8)


def _cands(*pairs):
    return [Candidate(view, grid) for view, grid in pairs]


def test_vote_single_view_takes_the_two_most_frequent():
    attempts = vote(_cands(("identity", B), ("identity", A), ("identity", A), ("identity", C)))
    assert [a.tolist() for a in attempts] == [A.tolist(), B.tolist()]  # tie B/C: first seen


def test_vote_ties_break_by_first_seen():
    attempts = vote(_cands(("identity", C), ("identity", A), ("identity", B)), attempts=2)
    assert [a.tolist() for a in attempts] == [C.tolist(), A.tolist()]


def test_vote_with_nothing_parseable_gives_no_attempts():
    assert vote([Candidate("identity", None, "empty answer")] * 3) == []


def test_vote_is_hierarchical_not_flat():
    # A wins a flat count (5 votes, all from one view); B and C are each in the top 2 of
    # three views. Hierarchical voting puts B and C first.
    cands = _cands(*[("identity", A)] * 5)
    for view in ("transpose", "flip_lr", "rot90"):
        cands += _cands((view, B), (view, C))
    attempts = vote(cands, attempts=2, per_view=2)
    assert [a.tolist() for a in attempts] == [B.tolist(), C.tolist()]


def test_queries_cover_contexts_orders_and_views_without_duplicates():
    task = make_task("flip_lr", np.random.default_rng(0), n_train=3)
    config = PredictConfig(views=("identity", "rot90"), orders=2)
    queries = build_queries(task, 0, config)
    assert len(queries) == (1 + 3) * 2 * 2
    one = build_queries(task, 0, PredictConfig(views=("identity",), orders=1, leave_one_out=False))
    assert len(one) == 1 and len(one[0].context) == 3
    assert np.array_equal(one[0].input, task.test[0].input)


def test_answers_are_mapped_back_through_each_view():
    task = make_task("flip_lr", np.random.default_rng(1), n_train=3)
    truth = task.test[0].output
    queries = build_queries(task, 0, PredictConfig(views=tuple(t.name for t in D8)))
    # a perfect solver answers each view in that view's orientation
    texts = [COMPACT.answer_text(q.view(truth)) for q in queries]
    candidates = read_answers(queries, texts, COMPACT)
    assert all(grids_equal(c.grid, truth) for c in candidates)
    assert grids_equal(vote(candidates)[0], truth)
    garbled = read_answers(queries[:1], ["12\n3\nE"], COMPACT)
    assert garbled[0].grid is None and garbled[0].reason.startswith("ragged")


def test_score_pass_at_2_every_test_input_and_partial_credit():
    task = Task("t", [Example(A, A)], [Example(A, A), Example(B, C)])
    both = [Prediction([B, A], []), Prediction([C], [])]
    verdict = score(task, both)
    assert verdict.solved and verdict.per_test == [True, True]
    assert verdict.cell_accuracy == 1.0 and verdict.shape_accuracy == 1.0
    near = np.array([[4, 4], [4, 0]], dtype=np.int8)
    partial = score(task, [Prediction([A], []), Prediction([B, near], [])])
    assert not partial.solved and partial.per_test == [True, False]
    assert partial.cell_accuracy == pytest.approx((1.0 + 0.75) / 2)
    assert partial.shape_accuracy == 1.0
    nothing = score(task, [Prediction([], []), Prediction([], [])])
    assert (nothing.cell_accuracy, nothing.shape_accuracy) == (0.0, 0.0)
    unknown = Task("u", [Example(A, A)], [Example(A)])
    with pytest.raises(ValueError, match="test\\[0\\] has no known output"):
        score(unknown, [Prediction([A], [])])


@pytest.mark.parametrize("kind", ["compact", "chat"])
def test_predict_runs_without_an_adapter(kind):
    tok = build_compact_tokenizer() if kind == "compact" else chat_tokenizer()
    model = new_llama(tok, hidden_size=32, layers=1, heads=2)
    task = make_task("identity", np.random.default_rng(0), n_train=2, min_side=2, max_side=2)
    config = PredictConfig(views=("identity", "flip_lr"), orders=1, max_new_tokens=12)
    preds = predict(model, TaskEncoder(tok), task, config)
    assert len(preds) == 1
    assert len(preds[0].candidates) == len(build_queries(task, 0, config))
    assert len(preds[0].attempts) <= 2
    assert not score(task, preds).solved


def test_answer_bound_covers_a_30x30_grid():
    for tok in (build_compact_tokenizer(), chat_tokenizer()):
        enc = TaskEncoder(tok)
        full = np.full((30, 30), 7, dtype=np.int8)
        needed = len(tok(enc.format.answer_text(full), add_special_tokens=False)["input_ids"])
        assert enc.max_answer_tokens >= needed


def _grid(h: int, w: int, fill: int = 0) -> np.ndarray:
    return np.full((h, w), fill, dtype=np.int8)


@pytest.mark.parametrize(
    "pairs, query, expected",
    [
        ([((3, 3), (3, 3)), ((5, 2), (5, 2))], (4, 7), (4, 7)),  # same shape
        ([((2, 2), (6, 6)), ((3, 1), (9, 3))], (4, 2), (12, 6)),  # scaled by 3
        ([((6, 4), (3, 2)), ((10, 8), (5, 4))], (4, 6), (2, 3)),  # halved
        ([((3, 3), (1, 1)), ((5, 2), (1, 1))], (4, 4), (1, 1)),  # one output shape
        ([((3, 3), (3, 3)), ((5, 2), (1, 1))], (4, 4), None),  # no single rule
        ([((2, 2), (1, 1)), ((4, 4), (2, 2))], (3, 3), None),  # 1.5 rows: not a shape
        ([((10, 10), (30, 30)), ((5, 5), (15, 15))], (11, 11), None),  # over 30x30
    ],
)
def test_shape_rule_reads_the_demonstrations(pairs, query, expected):
    context = [Example(_grid(*i), _grid(*o)) for i, o in pairs]
    assert shape_rule(context, _grid(*query)) == expected


TOK = build_compact_tokenizer()


def _decode_under_grammar(seed: int, shape) -> str:
    """Greedy decoding of random logits under the grammar, as generate() would run it."""
    gen = torch.Generator().manual_seed(seed)
    prompt = TOK("I0\nO", add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt])
    grammar = GridGrammar(TOK, "E", len(prompt), [shape])
    for _ in range(31 * 30 + 1):
        scores = grammar(ids, torch.randn(1, len(TOK), generator=gen) * 5)
        ids = torch.cat([ids, scores.argmax(1, keepdim=True)], dim=1)
        if ids[0, -1] == TOK.convert_tokens_to_ids("E"):
            break
    return TOK.decode(ids[0, len(prompt) :])


@given(
    seed=st.integers(0, 2**31), shape=st.none() | st.tuples(st.integers(1, 30), st.integers(1, 30))
)
def test_grammar_only_lets_the_model_write_grids(seed, shape):
    grid = COMPACT.parse_answer(_decode_under_grammar(seed, shape))
    assert isinstance(grid, np.ndarray)
    if shape is not None:
        assert grid.shape == shape


@given(grid=grids(max_side=12), known=st.booleans())
def test_grammar_never_forbids_a_grid_of_the_right_shape(grid, known):
    prompt = TOK("I0\nO", add_special_tokens=False)["input_ids"]
    answer = TOK(COMPACT.answer_text(grid), add_special_tokens=False)["input_ids"]
    grammar = GridGrammar(TOK, "E", len(prompt), [grid.shape if known else None])
    for n, token in enumerate(answer):
        ids = torch.tensor([prompt + answer[:n]])
        scores = grammar(ids, torch.zeros(1, len(TOK)))
        assert scores[0, token] == 0, (n, TOK.decode(answer[: n + 1]))
