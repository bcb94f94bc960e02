import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arc_seal.augment import D8
from arc_seal.grid import MAX_SIDE, as_grid
from arc_seal.synthetic import (
    MASK,
    RULES,
    fill_enclosed,
    generate_tasks,
    lines,
    make_task,
    move,
    recolour_largest,
)


@pytest.mark.parametrize("rule", list(RULES))
def test_every_rule_makes_valid_tasks_of_the_requested_shape(rule):
    rng = np.random.default_rng(0)
    task = make_task(rule, rng, n_train=4, n_test=2, min_side=5, max_side=12)
    assert len(task.train) == 4 and len(task.test) == 2
    for e in task.train + task.test:
        assert np.array_equal(as_grid(e.output, "output"), e.output)  # valid ARC grid
        assert max(e.output.shape) <= MAX_SIDE
        assert min(e.input.shape) >= 1 and max(e.input.shape) <= 12


@pytest.mark.parametrize("t", D8, ids=[t.name for t in D8])
def test_d8_rules_follow_their_transform(t):
    task = make_task(t.name, np.random.default_rng(1))
    assert all(np.array_equal(e.output, t(e.input)) for e in task.train + task.test)


def test_colour_map_is_one_map_across_the_task():
    task = make_task("colour_map", np.random.default_rng(2), n_train=5)
    mapping = {}
    for e in task.train + task.test:
        for a, b in zip(e.input.ravel().tolist(), e.output.ravel().tolist(), strict=True):
            assert mapping.setdefault(a, b) == b
    assert mapping.get(0, 0) == 0


def test_gravity_keeps_each_column_and_settles_it():
    task = make_task("gravity", np.random.default_rng(3), n_train=5)
    for e in task.train + task.test:
        for col_in, col_out in zip(e.input.T, e.output.T, strict=True):
            assert sorted(col_in.tolist()) == sorted(col_out.tolist())
            filled = col_out != 0
            assert not np.any(filled[:-1] & ~filled[1:])  # no empty cell below a filled one
            assert col_in[col_in != 0].tolist() == col_out[col_out != 0].tolist()


def test_large_grids_are_redrawn_to_fit():
    task = make_task("upscale", np.random.default_rng(4), min_side=20, max_side=30)
    assert all(max(e.output.shape) <= MAX_SIDE for e in task.train + task.test)


def test_generation_is_seeded_and_cycles_rules():
    a, b = generate_tasks(12, seed=5), generate_tasks(12, seed=5)
    assert [t.to_json() for t in a] == [t.to_json() for t in b]
    assert [t.to_json() for t in a] != [t.to_json() for t in generate_tasks(12, seed=6)]
    assert len({t.id.split("-", 2)[2] for t in generate_tasks(len(RULES), seed=0)}) == len(RULES)


def test_unknown_rule_and_bad_sizes():
    with pytest.raises(ValueError, match="unknown synthetic rule 'spin'"):
        make_task("spin", np.random.default_rng(0))
    with pytest.raises(ValueError, match="min_side"):
        make_task("identity", np.random.default_rng(0), min_side=5, max_side=3)


def _explained(task, rules) -> bool:
    """Some one rule of ``rules`` maps every input of the task to its output."""
    pairs = task.train + task.test
    return any(all(np.array_equal(r(e.input), e.output) for e in pairs) for r in rules)


SEEDS = st.integers(0, 2**32 - 1)
PARAMETRISED = {
    "recolour_largest": [recolour_largest(c) for c in range(1, 10)],
    "fill_enclosed": [fill_enclosed(c) for c in range(1, 10)],
    "lines": [lines(a, s) for a in (0, 1) for s in (-1, 1)],
    "move": [move(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)],
}


@pytest.mark.parametrize("rule", sorted(PARAMETRISED))
@given(seed=SEEDS)
def test_one_parameter_explains_every_pair_of_a_task(rule, seed):
    task = make_task(rule, np.random.default_rng(seed), n_train=3, max_side=10)
    assert _explained(task, PARAMETRISED[rule])


@given(seed=SEEDS)
def test_object_rules_do_something_on_their_inputs(seed):
    rng = np.random.default_rng(seed)
    fills = make_task("fill_enclosed", rng, n_train=3, min_side=5, max_side=10)
    for e in fills.train + fills.test:
        changed = e.input != e.output
        assert not (e.input[changed]).any()  # only background is filled
        assert not changed[[0, -1], :].any() and not changed[:, [0, -1]].any()  # never the edge
    crops = make_task("crop", rng, n_train=3, max_side=10)
    for e in crops.train + crops.test:
        assert np.count_nonzero(e.output) == np.count_nonzero(e.input)  # every cell kept
        h, w = e.output.shape
        assert any(
            np.array_equal(e.input[y : y + h, x : x + w], e.output)
            for y in range(e.input.shape[0] - h + 1)
            for x in range(e.input.shape[1] - w + 1)
        )
        assert e.output[0].any() and e.output[-1].any() and e.output[:, 0].any()
    counts = make_task("count", rng, n_train=3, max_side=10)
    for e in counts.train + counts.test:
        assert e.output.shape == (1, np.count_nonzero(e.input))
        assert set(e.output.ravel()) == set(e.input[e.input != 0].ravel())
    mirrored = make_task("symmetry", rng, n_train=3, min_side=4, max_side=10)
    for e in mirrored.train + mirrored.test:
        assert (e.input == MASK).any() and not (e.output == MASK).any()
        assert np.array_equal(e.output, np.flip(e.output, 1))  # the symmetry completed
        kept = e.input != MASK
        assert np.array_equal(e.input[kept], e.output[kept])
