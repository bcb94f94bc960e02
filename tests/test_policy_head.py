import math

import numpy as np
import pytest
import torch

from arc_seal.config import HeadConfig, from_dict
from arc_seal.curate import grid_rows, train_mixture
from arc_seal.design import design
from arc_seal.encoding import TaskEncoder
from arc_seal.errors import ConfigError
from arc_seal.models import new_llama
from arc_seal.policy import prompt_ids, shown_task
from arc_seal.policy_head import (
    ConfigurationHead,
    family_separation,
    held_out_rates,
    prompt_features,
)
from arc_seal.records import JobRecord, Stage
from arc_seal.rest_em import reinforced
from arc_seal.reward import RewardTable, expected_accuracy
from arc_seal.self_edit import SelfEdit
from arc_seal.synthetic import make_task
from arc_seal.tokenizer import build_compact_tokenizer

EDITS = tuple(
    SelfEdit(basic, size, False, False, "train_using_output_tokens", 1e-3, 2)
    for basic in (False, True)
    for size in (False, True)
)


def test_an_unfitted_head_is_uniform_and_a_fitted_one_follows_the_rewards_of_each_family():
    rng = np.random.default_rng(0)
    # two families whose features differ in one direction; family a is rewarded for
    # configuration 1, family b for configuration 3
    features = {f"a-{i}": rng.normal(size=8) + [3, *[0] * 7] for i in range(6)}
    features |= {f"b-{i}": rng.normal(size=8) - [3, *[0] * 7] for i in range(6)}
    head = ConfigurationHead.uniform(4, features)
    for f in features.values():
        assert np.allclose(head.probabilities(f), 0.25)
    ids = sorted(features)
    losses = head.fit(
        [features[t] for t in ids], [1 if t[0] == "a" else 3 for t in ids], HeadConfig(), seed=0
    )
    assert losses[-1] < losses[0]
    for t in ids:
        p = head.probabilities(features[t])
        assert math.isclose(p.sum(), 1.0) and int(np.argmax(p)) == (1 if t[0] == "a" else 3)


def test_a_head_that_sees_the_same_features_for_every_task_learns_one_preference_for_all():
    same = np.arange(8.0)
    features = {f"{g}-{i}": same for g in "ab" for i in range(3)}
    head = ConfigurationHead.uniform(4, features)
    ids = sorted(features)
    head.fit([features[t] for t in ids], [1 if t[0] == "a" else 3 for t in ids], HeadConfig(), 0)
    p = head.probabilities(same)
    assert np.allclose(p[[1, 3]], p[1]) and p[1] > p[0]  # the mixture of both families


def test_a_head_saves_and_loads_to_the_same_probabilities(tmp_path):
    rng = np.random.default_rng(1)
    features = {str(i): rng.normal(size=5) for i in range(5)}
    head = ConfigurationHead.uniform(3, features)
    head.fit(list(features.values()), [0, 1, 2, 1, 0], HeadConfig(steps=10), seed=0)
    head.save(tmp_path / "h" / "head.safetensors")
    again = ConfigurationHead.load(tmp_path / "h" / "head.safetensors")
    for f in features.values():
        assert np.array_equal(again.probabilities(f), head.probabilities(f))


def test_the_blind_prompt_holds_no_demonstration_and_is_the_same_for_every_task():
    tok = build_compact_tokenizer()
    encoder = TaskEncoder(tok)
    rng = np.random.default_rng(0)
    tasks = [make_task(f, rng, n_train=3, min_side=2, max_side=4) for f in ("rot90", "flip_lr")]
    blind = [prompt_ids(encoder, shown_task(t, blind=True)) for t in tasks]
    seen = [prompt_ids(encoder, shown_task(t, blind=False)) for t in tasks]
    assert blind[0] == blind[1] and len(blind[0]) < min(map(len, seen))
    assert seen[0] != seen[1]
    for t in tasks:  # no cell of any demonstration is in the blind prompt
        demo = encoder.format.example_text(t.train[0])
        assert demo not in tok.decode(blind[0]) and demo in tok.decode(seen[tasks.index(t)])
    torch.manual_seed(0)
    model = new_llama(tok, hidden_size=32, layers=1, heads=2)
    shown = {t.id: shown_task(t, blind=True) for t in tasks}
    features = prompt_features(model, encoder, [shown[t.id] for t in tasks])
    assert np.array_equal(features[tasks[0].id], features[tasks[1].id])


def test_the_head_policy_needs_a_listed_space():
    with pytest.raises(ConfigError, match="policy: head .* self_edit_space: grid"):
        from_dict({"policy": "head"})


def _hand_table() -> RewardTable:
    # per task: configurations x 2 seeds
    return RewardTable(
        EDITS,
        {
            "rot90-0": [[1, 1], [0, 0], [1, 0], [0, 0]],
            "rot90-1": [[1, 0], [0, 0], [0, 0], [0, 0]],
            "flip_lr-0": [[0, 0], [1, 1], [0, 0], [0, 1]],
            "rot90-2": [[0, 1], [0, 0], [1, 1], [0, 0]],
            "flip_lr-1": [[0, 0], [0, 0], [0, 0], [1, 1]],
        },
        None,
    )


def test_the_expected_accuracy_with_solve_rates_equals_a_brute_force_enumeration():
    table = _hand_table()
    probs = {
        t: np.random.default_rng(i).dirichlet(np.ones(4)) for i, t in enumerate(table.verdicts)
    }
    exact = expected_accuracy(probs, table)
    for t, p in probs.items():
        # every (configuration, seed) outcome, each seed equally likely
        brute = sum(p[i] * 0.5 * table.verdict(t, EDITS[i], s) for i in range(4) for s in range(2))
        assert math.isclose(exact[t], brute, rel_tol=1e-12)


def test_the_train_mixture_and_the_other_grid_rows_on_a_hand_made_table():
    table = _hand_table()
    train, eval_ = ["rot90-0", "rot90-1", "flip_lr-0"], ["rot90-2", "flip_lr-1"]
    # train solve rates per configuration: c0 1 + 0.5, c1 1, c2 0.5, c3 0.5 -> sum 3.5
    assert np.allclose(train_mixture(table, train), [1.5 / 3.5, 1 / 3.5, 0.5 / 3.5, 0.5 / 3.5])
    rows = grid_rows(table, train, eval_)
    per_task = {name: {t: v[0] for t, v in r.per_task.items()} for name, r in rows.items()}
    assert per_task["train_mixture"] == pytest.approx(
        {"rot90-2": 1.5 / 3.5 * 0.5 + 0.5 / 3.5 * 1.0, "flip_lr-1": 0.5 / 3.5}
    )
    assert per_task["best_fixed"] == {"rot90-2": 0.5, "flip_lr-1": 0.0}  # c0
    assert per_task["best_per_family"] == {"rot90-2": 0.5, "flip_lr-1": 0.0}  # c0; c1
    assert per_task["uniform"] == {"rot90-2": 0.375, "flip_lr-1": 0.25}
    assert per_task["grid_oracle"] == {"rot90-2": 1.0, "flip_lr-1": 1.0}
    assert rows["best_fixed"].configuration == EDITS[0].to_json()


def test_rewarded_pairs_once_keeps_the_first_sample_of_each_rewarded_pair():
    def sample(task, n, edit, solved):
        return JobRecord(Stage.REST_EM, 1, task, n, solved=solved, self_edit=edit)

    records = [
        sample("a", 0, EDITS[0], True),
        sample("a", 1, EDITS[0], True),
        sample("a", 2, EDITS[1], True),
        sample("a", 3, EDITS[2], False),
        sample("b", 0, EDITS[0], True),
    ]
    every = reinforced(records, "binary", {})
    once = reinforced(records, "binary", {}, once=True)
    assert [(r.task_id, r.sample) for r in every] == [("a", 0), ("a", 1), ("a", 2), ("b", 0)]
    assert [(r.task_id, r.sample) for r in once] == [("a", 0), ("a", 2), ("b", 0)]


def test_the_design_pool_scores_each_choice_without_the_task_and_keeps_each_familys_best():
    # rot90: configuration 2 solves each task under both seeds; flip_lr: configuration 1;
    # configuration 0 solves a bit of everything, so it is the best fixed one
    verdicts = {f"rot90-{i}": [[1, 0], [0, 0], [1, 1], [0, 0]] for i in range(3)} | {
        f"flip_lr-{i}": [[1, 0], [1, 1], [0, 0], [0, 0]] for i in range(3)
    }
    verdicts["rot90-3"] = [[0, 0]] * 4  # solved by nothing: not informative
    table = RewardTable(EDITS, verdicts, None)
    found = design(table, least=3)
    assert found.tasks == sorted(t for t in verdicts if t != "rot90-3")
    assert found.by_family == {"flip_lr": [1.5, 3.0, 0.0, 0.0], "rot90": [1.5, 0.0, 3.0, 0.0]}
    # without a task, its family's best is still the family's, while the best fixed one is
    # the other family's (without a flip_lr task c2 leads, without a rot90 task c1)
    assert all(v == 1.0 for v in found.per_family.values())
    assert found.fixed == dict.fromkeys(found.tasks, 0.0)
    assert found.difference() == (1.0, 1.0, 1.0)
    assert found.kept == [0, 1, 2]


def test_family_separation_is_high_when_families_differ_and_chance_when_nothing_does():
    rng = np.random.default_rng(0)
    apart = {f"{g}-{i}": rng.normal(size=6) + 5 * k for k, g in enumerate("abc") for i in range(4)}
    assert family_separation(apart) == 1.0
    same = {t: np.ones(6) for t in apart}
    assert family_separation(same) == pytest.approx(4 / 12)  # every tie goes to family a


def test_held_out_rates_score_each_task_by_a_head_fitted_without_it():
    rng = np.random.default_rng(0)
    ids = [f"{g}-{i}" for g in "ab" for i in range(10)]
    apart = {t: rng.normal(size=8) + (3 if t[0] == "a" else -3) for t in ids}
    same = dict.fromkeys(ids, np.ones(8))
    # family a is solved by configuration 1 only, family b by configuration 3 only
    verdicts = {t: [[0, 0], [1, 1], [0, 0], [0, 0]] for t in ids if t[0] == "a"}
    verdicts |= {t: [[0, 0], [0, 0], [0, 0], [1, 1]] for t in ids if t[0] == "b"}
    table = RewardTable(EDITS, verdicts, None)
    seeing = held_out_rates(apart, table, ids, HeadConfig())
    blind = held_out_rates(same, table, ids, HeadConfig())
    assert sorted(seeing) == sorted(blind) == ids
    assert min(seeing.values()) > 0.8  # each task's family, learned from its other tasks
    assert blind == pytest.approx(dict.fromkeys(ids, 0.5), abs=0.05)  # half for each
    # flip one task's verdicts: the head that scores it (and its fold-mates) never read them,
    # every other fold's head did
    flipped = RewardTable(EDITS, verdicts | {"a-0": [[1, 1], [0, 0], [0, 0], [0, 0]]}, None)
    other = held_out_rates(apart, flipped, ids, HeadConfig())
    fold = ["a-5", "b-0", "b-5"]  # a family's tasks go to the 5 folds in turn
    assert all(other[t] == seeing[t] for t in fold)
    assert all(other[t] != seeing[t] for t in ids if t not in [*fold, "a-0"])
