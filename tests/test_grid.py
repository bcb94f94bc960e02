import json

import numpy as np
import pytest

from arc_seal import TaskFormatError
from arc_seal.data import load_tasks
from arc_seal.grid import as_grid, grids_equal, task_from_json

GOOD = {
    "train": [
        {"input": [[1, 2], [3, 4]], "output": [[4, 3], [2, 1]]},
        {"input": [[0]], "output": [[0]]},
    ],
    "test": [{"input": [[5, 6, 7]], "output": [[7, 6, 5]]}],
}


def test_valid_task_becomes_int8_grids():
    task = task_from_json(GOOD, "abc", "x.json")
    assert task.id == "abc" and len(task.train) == 2 and len(task.test) == 1
    assert task.train[0].input.dtype == np.int8
    assert task.train[0].output.tolist() == [[4, 3], [2, 1]]
    assert task.test[0].input.shape == (1, 3)
    assert task_from_json(task.to_json(), "abc", "x.json").to_json() == GOOD


def test_test_output_may_be_missing():
    raw = {"train": GOOD["train"], "test": [{"input": [[1]]}]}
    task = task_from_json(raw, "abc", "x.json")
    assert task.test[0].output is None
    assert task.to_json()["test"] == [{"input": [[1]]}]


def _with(path, value):
    raw = json.loads(json.dumps(GOOD))
    *keys, last = path
    node = raw
    for k in keys:
        node = node[k]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return raw


MALFORMED = {
    "ragged row": (
        _with(["train", 1, "output"], [[1, 2, 3], [4, 5]]),
        "task 'bad' train[1].output row 1 has 2 cells, expected 3",
    ),
    "colour 11": (
        _with(["train", 0, "input"], [[1, 11], [3, 4]]),
        "task 'bad' train[0].input row 0 col 1 is colour 11, expected 0..9",
    ),
    "empty grid": (_with(["test", 0, "input"], []), "task 'bad' test[0].input is empty"),
    "31x31": (
        _with(["train", 0, "output"], [[0] * 31] * 31),
        "task 'bad' train[0].output has 31 rows, at most 30 allowed",
    ),
    "31 columns": (
        _with(["train", 0, "output"], [[0] * 31]),
        "task 'bad' train[0].output has 31 columns, at most 30 allowed",
    ),
    "missing train": (_with(["train"], KeyError), "task 'bad' has no 'train' list"),
    "no test inputs": (_with(["test"], []), "task 'bad' has no test inputs in 'test'"),
    "no demonstrations": (_with(["train"], []), "task 'bad' has no demonstrations in 'train'"),
    "demo without output": (
        _with(["train", 0, "output"], KeyError),
        "task 'bad' train[0] has no 'output' grid",
    ),
    "string cell": (
        _with(["train", 0, "input"], [["1", 2], [3, 4]]),
        "train[0].input row 0 col 0 is '1', expected 0..9",
    ),
    "boolean cell": (
        _with(["train", 0, "input"], [[True, 2], [3, 4]]),
        "train[0].input row 0 col 0 is True, expected 0..9",
    ),
    "row not a list": (_with(["train", 0, "input"], [5]), "train[0].input row 0 is int"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_file_gives_one_clear_line(tmp_path, case):
    raw, expected = MALFORMED[case]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(TaskFormatError) as err:
        load_tasks(path)
    message = str(err.value)
    assert message == f"{path}: {expected}" or (
        message.startswith(f"{path}: ") and expected in message
    )
    assert "\n" not in message


@pytest.mark.parametrize(
    "case", ["ragged row", "colour 11", "empty grid", "31x31", "missing train"]
)
def test_cli_given_malformed_file_exits_2_without_traceback(tmp_path, run_script, case):
    raw, expected = MALFORMED[case]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    result = run_script("show_task.py", str(path), "--out", str(tmp_path / "x.png"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"error: {path}: {expected}"]
    assert not (tmp_path / "x.png").exists()


def test_as_grid_accepts_arrays_and_grids_equal_compares_shape():
    g = as_grid(np.array([[1, 2]]), "here")
    assert grids_equal(g, np.array([[1, 2]], dtype=np.int8))
    assert not grids_equal(g, np.array([[1], [2]], dtype=np.int8))
    assert not grids_equal(g, None) and grids_equal(None, None)


@pytest.mark.parametrize("bad", ["../../../X", "a/b", "a\\b", ".hidden", "..", "", " ", "a\nb"])
def test_task_ids_that_could_be_paths_are_refused(bad):
    raw = {"train": [{"input": [[1]], "output": [[1]]}], "test": [{"input": [[1]]}]}
    with pytest.raises(TaskFormatError, match="f.json: task"):
        task_from_json(raw, bad, "f.json")


@pytest.mark.parametrize("good", ["007bbfb7", "synthetic-0001-flip_lr", "my task", "a..b"])
def test_plain_task_ids_are_kept(good):
    raw = {"train": [{"input": [[1]], "output": [[1]]}], "test": [{"input": [[1]]}]}
    assert task_from_json(raw, good, "f.json").id == good
