import json

import numpy as np
import pytest
from tiny import learnable_run_inputs

from arc_seal.benchmark import sanity_tasks
from arc_seal.cli import main
from arc_seal.config import RunConfig
from arc_seal.curate import (
    configurations,
    grid_rows,
    run_grid,
    split,
    subset_spec,
    write_subset,
)
from arc_seal.data import load_subset
from arc_seal.distributed import Ranks
from arc_seal.errors import TaskFormatError
from arc_seal.grid import grids_equal
from arc_seal.jobs import Stages
from arc_seal.records import RECORDS, JobRecord
from arc_seal.reward import RewardTable
from arc_seal.self_edit import SelfEditSpace
from arc_seal.synthetic import make_task

SPACE = SelfEditSpace.product(learning_rates=(1e-3, 1e-2), epochs=(1, 2))


def test_the_grid_is_the_self_edit_space_or_a_seeded_sample_of_it():
    every = configurations(SPACE)
    assert len(every) == 16 * 2 * 2 * 2 and len(set(every)) == len(every)
    sample = configurations(SPACE, size=10, seed=3)
    assert len(sample) == 10 and set(sample) <= set(every)
    assert sample == configurations(SPACE, size=10, seed=3) != configurations(SPACE, 10, seed=4)


def _tasks(n: int) -> list:
    rng = np.random.default_rng(0)
    tasks = [make_task("identity", rng, n_train=2, max_side=3) for _ in range(n)]
    return [t.__class__(f"t{i}", t.train, t.test, t.source) for i, t in enumerate(tasks)]


# task t0: solved by configuration 2 only; t1: by none; t2: by 0 and 1; t3..: by 1
def _known(task, config_index) -> bool:
    return {"t0": config_index == 2, "t1": False, "t2": config_index in (0, 1)}.get(
        task.id, config_index == 1
    )


def _stages(run_dir) -> Stages:
    return Stages(run_dir, RunConfig(wandb="disabled"), Ranks())


def _verdict(solved: bool):
    """A judge that grades without training: ``solved`` for every pair, each call logged."""
    calls = []

    def judge(job, config, seed):
        calls.append((job.task.id, job.sample))
        return JobRecord(*job.key, solved=solved(job) if callable(solved) else solved)

    return judge, calls


def test_curation_keeps_what_some_configuration_solves_and_resumes_after_an_interrupt(tmp_path):
    tasks, configs = _tasks(6), configurations(SPACE, size=4, seed=0)
    judge, calls = _verdict(lambda job: _known(job.task, job.sample))

    def stopped(job, config, seed):
        if len(calls) == 6:
            raise KeyboardInterrupt  # the curation is stopped mid-way
        return judge(job, config, seed)

    with pytest.raises(KeyboardInterrupt):
        run_grid(_stages(tmp_path), tasks, configs, stopped)
    assert len((tmp_path / RECORDS).read_text().splitlines()) == 6
    with open(tmp_path / RECORDS, "a") as f:
        f.write('{"stage": "grid", "iteration": 0, "task_id": "t1", "sam')  # cut off
    first = list(calls)
    solved = run_grid(_stages(tmp_path), tasks, configs, judge)
    again = calls[len(first) :]
    assert len(again) == 6 * 4 - 6  # the six recorded verdicts are not redone
    assert not set(again) & set(first)
    assert solved["t0"][:, 0].tolist() == [False, False, True, False] and not solved["t1"].any()
    stored = [json.loads(line) for line in (tmp_path / RECORDS).read_text().splitlines()]
    assert {(r["task_id"], r["sample"]): r["self_edit"] for r in stored}[("t2", 3)] == (
        configs[3].to_json()  # each record says which configuration it graded
    )
    kept = [t for t, row in solved.items() if row.any()]
    train, eval_ = split(kept, eval_fraction=0.5, seed=0)
    assert "t1" not in train + eval_ and "t0" in train + eval_
    assert not set(train) & set(eval_) and len(train) + len(eval_) == 5
    assert split(kept, 0.5, seed=0) == (train, eval_)  # seeded
    assert len({str(split(kept, 0.5, seed=s)) for s in range(6)}) > 1
    again_solved = run_grid(_stages(tmp_path), tasks, configs, judge)  # nothing left to do
    assert {t: v.tolist() for t, v in again_solved.items()} == {
        t: v.tolist() for t, v in solved.items()
    }
    assert len(calls) == len(first) + len(again)


def test_a_damaged_grid_line_is_set_aside_and_its_pair_judged_again(tmp_path, caplog):
    tasks, configs = _tasks(2), configurations(SPACE, size=2, seed=0)
    judge, calls = _verdict(True)
    run_grid(_stages(tmp_path), tasks, configs, judge)
    lines = (tmp_path / RECORDS).read_text().splitlines()
    damaged = [lines[0], "{not json", json.dumps({"stage": "grid", "task_id": "t0"}), *lines[2:]]
    (tmp_path / RECORDS).write_text("".join(line + "\n" for line in damaged))
    calls.clear()
    solved = run_grid(_stages(tmp_path), tasks, configs, judge)
    assert {t: v[:, 0].tolist() for t, v in solved.items()} == {
        "t0": [True, True],
        "t1": [True, True],
    }
    assert calls == [("t0", 1)]  # only the pair whose line was lost
    assert "records.jsonl line 2 is damaged" in caplog.text and "line 3 is damaged" in caplog.text
    rejected = (tmp_path / "records.rejected.jsonl").read_text().splitlines()
    assert rejected == damaged[1:3]
    assert len((tmp_path / RECORDS).read_text().splitlines()) == 4


def test_the_grid_gives_best_fixed_and_grid_oracle_rows(tmp_path):
    solved = {
        "a": [True, False, False],
        "b": [True, True, False],
        "c": [False, True, False],
        "d": [False, True, True],
        "e": [True, False, False],
        "f": [False, False, True],
    }
    configs = configurations(SPACE, size=3, seed=0)
    spec = subset_spec("arc-agi-1", solved, configs, {}, eval_fraction=0.5, seed=0)
    rows = grid_rows(RewardTable.from_grid(spec["grid"]), ["a", "b", "e"], ["c", "d", "f"])
    # config 0 solves all three train tasks, but only none of c, d, f; the ceiling is 3/3
    assert rows["best_fixed"].configuration == configs[0].to_json()
    assert rows["best_fixed"].expected == 0 and rows["grid_oracle"].expected == 3
    assert rows["grid_oracle"].per_task == {"c": [1.0], "d": [1.0], "f": [1.0]}
    assert rows["uniform"].per_task == {"c": [0.333333], "d": [0.666667], "f": [0.333333]}


def test_a_curated_subset_file_loads_with_its_grid(tmp_path):
    configs = configurations(SPACE, size=2, seed=0)
    solved = {"007bbfb7": [True, False], "00d62c1b": [False, True]}
    spec = subset_spec("arc-agi-1", solved, configs, {})
    path = tmp_path / "curated.json"
    path.write_text(json.dumps(spec))
    subset = load_subset(str(path))
    assert subset.grid["solved"] == {"007bbfb7": [0], "00d62c1b": [1]}
    assert {t.id for t in subset.train + subset.eval} == {"007bbfb7", "00d62c1b"}


def test_a_grid_that_is_not_self_edits_and_verdicts_is_refused_naming_the_file(tmp_path):
    configs = configurations(SPACE, size=2, seed=0)
    spec = subset_spec(
        "arc-agi-1", {"007bbfb7": [True, False], "00d62c1b": [False, True]}, configs, {}
    )
    path = tmp_path / "curated.json"
    bad = json.loads(json.dumps(spec))
    bad["grid"]["configurations"][1]["training"]["learning_rate"] = "fast"
    path.write_text(json.dumps(bad))
    with pytest.raises(TaskFormatError, match="curated.json: grid configuration 1: learning_rate"):
        load_subset(str(path))
    bad = json.loads(json.dumps(spec))
    bad["grid"]["solved"]["007bbfb7"] = [2]
    path.write_text(json.dumps(bad))
    with pytest.raises(TaskFormatError, match="task '007bbfb7' must be a list of configuration"):
        load_subset(str(path))


def test_a_curated_synthetic_subset_ships_its_kept_tasks_as_files(tmp_path):
    pool = sanity_tasks(1, seed=7)[:3]
    solved = {pool[0].id: [True, False], pool[1].id: [False, False], pool[2].id: [False, True]}
    spec = subset_spec("syn", solved, configurations(SPACE, size=2, seed=0), {}, seed=1)
    write_subset(tmp_path / "syn.json", spec, pool)
    assert sorted(p.stem for p in (tmp_path / "syn").iterdir()) == sorted([pool[0].id, pool[2].id])
    subset = load_subset(str(tmp_path / "syn.json"))
    loaded = {t.id: t for t in subset.train + subset.eval}
    assert set(loaded) == {pool[0].id, pool[2].id}
    for task in (pool[0], pool[2]):
        pairs = zip(
            task.train + task.test, loaded[task.id].train + loaded[task.id].test, strict=True
        )
        assert all(
            grids_equal(a.input, b.input) and grids_equal(a.output, b.output) for a, b in pairs
        )


def _curate(capsys, *argv: str) -> tuple[int, str, str]:
    """``arc-seal curate`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(["curate", *argv])
    out, err = capsys.readouterr()
    return done.value.code, out, err


def test_curate_command_writes_a_subset_and_resumes(tmp_path, capsys):
    inputs = learnable_run_inputs(tmp_path)
    target, out = tmp_path / "curated.json", tmp_path / "grid"
    args = ["--name", "c", "--config", str(inputs["config"]), "--model", str(inputs["model"])]
    args += ["--limit", "2", "--size", "2", "--out", str(out), "--write", str(target)]
    args += ["--epoch-options", "1", "--ttt.max-sequences", "4"]  # ARC tasks are long: train less
    args += ["--wandb", "disabled"]
    code, stdout, err = _curate(capsys, *args)
    assert code == 0, err[-2000:]
    assert "2 tasks x 2 configurations" in stdout
    lines = (out / RECORDS).read_text().splitlines()
    # the two tasks answered in context (the tiny model solves neither), then the four pairs
    assert [json.loads(x)["stage"] for x in lines] == ["icl"] * 2 + ["grid"] * 4
    spec = json.loads(target.read_text())
    assert len(spec["grid"]["configurations"]) == 2 and set(spec) >= {"train", "eval", "grid"}
    assert (out / "grid.md").read_text().startswith("Grid tasks each configuration solves")
    (out / RECORDS).write_text("".join(x + "\n" for x in lines[:5]))  # as if stopped there
    code, _, err = _curate(capsys, *args, "--resume")
    assert code == 0, err[-2000:]
    assert (out / RECORDS).read_text().splitlines()[:5] == lines[:5]
    assert len((out / RECORDS).read_text().splitlines()) == 6  # only the lost pair redone
    assert json.loads(target.read_text()) == spec
    code, _, err = _curate(capsys, *args)  # not resumed: the folder is taken
    assert code == 2 and "use --resume" in err
    code, _, err = _curate(capsys, *args, "--resume", "--seed", "1")  # another sample
    assert code == 2 and "drew another pool or grid" in err
    code, _, err = _curate(capsys, *args, "--resume", "--ttt.lora-r", "8")
    assert code == 2 and "ran under other settings" in err


def test_curate_command_draws_a_synthetic_pool(run_script, tmp_path):
    inputs = learnable_run_inputs(tmp_path)
    target = tmp_path / "out" / "syn.json"
    args = ["--name", "syn", "--config", str(inputs["config"]), "--model", str(inputs["model"])]
    args += ["--synthetic", "1", "--max-side", "4", "--limit", "2", "--size", "1"]
    args += ["--out", str(tmp_path / "grid"), "--wandb", "disabled"]
    done = run_script("curate_subset.py", *args, "--write", str(target))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 tasks x 1 configurations" in done.stdout
    tried = {
        json.loads(line)["task_id"]
        for line in (tmp_path / "grid" / RECORDS).read_text().splitlines()
    }
    names = {t.id for t in sanity_tasks(1)}
    assert 1 <= len(tried) <= 2 and tried <= names  # named by family, like the sanity tasks
    spec = json.loads(target.read_text())
    assert spec["dataset"] == "syn" and (tmp_path / "out" / "syn").is_dir()


def test_curate_takes_the_ttt_and_predict_setting_flags(tmp_path, capsys):
    argv = ["curate", "--name", "x", "--synthetic", "1", "--out", str(tmp_path / "c")]
    with pytest.raises(SystemExit) as done:
        main([*argv, "--ttt.lora-r", "0"])
    assert done.value.code == 2
    assert "ttt.lora_r" in capsys.readouterr().err and not (tmp_path / "c").exists()
