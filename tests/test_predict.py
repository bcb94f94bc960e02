import numpy as np
import pytest
import torch
from tiny import chat_tokenizer

from arc_seal.augment import D8
from arc_seal.encoding import TaskEncoder
from arc_seal.formats import COMPACT
from arc_seal.grid import Example, Task, grids_equal
from arc_seal.models import new_llama
from arc_seal.predict import (
    Candidate,
    PredictConfig,
    Prediction,
    answer_logprobs,
    build_queries,
    predict,
    rank_by_likelihood,
    read_answers,
    score,
    scoring_views,
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


def _teacher_forced(model, encoder, context, query, answer) -> float:
    """Summed log-probability of ``answer`` after the prompt, by one plain forward pass."""
    prompt, tokens = encoder.prompt_ids(context, query), encoder.answer_ids(answer)
    with torch.no_grad():
        logits = model(torch.tensor([prompt + tokens])).logits[0].float()
    logprobs = torch.log_softmax(logits, -1)
    return sum(float(logprobs[len(prompt) - 1 + j, t]) for j, t in enumerate(tokens))


@pytest.mark.parametrize("grid_positions", [None, "learned"])
def test_answer_logprobs_match_a_plain_forward_pass(grid_positions):
    model = new_llama(TOK, hidden_size=32, layers=2, heads=2, grid_positions=grid_positions)
    encoder = TaskEncoder(TOK)
    task = make_task("flip_lr", np.random.default_rng(3), n_train=2, min_side=2, max_side=4)
    truth = task.test[0].output
    answers = [truth, np.zeros_like(truth), np.ones((1, 3), dtype=np.int8), truth.T.copy()]
    fast = answer_logprobs(model, encoder, task.train, task.test[0].input, answers)
    slow = [_teacher_forced(model, encoder, task.train, task.test[0].input, a) for a in answers]
    assert fast == pytest.approx(slow, rel=1e-4, abs=1e-4)


def test_poe_ranks_candidates_by_log_likelihood_summed_over_views():
    model = new_llama(TOK, hidden_size=32, layers=2, heads=2, grid_positions="learned")
    encoder = TaskEncoder(TOK)
    task = make_task("rot90", np.random.default_rng(5), n_train=2, min_side=2, max_side=3)
    truth = task.test[0].output
    grids = [np.zeros_like(truth), truth, np.full_like(truth, 3)]
    candidates = [Candidate("identity", g) for g in (*grids, grids[2])]  # the last one twice
    config = PredictConfig(scoring="poe", scoring_views=4, seed=1)
    ranked, scores = rank_by_likelihood(model, encoder, task, 0, candidates, config)
    brute = []
    for g in grids:
        total = 0.0
        for view, demos in scoring_views(task, 4, seed=1):
            context = [Example(view(e.input), view(e.output)) for e in demos]
            total += _teacher_forced(model, encoder, context, view(task.test[0].input), view(g))
        brute.append(total)
    order = sorted(range(3), key=lambda i: -brute[i])
    assert [r.tolist() for r in ranked] == [grids[i].tolist() for i in order]
    assert scores == pytest.approx(sorted(brute, reverse=True), rel=1e-4)


def test_scoring_views_are_distinct_invertible_views_of_the_task():
    task = make_task("identity", np.random.default_rng(0), n_train=3, min_side=3, max_side=5)
    views = scoring_views(task, 8, seed=0)
    assert views[0][1] == task.train and views[0][0].name == "identity"
    names = [v.name for v, _ in views]
    assert len(set(names)) == 8
    for view, demos in views:
        assert sorted(map(id, demos)) == sorted(map(id, task.train))
        g = task.test[0].input
        assert grids_equal(view.invert(view(g)), g)


@pytest.mark.parametrize("scoring", ["vote", "poe"])
def test_dfs_prediction_keeps_the_greedy_answer_among_its_candidates(scoring):
    model = new_llama(TOK, hidden_size=32, layers=1, heads=2, grid_positions="learned")
    task = make_task("identity", np.random.default_rng(2), n_train=2, min_side=2, max_side=3)
    views = ("identity", "flip_lr")
    greedy = predict(model, TaskEncoder(TOK), task, PredictConfig(views=views, orders=1))
    dfs = predict(
        model,
        TaskEncoder(TOK),
        task,
        PredictConfig(views=views, orders=1, candidates="dfs", cutoff=0.01, scoring=scoring),
    )
    keys = {c.grid.tobytes() + bytes(c.grid.shape) for c in dfs[0].candidates}
    for c in greedy[0].candidates:
        assert c.grid.tobytes() + bytes(c.grid.shape) in keys
    assert all(c.logprob is not None for c in dfs[0].candidates)
    assert 1 <= len(dfs[0].attempts) <= 2


def test_dfs_needs_the_grid_grammar():
    tok = chat_tokenizer()
    model = new_llama(tok, hidden_size=32, layers=1, heads=2)
    task = make_task("identity", np.random.default_rng(0), n_train=2, min_side=2, max_side=2)
    with pytest.raises(ValueError, match="grid grammar"):
        predict(model, TaskEncoder(tok), task, PredictConfig(candidates="dfs", max_new_tokens=4))


def test_dense_scores_come_with_the_trivial_answers_and_candidate_coverage():
    inp = np.array([[1, 0], [0, 0]], dtype=np.int8)
    out = np.array([[1, 0], [0, 2]], dtype=np.int8)  # input copied: 3/4; one colour (0): 2/4
    task = Task("t", [Example(inp, out)], [Example(inp, out)])
    wrong = np.zeros((2, 2), dtype=np.int8)
    cands = [Candidate("identity", wrong), Candidate("flip_lr", out), Candidate("x", None, "bad")]
    verdict = score(task, [Prediction([wrong], cands)])
    assert not verdict.solved and verdict.cell_accuracy == 0.5
    assert verdict.trivial_cell_accuracy == 0.75
    assert verdict.truth_in_candidates == 1.0  # found, though not among the attempts
    tall = Task("t", [], [Example(inp, np.full((3, 2), 4, dtype=np.int8))])
    assert score(tall, [Prediction([], [])]).trivial_cell_accuracy == 1.0  # one colour, no copy
