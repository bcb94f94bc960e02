"""The 2-D-aware model: positions read from the tokens, Auto loading, LoRA, full fine-tuning,
and KV-cached generation that agrees with uncached generation."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import grids
from transformers import AutoModelForCausalLM

from arc_seal.decode import GridGrammar, search
from arc_seal.encoding import TaskEncoder
from arc_seal.grid import Example
from arc_seal.grid_model import NEWLINE_SLOT, OUTSIDE, GridLlamaForCausalLM, cell_positions
from arc_seal.models import new_llama
from arc_seal.predict import PredictConfig, predict
from arc_seal.synthetic import make_task
from arc_seal.tokenizer import build_compact_tokenizer
from arc_seal.ttt import TTTConfig, TTTEngine

TOK = build_compact_tokenizer()


ENCODINGS = ("learned", "rotary", "learned+edges+static")


def _model(seed: int = 0, encoding: str = "learned") -> GridLlamaForCausalLM:
    base, *options = encoding.split("+")
    return new_llama(
        TOK,
        hidden_size=32,
        layers=2,
        heads=2,
        seed=seed,
        grid_positions=base,
        edge_positions="edges" in options,
        static_pairs=2 if "static" in options else 0,
    )


@given(st.lists(grids(max_side=6), min_size=2, max_size=4))
def test_every_cell_gets_its_row_column_and_plane(gs):
    demos = [Example(gs[i], gs[i + 1]) for i in range(len(gs) - 1)]
    ids = TaskEncoder(TOK).prompt_ids(demos, gs[-1])
    pos = cell_positions(torch.tensor([ids]), _model().config)[0].tolist()
    expected = []
    for e in demos:
        for plane, grid in ((1, e.input), (2, e.output)):
            expected.append((OUTSIDE, OUTSIDE, 0))  # I or O marker
            for r, row in enumerate(grid.tolist()):
                expected += [(r, c, plane) for c in range(len(row))] + [(r, NEWLINE_SLOT, plane)]
        expected.append((OUTSIDE, OUTSIDE, 0))  # E
    expected.append((OUTSIDE, OUTSIDE, 0))
    for r, row in enumerate(gs[-1].tolist()):
        expected += [(r, c, 1) for c in range(len(row))] + [(r, NEWLINE_SLOT, 1)]
    expected.append((OUTSIDE, OUTSIDE, 0))
    assert [tuple(p) for p in pos] == [(OUTSIDE, OUTSIDE, 0), *expected]  # <s> first


@given(st.lists(grids(max_side=6), min_size=2, max_size=4))
def test_input_grid_cells_also_count_from_the_bottom_and_the_right(gs):
    demos = [Example(gs[i], gs[i + 1]) for i in range(len(gs) - 1)]
    ids = TaskEncoder(TOK).prompt_ids(demos, gs[-1])
    pos = cell_positions(torch.tensor([ids]), _model(encoding="learned+edges").config)[0]
    for _, _, plane, edge_row, edge_col in pos.tolist():
        if plane != 1:  # output grids are written by the model: nothing ahead is known
            assert (edge_row, edge_col) == (OUTSIDE, OUTSIDE)
    inputs = [e.input for e in demos] + [gs[-1]]
    cells = pos[(pos[:, 2] == 1) & (pos[:, 1] < NEWLINE_SLOT)].tolist()
    expected = [
        (r, c, 1, g.shape[0] - 1 - r, g.shape[1] - 1 - c)
        for g in inputs
        for r in range(g.shape[0])
        for c in range(g.shape[1])
    ]
    assert [tuple(p) for p in cells] == expected


@given(grids(max_side=5), grids(max_side=5))
def test_positions_of_a_prefix_do_not_depend_on_what_follows(query, answer):
    """What KV-cached decoding relies on: the prompt's positions, and those of every answer
    prefix, are the same whether or not more tokens follow."""
    encoder = TaskEncoder(TOK)
    config = _model(encoding="learned+edges").config
    ids = encoder.prompt_ids([Example(answer, query)], query) + encoder.answer_ids(answer)
    whole = cell_positions(torch.tensor([ids]), config)[0]
    prompt_length = len(encoder.prompt_ids([Example(answer, query)], query))
    for k in range(prompt_length, len(ids) + 1):
        assert torch.equal(cell_positions(torch.tensor([ids[:k]]), config)[0], whole[:k])


def test_static_pairs_do_not_turn_and_the_others_are_llamas():
    x, positions = torch.zeros(1, 7, 16), torch.arange(7)[None]
    cos, sin = _model(encoding="learned").model.rotary_emb(x, positions)  # Llama's own
    cos_s, sin_s = _model(encoding="learned+static").model.rotary_emb(x, positions)
    pairs = cos.shape[-1] // 2
    turning = [i for half in (0, pairs) for i in range(half, half + pairs - 2)]
    static = [i for half in (0, pairs) for i in range(half + pairs - 2, half + pairs)]
    assert torch.allclose(cos_s[..., turning], cos[..., turning])
    assert torch.allclose(sin_s[..., turning], sin[..., turning])
    assert torch.all(cos_s[..., static] == 1) and torch.all(sin_s[..., static] == 0)
    assert not torch.all(cos[..., static] == 1)


def test_digits_outside_a_grid_are_not_cells():
    ids = TOK("I1\nOS0.01", add_special_tokens=False)["input_ids"]
    pos = cell_positions(torch.tensor([ids]), _model().config)[0].tolist()
    assert pos[1] == [0, 0, 1]
    assert all(p == [OUTSIDE, OUTSIDE, 0] for p in pos[4:])


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_loads_through_the_auto_classes_without_remote_code(tmp_path, encoding):
    model = _model(encoding=encoding)
    model.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path, trust_remote_code=False)
    assert type(loaded) is GridLlamaForCausalLM
    ids = torch.tensor([TOK("I12\n34\nO", add_special_tokens=True)["input_ids"]])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, loaded(ids).logits)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_cached_generation_matches_uncached_generation(encoding):
    model = _model(seed=3, encoding=encoding)
    for table in model.model.modules():
        if isinstance(table, torch.nn.Embedding):
            torch.nn.init.normal_(table.weight, std=1.0)  # a random model with varied answers
    task = make_task("flip_lr", np.random.default_rng(0), min_side=3, max_side=4)
    encoder = TaskEncoder(TOK)
    prompt = encoder.prompt_ids(task.train, task.test[0].input)
    n = len(prompt)
    # transformers' own generate, with and without its cache
    answers = [
        model.generate(torch.tensor([prompt]), max_new_tokens=17, do_sample=False, use_cache=c)
        for c in (True, False)
    ]
    assert torch.equal(*answers)
    # the project's cached search against a plain greedy loop under the grammar, no cache
    grammar = GridGrammar(TOK, "E")
    (found,) = search(model, grammar, [prompt], [(4, 3)], encoder.pad_id)
    ids, state = list(prompt), grammar.start((4, 3))
    while state is not None:
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1, grammar.tokens]
        logits[~torch.tensor(grammar.allowed(state))] = -torch.inf
        token = grammar.tokens[int(logits.argmax())]
        ids.append(token)
        state = grammar.advance(state, token)
    assert list(found[0].tokens) == ids[n:]
    text = TOK.decode(ids[n:])
    assert text.count("\n") == 4 and len(set(text.replace("\n", "").replace("E", ""))) > 1
    with torch.no_grad():  # and the positions matter
        full = torch.tensor([ids])
        plain = model(full).logits[0, n - 1 : -1]
        zeros = torch.zeros_like(cell_positions(full, model.config))
        shifted = model(full, grid_positions=zeros)
    assert not torch.allclose(plain, shifted.logits[0, n - 1 : -1])


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_lora_trains_and_predicts_and_full_fine_tuning_reaches_the_grid_tables(encoding):
    task = make_task("identity", np.random.default_rng(1), n_train=3, min_side=2, max_side=3)
    engine = TTTEngine(_model(encoding=encoding), TOK, TTTConfig(lora_r=8, lora_alpha=8))
    config = TTTConfig(epochs=4, learning_rate=1e-2, max_sequences=8, lora_r=8, lora_alpha=8)
    result = engine.train(task, config)
    assert result.ok and result.losses[-1] < result.losses[0]
    predictions = predict(engine.model, engine.encoder, task, PredictConfig(views=("identity",)))
    assert predictions[0].attempts  # answers decode under the grammar

    model = _model(encoding=encoding)
    before = model.model.plane_embed.weight.detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    seq = TaskEncoder(TOK).training_sequence(task, "output_tokens")
    ids, labels = torch.tensor([seq.ids]), torch.tensor([seq.labels])
    model.train()
    model(ids, labels=labels).loss.backward()
    optimizer.step()
    assert not torch.equal(before, model.model.plane_embed.weight)
