import itertools
import math
import zlib
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import grids

from arc_seal.decode import GridGrammar, search
from arc_seal.formats import COMPACT
from arc_seal.tokenizer import build_compact_tokenizer

TOK = build_compact_tokenizer()
GRAMMAR = GridGrammar(TOK, "E")
PAD = TOK.pad_token_id


class TableModel(torch.nn.Module):
    """Next-token logits that are a fixed pseudo-random function of every token so far. The
    tokens travel as the KV cache's keys, so the search's cache handling is what it reads."""

    def __init__(self, sharpness: float):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.sharpness = sharpness
        self.rows_fed = 0

    def logits(self, tokens: tuple[int, ...]) -> torch.Tensor:
        gen = torch.Generator().manual_seed(zlib.crc32(np.array(tokens, np.int32).tobytes()))
        return torch.randn(len(TOK), generator=gen) * self.sharpness

    def forward(self, input_ids, attention_mask, **kwargs):
        cache = kwargs.get("cache", kwargs.get("past_key_values"))
        keys = input_ids.float()[:, None, :, None]
        seen, _ = cache.update(keys, keys, 0)
        self.rows_fed += input_ids.shape[0]
        rows = []
        for ids, mask in zip(
            seen[:, 0, :, 0].long().tolist(), attention_mask.tolist(), strict=True
        ):
            rows.append(self.logits(tuple(t for t, m in zip(ids, mask, strict=True) if m)))
        return SimpleNamespace(logits=torch.stack(rows)[:, None, :])


def _prompt(text: str = "I12\nO") -> list[int]:
    return TOK(text, add_special_tokens=False)["input_ids"]


def _brute_force(model: TableModel, prompt: list[int], shape: tuple[int, int]) -> dict:
    """Probability, under the grammar, of every grid of ``shape`` (tokens -> probability)."""
    out = {}
    for cells in itertools.product(range(10), repeat=shape[0] * shape[1]):
        grid = np.array(cells, dtype=np.int8).reshape(shape)
        answer = TOK(COMPACT.answer_text(grid), add_special_tokens=False)["input_ids"]
        state, logprob = GRAMMAR.start(shape), 0.0
        for n, token in enumerate(answer):
            allowed = torch.tensor(GRAMMAR.allowed(state))
            scores = model.logits(tuple(prompt + answer[:n]))[GRAMMAR.tokens]
            logprobs = torch.log_softmax(scores.masked_fill(~allowed, -math.inf), -1)
            logprob += float(logprobs[GRAMMAR.tokens.index(token)])
            state = GRAMMAR.advance(state, token)
        assert state is None  # the grammar closes the answer exactly at its end marker
        out[tuple(answer)] = math.exp(logprob)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_search_returns_exactly_the_answers_above_the_cutoff_and_the_greedy_one(seed):
    model = TableModel(sharpness=3.0)
    prompt = _prompt(f"I{seed}\nO")
    probs = _brute_force(model, prompt, (1, 3))
    assert math.isclose(sum(probs.values()), 1.0, rel_tol=1e-4)
    (found,) = search(model, GRAMMAR, [prompt], [(1, 3)], PAD, cutoff=0.05, max_candidates=100)
    (greedy,) = search(model, GRAMMAR, [prompt], [(1, 3)], PAD)
    expected = {a for a, p in probs.items() if p >= 0.05} | {greedy[0].tokens}
    assert {a.tokens for a in found} == expected
    for a in found:
        assert math.isclose(math.exp(a.logprob), probs[a.tokens], rel_tol=1e-4)
    assert [a.logprob for a in found] == sorted((a.logprob for a in found), reverse=True)


def test_search_batches_prompts_of_different_lengths_like_one_at_a_time():
    model = TableModel(sharpness=2.0)
    prompts = [_prompt("I1\nO"), _prompt("I12\n34\nO"), _prompt("I5\nO")]
    shapes = [(2, 2), None, (1, 2)]
    together = search(model, GRAMMAR, prompts, shapes, PAD, cutoff=0.02, batch_size=3)
    alone = [
        search(model, GRAMMAR, [p], [s], PAD, cutoff=0.02)[0]
        for p, s in zip(prompts, shapes, strict=True)
    ]
    assert [[a.tokens for a in r] for r in together] == [[a.tokens for a in r] for r in alone]


def test_search_stops_at_its_bounds():
    model = TableModel(sharpness=0.5)  # flat: many answers above a low cutoff
    prompt = _prompt()
    probs = _brute_force(model, prompt, (1, 2))
    (found,) = search(model, GRAMMAR, [prompt], [(1, 2)], PAD, cutoff=1e-4, max_candidates=3)
    assert [a.tokens for a in found] == sorted(probs, key=probs.get, reverse=True)[:3]
    model.rows_fed = 0
    (greedy,) = search(model, GRAMMAR, [prompt], [(3, 3)], PAD)
    model.rows_fed = 0
    (found,) = search(model, GRAMMAR, [prompt], [(3, 3)], PAD, cutoff=1e-6, max_expansions=50)
    assert model.rows_fed <= 1 + 50 + len(greedy[0].tokens)  # prefill, budget, greedy path
    assert greedy[0].tokens in {a.tokens for a in found}


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**20),
    shape=st.none() | st.tuples(st.integers(1, 4), st.integers(1, 4)),
    cutoff=st.none() | st.sampled_from([0.01, 0.1]),
)
def test_search_only_writes_grids_of_the_known_shape(seed, shape, cutoff):
    model = TableModel(sharpness=1.0)
    (found,) = search(model, GRAMMAR, [_prompt(f"I{seed % 10}\nO")], [shape], PAD, cutoff=cutoff)
    assert found
    for a in found:
        grid = COMPACT.parse_answer(TOK.decode(list(a.tokens)))
        assert isinstance(grid, np.ndarray)
        assert shape is None or grid.shape == shape


@given(grid=grids(max_side=12), known=st.booleans())
def test_grammar_never_forbids_a_grid_of_the_right_shape(grid, known):
    answer = TOK(COMPACT.answer_text(grid), add_special_tokens=False)["input_ids"]
    state = GRAMMAR.start(grid.shape if known else None)
    for n, token in enumerate(answer):
        assert state is not None
        assert GRAMMAR.allowed(state)[GRAMMAR.tokens.index(token)], TOK.decode(answer[: n + 1])
        state = GRAMMAR.advance(state, token)
    assert state is None


def test_the_roomy_cache_holds_what_a_growing_cache_holds_through_updates_and_reorders():
    from transformers.cache_utils import DynamicLayer

    from arc_seal.decode import RoomyLayer

    gen = torch.Generator().manual_seed(0)
    roomy, plain = RoomyLayer(), DynamicLayer()
    batch = 3
    for step, new in enumerate([5, 1, 1, 2, 1, 7, 1]):
        k = torch.randn(batch, 2, new, 4, generator=gen)
        v = torch.randn(batch, 2, new, 4, generator=gen)
        keys, values = roomy.update(k, v)
        plain.update(k, v)
        assert torch.equal(keys, plain.keys) and torch.equal(values, plain.values)
        assert torch.equal(roomy.keys, plain.keys) and torch.equal(roomy.values, plain.values)
        if step % 2:  # prefixes branch and end: rows follow them
            index = torch.tensor([2, 0, 0, 1])[: batch + 1 - step % 3]
            roomy.reorder_cache(index)
            plain.reorder_cache(index)
            batch = len(index)
        assert roomy.get_seq_length() == plain.get_seq_length()
    assert roomy._room_k.shape[-2] >= roomy.get_seq_length()  # room to spare, not one per token
