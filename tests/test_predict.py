import numpy as np
import pytest
from tiny import chat_tokenizer

from arc_seal.augment import D8
from arc_seal.formats import COMPACT
from arc_seal.grid import Example, Task, grids_equal
from arc_seal.models import TaskEncoder, new_llama
from arc_seal.predict import (
    Candidate,
    PredictConfig,
    Prediction,
    build_queries,
    predict,
    read_answers,
    score,
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
