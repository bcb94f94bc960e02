"""Prediction: ask the model under many views of a task, map answers back, pick two.

For each test input the queries are every context (all demonstrations, and each leave-1
subset), each in two orders, each seen through several invertible transforms. Each query's
answers (the greedy one, or every answer above a probability cutoff, ``arc_seal.decode``) are
parsed and mapped back through the transform's inverse. The two attempts are then chosen by a
hierarchical vote (the best candidates within each transform first, then across transforms)
or by product of experts: each distinct candidate's log-likelihood summed over augmented views
of the task, which rewards an answer that stays consistent however the task is shown.
pass@2 scores the attempts.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
import torch
from transformers import DynamicCache

from arc_seal.augment import (
    D8,
    IDENTITY,
    Transform,
    compose,
    random_colour_permutation,
    transform_task,
)
from arc_seal.config import PredictConfig
from arc_seal.decode import CACHE_ARG, GridGrammar, model_inputs, search
from arc_seal.encoding import TaskEncoder
from arc_seal.formats import TextFormat, Unparseable
from arc_seal.grid import MAX_SIDE, Example, Grid, Task, grid_key, grids_equal
from arc_seal.records import JobRecord

VIEWS = {t.name: t for t in D8}


@dataclass(frozen=True)
class Query:
    view: Transform
    context: list[Example]
    input: Grid


@dataclass(frozen=True)
class Candidate:
    """One decoded answer, in the task's own orientation; ``grid`` is None if unparseable."""

    view: str
    grid: Grid | None
    reason: str | None = None
    logprob: float | None = None
    """The answer's log-probability in its query's view, when decoding by search."""


@dataclass(frozen=True)
class Prediction:
    attempts: list[Grid]
    candidates: list[Candidate]


@dataclass(frozen=True)
class Verdict:
    """pass@2 per test input; the task counts only if every test input is solved.

    ``cell_accuracy``: fraction of cells right in the best attempt (0 when its shape is
    wrong); ``shape_accuracy``: whether any attempt has the right shape. Both show progress
    while exact solves are rare, and ``trivial_cell_accuracy`` says what they are worth: the
    cell accuracy of the better trivial answer at the true shape (the most common colour of
    the output everywhere, or the input copied when the shapes agree). ``truth_in_candidates``:
    whether the right answer was among the candidates at all. All are averaged over test
    inputs.
    """

    solved: bool
    per_test: list[bool]
    cell_accuracy: float
    shape_accuracy: float
    trivial_cell_accuracy: float
    truth_in_candidates: float


def trivial_cell_accuracy(input: Grid, truth: Grid) -> float:
    """The better of two answers that need no understanding: the output's most common colour
    everywhere, and the input copied (when its shape is the output's)."""
    one_colour = np.bincount(truth.ravel()).max() / truth.size
    copied = float(np.mean(input == truth)) if input.shape == truth.shape else 0.0
    return float(max(one_colour, copied))


def build_queries(task: Task, test_index: int, config: PredictConfig) -> list[Query]:
    """Queries for one test input: each context (all demonstrations, then each leave-1
    subset, as configured) in up to ``orders`` distinct orders, seen through each view."""
    rng = np.random.default_rng(config.seed)
    demos = task.train
    contexts = [demos] if config.all_demonstrations or len(demos) < 2 else []
    if config.leave_one_out and len(demos) > 1:
        contexts += [demos[:i] + demos[i + 1 :] for i in range(len(demos))]
    ordered = []
    for ctx in contexts:
        orders = [tuple(range(len(ctx)))]
        while len(orders) < min(config.orders, math.factorial(len(ctx))):
            order = tuple(rng.permutation(len(ctx)).tolist())
            if order not in orders:
                orders.append(order)
        ordered += [[ctx[i] for i in order] for order in orders]
    target = Example(task.test[test_index].input)
    queries = []
    for name in config.views:
        for ctx in ordered:
            shown = transform_task(Task(task.id, ctx, [target]), VIEWS[name])
            if shown is not None:
                queries.append(Query(VIEWS[name], shown.train, shown.test[0].input))
    return queries


def _tally(
    candidates: list[Candidate],
) -> tuple[dict[bytes, Grid], dict[bytes, int], Counter[bytes], dict[str, Counter[bytes]]]:
    """The parseable candidates' distinct grids, where each was first seen, how often each
    was written in all and in each view."""
    grids: dict[bytes, Grid] = {}
    first: dict[bytes, int] = {}
    total: Counter[bytes] = Counter()
    by_view: dict[str, Counter[bytes]] = {}
    for n, c in enumerate(candidates):
        if c.grid is None:
            continue
        key = grid_key(c.grid)
        grids.setdefault(key, c.grid)
        first.setdefault(key, n)
        total[key] += 1
        by_view.setdefault(c.view, Counter())[key] += 1
    return grids, first, total, by_view


def vote(candidates: list[Candidate], attempts: int = 2, per_view: int = 2) -> list[Grid]:
    """Hierarchical vote: each view's ``per_view`` most frequent grids go forward; across
    views, the grids put forward by most views win, then by total count, then by first seen.
    Unparseable candidates have no vote; with none parseable there are no attempts."""
    grids, first, total, by_view = _tally(candidates)
    support: Counter[bytes] = Counter()
    for counts in by_view.values():
        best = sorted(counts, key=lambda k: (-counts[k], first[k]))[:per_view]
        support.update(best)
    ranked = sorted(grids, key=lambda k: (-support[k], -total[k], first[k]))
    return [grids[k] for k in ranked[:attempts]]


def reference_vote(candidates: list[Candidate], attempts: int = 2, keep: int = 3) -> list[Grid]:
    """The reference's vote: within each view, and over all candidates together (one more
    category), the ``keep`` most frequent grids go forward; across categories the grids put
    forward most often win, ties broken by how often the identity view wrote them, then by
    first seen. An attempt still missing is filled by the majority grid: each cell's most
    common value among the candidates of the most common shape."""
    grids, first, total, by_view = _tally(candidates)
    categories = [total, *by_view.values()]
    support: Counter[bytes] = Counter()
    for counts in categories:
        support.update(sorted(counts, key=lambda k: (-counts[k], first[k]))[:keep])
    identity = by_view.get("identity", Counter())
    ranked = sorted(support, key=lambda k: (-support[k], -identity[k], first[k]))
    out = [grids[k] for k in ranked[:attempts]]
    if grids and len(out) < attempts:
        shape = Counter(g.shape for g in grids.values()).most_common(1)[0][0]
        same = np.stack(
            [c.grid for c in candidates if c.grid is not None and c.grid.shape == shape]
        )
        majority = np.apply_along_axis(lambda v: np.bincount(v, minlength=10).argmax(), 0, same)
        majority = majority.astype(same.dtype)
        if not any(grids_equal(majority, g) for g in out):
            out.append(majority)
    return out


def shape_rule(context: list[Example], query: Grid) -> tuple[int, int] | None:
    """The output shape the demonstrations imply for ``query``: each side scaled by the one
    ratio every demonstration shows, else the one output shape they all share, else None."""
    shape = []
    for axis in (0, 1):
        ratios = {Fraction(e.output.shape[axis], e.input.shape[axis]) for e in context}
        side = query.shape[axis] * next(iter(ratios)) if len(ratios) == 1 else None
        shape.append(int(side) if side is not None and side.denominator == 1 else None)
    if None not in shape and all(0 < side <= MAX_SIDE for side in shape):
        return shape[0], shape[1]
    outputs = {e.output.shape for e in context}
    return outputs.pop() if len(outputs) == 1 else None


@torch.no_grad()
def generate(
    model: torch.nn.Module, encoder: TaskEncoder, prompts: list[list[int]], config: PredictConfig
) -> list[str]:
    """Greedy answers from ``model.generate`` for a chat model, whose tokenizer has no grid
    grammar: batched by length with left padding, stopping at the end marker's text."""
    tokenizer = encoder.tokenizer
    device = next(model.parameters()).device
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    answers = [""] * len(prompts)
    for start in range(0, len(order), config.batch_size):
        batch = order[start : start + config.batch_size]
        width = max(len(prompts[i]) for i in batch)
        ids = torch.full((len(batch), width), encoder.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            ids[row, width - len(prompts[i]) :] = torch.tensor(prompts[i])
            mask[row, width - len(prompts[i]) :] = 1
        out = model.generate(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            max_new_tokens=config.max_new_tokens or encoder.max_answer_tokens,
            do_sample=False,
            pad_token_id=encoder.pad_id,
            eos_token_id=tokenizer.eos_token_id,
            stop_strings=[encoder.format.end_marker],
            tokenizer=tokenizer,
        )
        for row, i in enumerate(batch):
            answers[i] = encoder.decode_answer(out[row, width:].tolist())
    return answers


def candidates_for(
    model: torch.nn.Module, encoder: TaskEncoder, queries: list[Query], config: PredictConfig
) -> list[list[Candidate]]:
    """Every query's answers, mapped back to the task's orientation: greedy or by search
    under the grid grammar (compact tokenizer), greedy via ``generate`` (chat models)."""
    prompts = [encoder.prompt_ids(q.context, q.input) for q in queries]
    if encoder.chat:
        if config.candidates != "greedy":
            raise ValueError(
                f"candidates={config.candidates!r} needs the compact tokenizer's grid grammar; "
                "chat models decode greedily"
            )
        texts = generate(model, encoder, prompts, config)
        return [[c] for c in read_answers(queries, texts, encoder.format)]
    grammar = GridGrammar(encoder.tokenizer, encoder.format.end_marker)
    shapes = [shape_rule(q.context, q.input) if config.infer_shape else None for q in queries]
    found = search(
        model,
        grammar,
        prompts,
        shapes,
        encoder.pad_id,
        cutoff=config.cutoff if config.candidates == "dfs" else None,
        max_candidates=config.max_candidates,
        max_expansions=config.max_expansions,
        batch_size=config.batch_size,
        max_new_tokens=config.max_new_tokens,
    )
    out = []
    for q, answers in zip(queries, found, strict=True):
        texts = [encoder.decode_answer(list(a.tokens)) for a in answers]
        parsed = read_answers([q] * len(texts), texts, encoder.format)
        mine = [replace(c, logprob=a.logprob) for c, a in zip(parsed, answers, strict=True)]
        out.append(mine or [Candidate(q.view.name, None, "no complete answer within the bounds")])
    return out


def scoring_views(task: Task, count: int, seed: int) -> list[tuple[Transform, list[Example]]]:
    """``count`` views to score candidates under: the task as given, then each D8 transform
    in turn, each with a random recolouring (0 kept) and a random demonstration order."""
    rng = np.random.default_rng(seed)
    views = [(IDENTITY, list(task.train))]
    for k in range(1, count):
        view = compose(D8[k % len(D8)], random_colour_permutation(rng))
        views.append((view, [task.train[i] for i in rng.permutation(len(task.train))]))
    return views


@torch.no_grad()
def answer_logprobs(
    model: torch.nn.Module,
    encoder: TaskEncoder,
    context: list[Example],
    query: Grid,
    answers: list[Grid],
) -> list[float]:
    """Log-likelihood of each answer (its tokens and end marker) after the prompt: the prompt
    runs once, its cache is shared by every answer, and the answers go through in one batch."""
    device = next(model.parameters()).device
    prompt = torch.tensor([encoder.prompt_ids(context, query)], device=device)
    tokens = [encoder.answer_ids(a) for a in answers]
    n, length, width = len(tokens), prompt.shape[1], max(map(len, tokens))
    cache = DynamicCache()
    first = model(
        input_ids=prompt,
        use_cache=True,
        logits_to_keep=1,
        **{CACHE_ARG: cache},
        **model_inputs(model, prompt, length),
    )
    cache.batch_repeat_interleave(n)
    ids = torch.full((n, width), encoder.pad_id, dtype=torch.long, device=device)
    real = torch.zeros_like(ids)
    for row, t in enumerate(tokens):
        ids[row, : len(t)] = torch.tensor(t)
        real[row, : len(t)] = 1
    rest = model(
        input_ids=ids,
        attention_mask=torch.cat([torch.ones_like(prompt).expand(n, -1), real], dim=1),
        position_ids=torch.arange(length, length + width, device=device).expand(n, -1),
        use_cache=True,
        **{CACHE_ARG: cache},
        **model_inputs(model, torch.cat([prompt.expand(n, -1), ids], dim=1), width),
    )
    logits = torch.cat([first.logits.expand(n, -1, -1), rest.logits[:, :-1]], dim=1)
    picked = torch.log_softmax(logits.float(), dim=-1).gather(2, ids[..., None])[..., 0]
    return (picked * real).sum(1).tolist()


def rank_by_likelihood(
    model: torch.nn.Module,
    encoder: TaskEncoder,
    task: Task,
    test_index: int,
    candidates: list[Candidate],
    config: PredictConfig,
) -> tuple[list[Grid], list[float]]:
    """Product of experts: each distinct candidate scored by its summed log-likelihood over
    ``config.scoring_views`` views of the task; best first, votes breaking ties."""
    order = vote(candidates, attempts=len(candidates), per_view=len(candidates))
    if not order:
        return [], []
    query = task.test[test_index].input
    scores = np.zeros(len(order))
    for view, demos in scoring_views(task, config.scoring_views, config.seed):
        context = [Example(view(e.input), view(e.output)) for e in demos]
        shown = [view(g) for g in order]
        scores += answer_logprobs(model, encoder, context, view(query), shown)
    ranked = sorted(range(len(order)), key=lambda i: (-scores[i], i))
    return [order[i] for i in ranked], [float(scores[i]) for i in ranked]


def predict(
    model: torch.nn.Module, encoder: TaskEncoder, task: Task, config: PredictConfig | None = None
) -> list[Prediction]:
    """Attempts per test input. ``model`` may carry an adapter or be the bare base model (the
    ICL baseline)."""
    config = config or PredictConfig()
    queries = [build_queries(task, i, config) for i in range(len(task.test))]
    was_training = model.training
    model.eval()
    out = []
    try:
        found = iter(candidates_for(model, encoder, [q for qs in queries for q in qs], config))
        for i, qs in enumerate(queries):
            candidates = [c for _ in qs for c in next(found)]
            if config.scoring == "poe":
                attempts = rank_by_likelihood(model, encoder, task, i, candidates, config)[0]
                attempts = attempts[: config.attempts]
            elif config.scoring == "reference_vote":
                attempts = reference_vote(candidates, config.attempts)
            else:
                attempts = vote(candidates, config.attempts, config.per_view)
            out.append(Prediction(attempts, candidates))
    finally:
        model.train(was_training)
    return out


def read_answers(queries: list[Query], texts: list[str], fmt: TextFormat) -> list[Candidate]:
    """Parse each answer and map it back from its query's view to the task's orientation."""
    candidates = []
    for q, text in zip(queries, texts, strict=True):
        parsed = fmt.parse_answer(text)
        if isinstance(parsed, Unparseable):
            candidates.append(Candidate(q.view.name, None, parsed.reason))
        else:
            candidates.append(Candidate(q.view.name, q.view.invert(parsed)))
    return candidates


def score(task: Task, predictions: list[Prediction]) -> Verdict:
    """pass@2 against the task's test outputs, with the dense scores of ``Verdict``."""
    per_test, cells, shapes, trivial, covered = [], [], [], [], []
    for i, (example, pred) in enumerate(zip(task.test, predictions, strict=True)):
        truth = example.output
        if truth is None:
            raise ValueError(f"task {task.id!r} test[{i}] has no known output to score against")
        per_test.append(any(grids_equal(a, truth) for a in pred.attempts))
        same_shape = [a for a in pred.attempts if a.shape == truth.shape]
        shapes.append(float(bool(same_shape)))
        cells.append(max((float(np.mean(a == truth)) for a in same_shape), default=0.0))
        trivial.append(trivial_cell_accuracy(example.input, truth))
        found = any(c.grid is not None and grids_equal(c.grid, truth) for c in pred.candidates)
        covered.append(float(found or per_test[-1]))
    return Verdict(
        all(per_test),
        per_test,
        float(np.mean(cells)),
        float(np.mean(shapes)),
        float(np.mean(trivial)),
        float(np.mean(covered)),
    )


def voted_attempts(task: Task, records: list[JobRecord]) -> list[list[np.ndarray]]:
    """Two attempts per test input from all samples of a row: each sample's attempts are a
    view in a hierarchical vote, so grids several samples agree on come first."""
    out = []
    for i in range(len(task.test)):
        candidates = [
            Candidate(f"sample-{r.sample}", np.array(a, dtype=np.int8))
            for r in records
            if r.attempts
            for a in r.attempts[i]
        ]
        out.append(vote(candidates))
    return out
