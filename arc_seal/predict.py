"""Voted prediction: ask the model under many views of a task, map answers back, vote.

For each test input the queries are every context (all demonstrations, and each leave-1
subset), each in two orders, each seen through several invertible transforms. Answers are
decoded greedily in batches, parsed, mapped back through the transform's inverse, and voted
hierarchically: the best candidates within each transform first, then across transforms.
The top two are the attempts; pass@2 scores them.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
from transformers import LogitsProcessor, LogitsProcessorList, PreTrainedTokenizerBase

from arc_seal.augment import D8, Transform, transform_task
from arc_seal.encoding import TaskEncoder
from arc_seal.formats import TextFormat, Unparseable
from arc_seal.grid import MAX_SIDE, Example, Grid, Task, grid_key, grids_equal
from arc_seal.options import check, setting

VIEWS = {t.name: t for t in D8}


@dataclass(frozen=True)
class PredictConfig:
    """How many ways to ask, and how to decode."""

    views: tuple[str, ...] = setting(
        ("identity", "transpose", "flip_ud", "flip_lr", "rot90", "rot180"),
        "invertible transforms the task is also shown through (D8 names)",
        choices=tuple(VIEWS),
        nonempty=True,
    )
    orders: int = setting(2, "demonstration orders per context: as given, then random ones", ge=1)
    leave_one_out: bool = setting(
        True, "besides all demonstrations, also use each leave-1 subset as a context"
    )
    attempts: int = setting(2, "attempts kept per test input (pass@k)", ge=1)
    per_view: int = setting(2, "candidates each view puts forward to the vote across views", ge=1)
    batch_size: int = setting(16, "prompts decoded together", ge=1)
    max_new_tokens: int | None = setting(
        None, "decoding budget per answer; null: enough for a 30x30 grid", ge=1
    )
    infer_shape: bool = setting(
        True,
        "fix the answer's shape when every demonstration maps input to output shape by one "
        "rule (compact tokenizer only)",
    )
    seed: int = setting(0, "seed for the demonstration orders", ge=0)

    def __post_init__(self) -> None:
        check(self)


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


@dataclass(frozen=True)
class Prediction:
    attempts: list[Grid]
    candidates: list[Candidate]


@dataclass(frozen=True)
class Verdict:
    """pass@2 per test input; the task counts only if every test input is solved.

    ``cell_accuracy``: fraction of cells right in the best attempt (0 when its shape is
    wrong); ``shape_accuracy``: whether any attempt has the right shape. Both are averaged
    over test inputs, and show progress while exact solves are rare.
    """

    solved: bool
    per_test: list[bool]
    cell_accuracy: float
    shape_accuracy: float


def build_queries(task: Task, test_index: int, config: PredictConfig) -> list[Query]:
    """Queries for one test input: each context (all demonstrations, then each leave-1
    subset) in up to ``orders`` distinct orders, seen through each view."""
    rng = np.random.default_rng(config.seed)
    demos = task.train
    contexts = [demos]
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


def vote(candidates: list[Candidate], attempts: int = 2, per_view: int = 2) -> list[Grid]:
    """Hierarchical vote: each view's ``per_view`` most frequent grids go forward; across
    views, the grids put forward by most views win, then by total count, then by first seen.
    Unparseable candidates have no vote; with none parseable there are no attempts."""
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
    support: Counter[bytes] = Counter()
    for counts in by_view.values():
        best = sorted(counts, key=lambda k: (-counts[k], first[k]))[:per_view]
        support.update(best)
    ranked = sorted(grids, key=lambda k: (-support[k], -total[k], first[k]))
    return [grids[k] for k in ranked[:attempts]]


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


class GridGrammar(LogitsProcessor):
    """Lets the compact tokenizer write only grids: cell symbols, each row as wide as the first
    (or as a known shape says), at most 30x30, then the end marker. Every answer parses."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        end_marker: str,
        start: int,
        shapes: list[tuple | None],
    ):
        self.cells = torch.tensor(tokenizer.convert_tokens_to_ids([str(c) for c in range(10)]))
        self.newline = tokenizer.convert_tokens_to_ids("\n")
        self.end = tokenizer.convert_tokens_to_ids(end_marker)
        self.start, self.shapes = start, shapes

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        written = input_ids[:, self.start :].cpu()
        is_newline = written == self.newline
        rows = is_newline.sum(1).tolist()
        n = written.shape[1]
        positions = torch.arange(n).expand_as(written)
        current = (
            (n - 1 - torch.where(is_newline, positions, -1).max(1).values).tolist()
            if n
            else [0] * len(rows)
        )
        first = is_newline.int().argmax(1).tolist() if n else [0] * len(rows)
        allowed = torch.zeros_like(scores, dtype=torch.bool)
        for b, (height, width) in enumerate(s or (MAX_SIDE, None) for s in self.shapes):
            r, c = rows[b], current[b]
            if r and width is None:
                width = first[b]
            if c == 0 and r < height:
                allowed[b, self.cells] = True
            if c == 0 and r and (r == height or self.shapes[b] is None):
                allowed[b, self.end] = True
            if c and (width is None or c < width) and c < MAX_SIDE:
                allowed[b, self.cells] = True
            if c and (width is None or c == width):
                allowed[b, self.newline] = True
            if not allowed[b].any():  # finished: whatever follows is padding
                allowed[b] = True
        return scores.masked_fill(~allowed, float("-inf"))


@torch.no_grad()
def generate(
    model: torch.nn.Module,
    encoder: TaskEncoder,
    prompts: list[list[int]],
    batch_size: int,
    max_new_tokens: int,
    shapes: list[tuple[int, int] | None] | None = None,
) -> list[str]:
    """Greedy answers to token-id prompts, batched by length with left padding. With the
    compact tokenizer the answers are decoded under ``GridGrammar`` (``shapes``: a known
    output shape per prompt, or None)."""
    tokenizer = encoder.tokenizer
    pad_id = encoder.pad_id
    device = next(model.parameters()).device
    stop = {
        "eos_token_id": [i for i in (encoder.end_token_id, tokenizer.eos_token_id) if i is not None]
    }
    if encoder.end_token_id is None:
        stop.update(stop_strings=[encoder.format.end_marker], tokenizer=tokenizer)
    shapes = shapes or [None] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    answers = [""] * len(prompts)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        width = max(len(prompts[i]) for i in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            ids[row, width - len(prompts[i]) :] = torch.tensor(prompts[i])
            mask[row, width - len(prompts[i]) :] = 1
        grammar = {}
        if not encoder.chat:
            marker = encoder.format.end_marker
            rule = GridGrammar(tokenizer, marker, width, [shapes[i] for i in batch])
            grammar = {"logits_processor": LogitsProcessorList([rule])}
        out = model.generate(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=pad_id,
            **stop,
            **grammar,
        )
        for row, i in enumerate(batch):
            answers[i] = encoder.decode_answer(out[row, width:].tolist())
    return answers


def predict(
    model: torch.nn.Module, encoder: TaskEncoder, task: Task, config: PredictConfig | None = None
) -> list[Prediction]:
    """Two voted attempts per test input. ``model`` may carry an adapter or be the bare base
    model (the ICL baseline)."""
    config = config or PredictConfig()
    queries = [build_queries(task, i, config) for i in range(len(task.test))]
    flat = [q for qs in queries for q in qs]
    prompts = [encoder.prompt_ids(q.context, q.input) for q in flat]
    shapes = [shape_rule(q.context, q.input) if config.infer_shape else None for q in flat]
    max_new = config.max_new_tokens or encoder.max_answer_tokens
    was_training = model.training
    model.eval()
    try:
        texts = iter(generate(model, encoder, prompts, config.batch_size, max_new, shapes))
    finally:
        model.train(was_training)
    out = []
    for qs in queries:
        candidates = read_answers(qs, [next(texts) for _ in qs], encoder.format)
        out.append(Prediction(vote(candidates, config.attempts, config.per_view), candidates))
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
    """pass@2 against the task's test outputs, with cell and shape accuracy of the best attempt."""
    per_test, cells, shapes = [], [], []
    for i, (example, pred) in enumerate(zip(task.test, predictions, strict=True)):
        truth = example.output
        if truth is None:
            raise ValueError(f"task {task.id!r} test[{i}] has no known output to score against")
        per_test.append(any(grids_equal(a, truth) for a in pred.attempts))
        same_shape = [a for a in pred.attempts if a.shape == truth.shape]
        shapes.append(float(bool(same_shape)))
        cells.append(max((float(np.mean(a == truth)) for a in same_shape), default=0.0))
    return Verdict(all(per_test), per_test, float(np.mean(cells)), float(np.mean(shapes)))
