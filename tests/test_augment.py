import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import grids, tasks

from arc_seal.augment import (
    D8,
    FAMILIES,
    ROT90,
    TRANSPOSE,
    colour_permutation,
    compose,
    family_transforms,
    mirror,
    permute_examples,
    random_colour_permutation,
    tile,
    transform_task,
    translate,
    upscale,
)
from arc_seal.grid import MAX_SIDE


def _invertible(seed: int):
    rng = np.random.default_rng(seed)
    found = [
        *D8,
        translate(2, 3),
        random_colour_permutation(rng),
        random_colour_permutation(rng, keep_zero=False),
    ]
    found += [t for f in FAMILIES for t in family_transforms(f, rng) if t.invertible]
    found.append(compose(ROT90, random_colour_permutation(rng), TRANSPOSE))
    return found


@given(grids(), st.integers(0, 2**16))
def test_every_invertible_transform_round_trips(grid, seed):
    for t in _invertible(seed):
        assert np.array_equal(t.invert(t(grid)), grid), t.name


@given(grids(max_side=15))
def test_shapes(grid):
    h, w = grid.shape
    assert ROT90(grid).shape == (w, h) and TRANSPOSE(grid).shape == (w, h)
    assert mirror(0, True)(grid).shape == (2 * h, w)
    assert mirror(1, False)(grid).shape == (h, 2 * w)
    assert upscale(2, 1)(grid).shape == (2 * h, w)
    assert tile(2, 2)(grid).shape == (2 * h, 2 * w)
    assert np.array_equal(mirror(1, False)(grid)[:, w:], grid[:, ::-1])
    assert np.array_equal(upscale(2, 2)(grid)[::2, ::2], grid)


def test_families_have_the_reference_sizes_and_stable_unique_names():
    sizes = {f: len(family_transforms(f, np.random.default_rng(0))) for f in FAMILIES}
    assert sizes == {"basic": 11, "size": 3, "chain": 6, "repeat": 3}
    names = [t.name for f in FAMILIES for t in family_transforms(f, np.random.default_rng(0))]
    assert len(set(names)) == len(names)
    again = [t.name for f in FAMILIES for t in family_transforms(f, np.random.default_rng(0))]
    assert names == again
    assert "rot90+upscale_2x2" in names and "tile_2x2" in names


def test_unknown_family_is_an_error():
    with pytest.raises(ValueError, match="unknown augmentation family 'colour'"):
        family_transforms("colour", np.random.default_rng(0))


@given(tasks(max_side=30), st.integers(0, 2**16))
def test_nothing_over_30x30_is_ever_emitted(task, seed):
    rng = np.random.default_rng(seed)
    for t in (t for f in FAMILIES for t in family_transforms(f, rng)):
        out = transform_task(task, t)
        grids_in = [g for e in task.train + task.test for g in (e.input, e.output)]
        grown = [t(g) for g in grids_in]
        if any(max(g.shape) > MAX_SIDE for g in grown):
            assert out is None
        else:
            assert out is not None
            assert all(
                max(g.shape) <= MAX_SIDE for e in out.train + out.test for g in (e.input, e.output)
            )


@given(grids(), st.integers(0, 2**16))
def test_colour_permutation_keeps_background_unless_asked(grid, seed):
    t = random_colour_permutation(np.random.default_rng(seed))
    assert np.array_equal(t(grid) == 0, grid == 0)
    perm = [int(c) for c in t(np.arange(10, dtype=np.int8).reshape(1, 10))[0]]
    assert sorted(perm) == list(range(10))


def test_invalid_permutation_and_missing_inverse_are_errors():
    with pytest.raises(ValueError, match="not a permutation"):
        colour_permutation([0, 0, 1, 2, 3, 4, 5, 6, 7, 8])
    with pytest.raises(ValueError, match="'tile_2x2' has no inverse"):
        tile(2, 2).invert(np.zeros((2, 2), dtype=np.int8))


def test_transform_task_applies_to_inputs_and_outputs_alike():
    from arc_seal.synthetic import make_task

    task = make_task("flip_lr", np.random.default_rng(0), n_train=3)
    rotated = transform_task(task, ROT90)
    for before, after in zip(task.train + task.test, rotated.train + rotated.test, strict=True):
        assert np.array_equal(after.input, np.rot90(before.input))
        assert np.array_equal(after.output, np.rot90(before.output))


def test_permute_examples_is_a_seeded_permutation():
    from arc_seal.synthetic import make_task

    task = make_task("identity", np.random.default_rng(0), n_train=6)
    a = permute_examples(task, np.random.default_rng(5))
    b = permute_examples(task, np.random.default_rng(5))
    assert [id(e) for e in a.train] == [id(e) for e in b.train]
    assert sorted(id(e) for e in a.train) == sorted(id(e) for e in task.train)
