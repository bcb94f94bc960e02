"""Packed rows train exactly what padded rows train: same loss, same gradients."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import tasks
from tiny import chat_tokenizer
from tokenizers import Tokenizer, models, trainers
from transformers import PreTrainedTokenizerFast

from arc_seal.encoding import TaskEncoder
from arc_seal.formats import COMPACT
from arc_seal.models import new_llama
from arc_seal.pretrain import sample_sequence, self_edit_sequence
from arc_seal.synthetic import generate_tasks, make_task
from arc_seal.tokenizer import build_compact_tokenizer
from arc_seal.training import causal_lm_loss, collate, collate_packed, pack

TOK = build_compact_tokenizer()


@given(st.lists(st.integers(1, 64), max_size=40), st.integers(64, 200))
def test_packing_places_every_sequence_once_within_the_row_width(lengths, width):
    rows = pack(lengths, width)
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in row) <= width for row in rows)
    # first-fit decreasing: no two rows could have been one
    loads = sorted(sum(lengths[i] for i in row) for row in rows)
    assert len(loads) < 2 or loads[0] + loads[1] > width


def test_a_sequence_longer_than_a_row_is_refused():
    with pytest.raises(ValueError, match="does not fit a row of 8"):
        pack([3, 9], 8)


def _sequences(n: int) -> list:
    rng = np.random.default_rng(0)
    encoder = TaskEncoder(TOK)
    seqs = []
    while len(seqs) < n:
        task = make_task(["flip_lr", "tile", "colour_map"][len(seqs) % 3], rng, max_side=4)
        make = self_edit_sequence if len(seqs) % 4 == 3 else sample_sequence
        seq = make(task, rng, encoder, 400)
        if seq is not None:
            seqs.append(seq)
    return seqs


@pytest.mark.parametrize(
    "positions",
    [
        {},
        {"grid_positions": "learned", "edge_positions": True},
        {"grid_positions": "rotary", "static_pairs": 2},
    ],
    ids=["llama", "grid-learned-edges", "grid-rotary"],
)
def test_packed_and_padded_batches_give_the_same_loss_and_gradients(positions):
    model = new_llama(TOK, hidden_size=32, layers=2, heads=2, **positions).float()
    model.config._attn_implementation = "sdpa"
    seqs = _sequences(7)
    width = max(len(s.ids) for s in seqs) + 40
    rows = pack([len(s.ids) for s in seqs], width)
    assert len(rows) < len(seqs)  # several sequences share a row
    padded = collate(seqs, TOK.pad_token_id, "cpu")
    packed = collate_packed([[seqs[i] for i in row] for row in rows], width, 0, "cpu")
    assert (packed.labelled, packed.tokens) == (padded.labelled, padded.tokens)
    assert packed.ids.numel() < padded.ids.numel()
    results = []
    for batch in (padded, packed):
        model.zero_grad()
        loss = causal_lm_loss(model, batch)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results.append((loss.item(), grads))
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert loss_b == pytest.approx(loss_a, rel=1e-5)
    assert grads_a.keys() == grads_b.keys()
    for name, g in grads_a.items():
        torch.testing.assert_close(grads_b[name], g, rtol=1e-4, atol=1e-6, msg=name)


@settings(max_examples=60, deadline=None)
@given(tasks(max_side=12), st.sampled_from(["output_tokens", "all_tokens"]), st.booleans())
def test_the_compact_lookup_builds_exactly_what_the_tokenizer_builds(task, strategy, demos):
    fast = TaskEncoder(TOK)
    slow = TaskEncoder(TOK)
    slow._symbols = None  # the tokenizer's path, as for any other tokenizer
    assert fast._symbols is not None
    assert fast.training_sequence(task, strategy, demos) == slow.training_sequence(
        task, strategy, demos
    )


def test_a_tokenizer_that_merges_symbols_takes_the_tokenizer_path():
    """A base model's BPE (no chat template) trained on compact text merges frequent runs."""
    texts = [COMPACT.task_prompt(t) for t in generate_tasks(40)]
    core = Tokenizer(models.BPE())
    core.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=120, special_tokens=["<s>"]))
    bpe = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", pad_token="<s>")
    encoder = TaskEncoder(bpe)
    assert not encoder.chat and encoder._symbols is None
    assert TaskEncoder(chat_tokenizer())._symbols is None
