from dataclasses import replace

import numpy as np
import pytest

from arc_seal.augment import FAMILIES
from arc_seal.grid import Example, grids_equal
from arc_seal.synthetic import make_task
from arc_seal.ttt_data import build_ttt_data, leave_out_tasks


def _task(n_train=4, rule="flip_ud", seed=0):
    return make_task(rule, np.random.default_rng(seed), n_train=n_train, min_side=3, max_side=6)


def _all_grids(seqs):
    return [g for s in seqs for e in s.train + s.test for g in (e.input, e.output)]


def test_leave_one_and_leave_two_counts_and_contents():
    task = _task(n_train=4)
    seqs = leave_out_tasks(task)
    assert len(seqs) == 4 + 4 * 3
    for s in seqs:
        assert len(s.test) == 1 and len(s.train) in (2, 3)
        assert all(e is not s.test[0] for e in s.train)  # the query is never in its own context
        assert any(s.test[0] is d for d in task.train)
    assert len(leave_out_tasks(_task(n_train=2))) == 2  # leave-2 would leave no context


@pytest.mark.parametrize("families", [[], ["basic"], list(FAMILIES)])
def test_test_pair_never_reaches_training_data(families):
    task = _task(n_train=4)
    seqs = build_ttt_data(task, families, seed=3)
    for g in _all_grids(seqs):
        assert not grids_equal(g, task.test[0].input) and not grids_equal(g, task.test[0].output)
    other_test = Example(np.full((5, 5), 7, np.int8), np.full((2, 2), 7, np.int8))
    changed = build_ttt_data(replace(task, test=[other_test]), families, seed=3)
    assert [s.to_json() for s in changed] == [s.to_json() for s in seqs]


def test_augmentation_expands_deduplicates_and_caps():
    task = _task(n_train=4)
    plain = build_ttt_data(task, [], seed=0)
    assert len(plain) == 16
    full = build_ttt_data(task, list(FAMILIES), cap=10_000, seed=0)
    assert len(full) > 10 * len(plain)
    keys = {str(s.to_json()) for s in full}
    assert len(keys) == len(full)
    assert len(build_ttt_data(task, list(FAMILIES), cap=50, seed=0)) == 50
    symmetric = build_ttt_data(_task(rule="identity"), ["basic"], seed=0)
    assert all(grids_equal(e.input, e.output) for s in symmetric for e in s.train + s.test)


def test_seeded():
    task = _task(n_train=5)
    a = build_ttt_data(task, ["basic", "size"], seed=7)
    b = build_ttt_data(task, ["basic", "size"], seed=7)
    c = build_ttt_data(task, ["basic", "size"], seed=8)
    assert [s.to_json() for s in a] == [s.to_json() for s in b]
    assert [s.to_json() for s in a] != [s.to_json() for s in c]


def test_unknown_family_is_an_error():
    with pytest.raises(ValueError, match="unknown augmentation family"):
        build_ttt_data(_task(), ["nope"])


def test_colour_copies_keep_the_rule_and_add_recoloured_data_without_any_family():
    task = _task(n_train=4, rule="flip_ud")
    plain = build_ttt_data(task, [], seed=0)
    coloured = build_ttt_data(task, [], cap=10_000, seed=0, colour_copies=3)
    assert len(coloured) == 4 * len(plain)
    colours = {int(c) for s in plain for g in _all_grids([s]) for c in np.unique(g)}
    recoloured = {int(c) for s in coloured for g in _all_grids([s]) for c in np.unique(g)}
    assert recoloured > colours
    for s in coloured:
        for e in s.train + s.test:  # still the task's rule, whatever the colours
            assert grids_equal(np.flipud(e.input), e.output)
    for g in _all_grids(coloured):
        assert not grids_equal(g, task.test[0].input)
    with pytest.raises(ValueError, match="colour_copies"):
        build_ttt_data(task, [], colour_copies=-1)
