import numpy as np
import pytest
import torch

from arc_seal.encoding import TaskEncoder
from arc_seal.models import new_llama
from arc_seal.policy import _option_logprobs, prompt_ids
from arc_seal.records import JobRecord
from arc_seal.rest_em import SFTConfig, reinforced, sft_policy, sft_sequence
from arc_seal.self_edit import SelfEdit
from arc_seal.synthetic import make_task
from arc_seal.tokenizer import build_compact_tokenizer

EDIT = SelfEdit(True, True, False, False, "train_using_output_tokens", 1e-3, 2)


def _r(task, sample, solved=False, cells=0.0, edit=EDIT, failure=None, trivial=0.0):
    return JobRecord(
        "rest_em",
        1,
        task,
        sample,
        solved=solved,
        cell_accuracy=cells,
        trivial_cell_accuracy=trivial,
        shape_accuracy=1.0,
        self_edit=edit,
        failure=failure,
        self_edit_text="x",
    )


def test_binary_rule_reinforces_every_solving_valid_self_edit():
    records = [
        _r("a", 0, True),
        _r("a", 1),
        _r("b", 0, True),
        _r("b", 1, True, edit=None),
        _r("c", 0, True, failure="loss is nan at step 3"),
        _r("d", 0, None),  # not scored: no known output
    ]
    assert [(r.task_id, r.sample) for r in reinforced(records, "binary", {})] == [
        ("a", 0),
        ("b", 0),
    ]


def test_best_of_n_reinforces_the_best_sample_that_beats_the_unadapted_model():
    records = [
        _r("a", 0, cells=0.5),
        _r("a", 1, cells=0.8),
        _r("a", 2, cells=0.8),
        _r("b", 0, cells=0.3),
        _r("c", 0, cells=0.9, edit=None),
    ]
    chosen = reinforced(records, "best_of_n", {"a": 0.6, "b": 0.3})
    assert [(r.task_id, r.sample) for r in chosen] == [("a", 1)]  # b does not beat 0.3
    with pytest.raises(ValueError, match="unknown reward rule"):
        reinforced(records, "majority", {})


def test_best_of_n_never_reinforces_an_answer_no_better_than_a_trivial_one():
    records = [_r("a", 0, cells=0.7, trivial=0.7), _r("b", 0, cells=0.7, trivial=0.65)]
    chosen = reinforced(records, "best_of_n", {"a": 0.2, "b": 0.2})
    assert [(r.task_id, r.sample) for r in chosen] == [("b", 0)]


def test_sft_sequence_trains_on_the_self_edit_only():
    tok = build_compact_tokenizer()
    enc = TaskEncoder(tok)
    task = make_task("identity", np.random.default_rng(0), n_train=2, min_side=2, max_side=2)
    seq = sft_sequence(enc, task, '{"a":1}')
    n_prompt = len(prompt_ids(enc, task))
    assert all(lab == -100 for lab in seq.labels[:n_prompt])
    assert tok.decode(seq.labels[n_prompt:]) == '{"a":1}</s>'


def test_sft_makes_the_rewarded_self_edit_more_likely_and_saves_a_peft_adapter(tmp_path):
    tok = build_compact_tokenizer()
    enc = TaskEncoder(tok)
    model = new_llama(tok, hidden_size=32, layers=2, heads=2)
    task = make_task("identity", np.random.default_rng(0), n_train=2, min_side=2, max_side=2)
    text = SelfEdit(True, False, False, True, "train_using_all_tokens", 1e-3, 5).text()
    prompt = prompt_ids(enc, task)
    before = _option_logprobs(model, enc, prompt, [text]).item()
    config = SFTConfig(epochs=20, batch_size=1, learning_rate=1e-2, lora_r=8, lora_alpha=8)
    merged, stats = sft_policy(
        model, enc, [(task, text)], config, ("q_proj", "v_proj"), 0, tmp_path / "a"
    )
    after = _option_logprobs(merged, enc, prompt, [text]).item()
    assert after > before + 10
    assert stats.pairs == 1 and stats.steps == 20
    assert (tmp_path / "a" / "adapter_config.json").exists()
    assert (tmp_path / "a" / "adapter_model.safetensors").exists()
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert type(merged) is type(model)  # the plain model class, adapter merged in


def test_sft_that_fails_returns_the_policy_unchanged(tmp_path, monkeypatch):
    import arc_seal.training

    real, calls = arc_seal.training.causal_lm_loss, []

    def diverging(*args):  # a numerical failure at the second step
        calls.append(1)
        loss = real(*args)
        return loss * float("nan") if len(calls) > 1 else loss

    monkeypatch.setattr(arc_seal.training, "causal_lm_loss", diverging)
    tok = build_compact_tokenizer()
    enc = TaskEncoder(tok)
    model = new_llama(tok, hidden_size=32, layers=2, heads=2)
    reference = {k: v.clone() for k, v in model.state_dict().items()}
    task = make_task("identity", np.random.default_rng(0), n_train=2, min_side=2, max_side=2)
    text = SelfEdit(True, False, False, True, "train_using_all_tokens", 1e-3, 5).text()
    config = SFTConfig(epochs=3, batch_size=1, learning_rate=1e-2, lora_r=8, lora_alpha=8)
    back, stats = sft_policy(model, enc, [(task, text)], config, ("q_proj",), 0, tmp_path / "a")
    assert stats.failure == "FloatingPointError: loss is nan at step 1"
    assert not (tmp_path / "a").exists()
    assert all(torch.equal(v, reference[k]) for k, v in back.state_dict().items())
