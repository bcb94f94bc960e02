import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from tiny import learnable_run_inputs, new_llama

from arc_seal.config import CONFIG, from_dict, load_yaml, store_config
from arc_seal.curate import DROP_REASONS, curate_pool, run_grid, subset_spec
from arc_seal.data import load_subset
from arc_seal.distributed import Ranks
from arc_seal.encoding import TaskEncoder
from arc_seal.errors import ConfigError
from arc_seal.grid import Task
from arc_seal.jobs import Job, Stages, configuration_job, pair_seed, self_edit_job, self_edit_ttt
from arc_seal.policy import _option_logprobs, configuration_probabilities, prompt_ids, sample_schema
from arc_seal.records import JobRecord, Stage
from arc_seal.reward import RewardTable, expected_accuracy, paired_bootstrap
from arc_seal.seal import Experiment
from arc_seal.self_edit import (
    CHOICE_POINTS,
    SelfEdit,
    SelfEditSpace,
    canonical_prefix,
    choice_texts,
)
from arc_seal.synthetic import make_task
from arc_seal.tokenizer import build_compact_tokenizer
from arc_seal.ttt import load_engine

LEARNS = SelfEdit(False, False, False, False, "train_using_output_tokens", 1e-2, 10)
BARELY = SelfEdit(False, False, False, False, "train_using_output_tokens", 1e-7, 1)
# three configurations that part at different choice points: a flag, then the learning rate
LISTED = (
    SelfEdit(True, False, False, False, "train_using_output_tokens", 1e-3, 2),
    SelfEdit(False, False, False, False, "train_using_output_tokens", 1e-3, 2),
    SelfEdit(False, False, False, False, "train_using_output_tokens", 1e-2, 2),
)


def _config(tmp_path, **changes):
    inputs = learnable_run_inputs(tmp_path)
    values = load_yaml(inputs["config"]) | {
        "subset": str(inputs["subset"]),
        "model": str(inputs["model"]),
        "wandb": "disabled",
    }
    return from_dict(values | changes), inputs


def test_a_grid_verdict_is_what_a_fresh_ttt_run_of_the_pair_gets(tmp_path):
    config, inputs = _config(tmp_path)
    engine = load_engine(config, "cpu")
    tasks = load_subset(str(inputs["subset"])).train
    graded = {
        (t.id, e): configuration_job(engine, Job(Stage.GRID, 0, t, i, seed=3), config, e)
        for t in tasks
        for i, e in enumerate((LEARNS, BARELY))
    }
    table = RewardTable(
        (LEARNS, BARELY),
        {t.id: (graded[t.id, LEARNS].solved, graded[t.id, BARELY].solved) for t in tasks},
        config.verdict_settings(),
    )
    other_run = replace(config, seed=7)  # another RL seed: the pair still trains alike
    for (task_id, edit), grid_record in graded.items():
        task = next(t for t in tasks if t.id == task_id)
        job = Job(Stage.REST_EM, 1, task, 4, seed=99)
        space = SelfEditSpace((edit,))
        fresh = self_edit_job(engine, job, other_run, space)
        assert fresh.self_edit == edit and not fresh.from_grid and fresh.ttt is not None
        assert fresh.attempts == grid_record.attempts and fresh.solved == grid_record.solved
        looked_up = self_edit_job(engine, job, other_run, space, table)
        assert looked_up.from_grid and looked_up.ttt is None
        assert looked_up.solved == fresh.solved == table.verdict(task_id, edit)
    assert any(r.solved for r in graded.values())  # the check is not all one verdict
    assert not all(r.solved for r in graded.values())


def test_solve_rates_from_several_seeds_equal_fresh_runs_of_those_seeds(tmp_path):
    config, inputs = _config(tmp_path, pair_seeds=3)
    engine = load_engine(config, "cpu")
    tasks = load_subset(str(inputs["subset"])).train
    configs = [LEARNS, BARELY]

    def judge(job, edit, seed):
        return configuration_job(engine, job, config, edit, seed)

    (tmp_path / "grid").mkdir()
    stages = Stages(tmp_path / "grid", config, Ranks())
    grid = subset_spec("tasks", run_grid(stages, tasks, configs, judge, 3), configs, {})["grid"]
    grid["settings"] = config.verdict_settings()
    table = RewardTable.from_grid(json.loads(json.dumps(grid)))  # as a subset file holds it
    assert grid["pair_seeds"] == table.pair_seeds == 3
    for task in tasks:
        for i, edit in enumerate(configs):
            fresh = [
                configuration_job(engine, Job(Stage.GRID, 0, task, 0, seed=5), config, edit, s)
                for s in range(3)
            ]
            assert [table.verdict(task.id, edit, s) for s in range(3)] == [
                bool(r.solved) for r in fresh
            ]
            assert table.row(task.id)[i] == np.mean([bool(r.solved) for r in fresh])
            assert len({self_edit_ttt(config, task, edit, 0, s).seed for s in range(3)}) == 3
    # a sampled self-edit's reward is the verdict of the seed its job draws, as training says
    task = tasks[0]
    for sample in range(3):
        job = Job(Stage.REST_EM, 1, task, sample, seed=40 + sample)
        looked_up = self_edit_job(engine, job, config, SelfEditSpace((LEARNS,)), table)
        fresh = self_edit_job(engine, job, config, SelfEditSpace((LEARNS,)))
        assert looked_up.from_grid and not fresh.from_grid
        assert (
            looked_up.solved
            == fresh.solved
            == table.verdict(task.id, LEARNS, pair_seed(config, job))
        )
    solved = [table.verdict(t.id, e, s) for t in tasks for e in configs for s in range(3)]
    assert any(solved) and not all(solved)  # the check is not all one verdict


def _policy():
    torch.manual_seed(0)
    tok = build_compact_tokenizer()
    task = make_task("flip_lr", np.random.default_rng(0), n_train=2, min_side=2, max_side=3)
    return new_llama(tok, hidden_size=32, layers=1, heads=2), TaskEncoder(tok), task


def test_a_listed_space_samples_only_its_configurations_with_their_exact_probability():
    model, encoder, task = _policy()
    space = SelfEditSpace(LISTED)
    probs = configuration_probabilities(model, encoder, task, space, temperature=2.0)
    assert probs.shape == (3,) and math.isclose(probs.sum(), 1.0, rel_tol=1e-6)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(12):
        text, logprob = sample_schema(model, encoder, task, space, rng, temperature=2.0)
        edit = next(e for e in LISTED if e.text() == text)  # StopIteration if not listed
        assert math.isclose(logprob, math.log(probs[LISTED.index(edit)]), rel_tol=1e-6)
        seen.add(edit)
    assert len(seen) > 1


def test_the_expected_accuracy_equals_a_brute_force_enumeration():
    model, encoder, task = _policy()
    space = SelfEditSpace(LISTED)
    # brute force: each configuration's probability on its own, choice by choice
    ids = prompt_ids(encoder, task)
    brute = []
    for edit in LISTED:
        path, p = choice_texts(edit), 1.0
        for depth in range(CHOICE_POINTS):
            options = space.options(path[:depth])
            texts = [canonical_prefix(path[:depth]) + o for o in options]
            scores = torch.softmax(_option_logprobs(model, encoder, ids, texts), dim=0)
            p *= float(scores[options.index(path[depth])])
        brute.append(p)
    grid = {"configurations": [e.to_json() for e in LISTED], "solved": {task.id: [0, 2]}}
    table = RewardTable.from_grid(grid)
    exact = configuration_probabilities(model, encoder, task, space)
    expected = expected_accuracy({task.id: exact}, table)[task.id]
    assert math.isclose(expected, brute[0] + brute[2], rel_tol=1e-6)
    assert np.allclose(exact, brute, rtol=1e-6)
    # and on a hand-made table of probabilities: sum of p x solved, task by task
    probabilities = {"a": np.array([0.5, 0.25, 0.25]), "b": np.array([0.0, 1.0, 0.0])}
    hand = RewardTable(LISTED, {"a": (True, False, True), "b": (True, True, False)}, None)
    assert expected_accuracy(probabilities, hand) == {"a": 0.75, "b": 1.0}


def test_curation_drops_trivial_icl_solved_none_solved_and_all_solved_tasks(tmp_path):
    rng = np.random.default_rng(0)
    identity = make_task("identity", rng, n_train=2, max_side=3)
    rotations = [make_task("rot90", rng, n_train=2, min_side=3, max_side=3) for _ in range(5)]
    names = ["copy-0", "easy-0", "hard-0", "any-0", "some-0", "some-1"]
    tasks = [
        Task(n, t.train, t.test, "synthetic")
        for n, t in zip(names, [identity, *rotations], strict=True)
    ]
    verdicts = {"hard-0": [False, False], "any-0": [True, True], "some-0": [True, False]}

    def icl(job):
        return JobRecord(*job.key, solved=job.task.id == "easy-0")

    def judge(job, edit, seed):
        return JobRecord(*job.key, solved=verdicts.get(job.task.id, [False, True])[job.sample])

    stages = Stages(tmp_path, from_dict({"wandb": "disabled"}), Ranks())
    solved, dropped = curate_pool(stages, tasks, [LEARNS, BARELY], judge, icl)
    assert set(dropped) == set(DROP_REASONS)
    assert dropped == {
        "trivial": ["copy-0"],
        "icl": ["easy-0"],
        "none": ["hard-0"],
        "all": ["any-0"],
    }
    spec = subset_spec("syn", solved, [LEARNS, BARELY], {}, dropped)
    assert sorted(spec["train"] + spec["eval"]) == ["some-0", "some-1"]
    assert len(spec["train"]) == len(spec["eval"]) == 1  # the family is spread over both


def test_the_paired_bootstrap_interval():
    a = {f"t{i}": float(i % 2) for i in range(40)}
    assert paired_bootstrap(a, a) == (0.0, 0.0, 0.0)
    assert paired_bootstrap({t: v + 1 for t, v in a.items()}, a) == (1.0, 1.0, 1.0)
    mean, low, high = paired_bootstrap(a, {t: 0.25 for t in a})
    assert low < mean == 0.25 < high and high - low < 0.5
    with pytest.raises(ValueError, match="share no task"):
        paired_bootstrap({"x": 1.0}, {"y": 1.0})


def _grid_experiment(tmp_path, verdicts=None, **changes) -> tuple[Experiment, dict]:
    """The tiny learnable subset, with a grid computed by real TTT runs of two configurations
    under the run's settings (or, to test a policy, the ``verdicts`` given: task index ->
    verdict per configuration), and a run that reads its verdicts."""
    settings = {"reward_source": "grid", "self_edit_space": "grid", "ttt_learner": "initial"}
    settings |= {"iterations": 2, "samples_per_task": 2, "eval_samples": 2}
    config, inputs = _config(tmp_path, **(settings | changes), seal_each_iteration=True)
    spec = json.loads(inputs["subset"].read_text())
    engine = load_engine(config, "cpu")
    subset = load_subset(str(inputs["subset"]))
    tasks = subset.train + subset.eval
    solved = {
        t.id: [
            bool(configuration_job(engine, Job(Stage.GRID, 0, t, i, seed=0), config, e).solved)
            for i, e in enumerate((LEARNS, BARELY))
        ]
        if verdicts is None
        else verdicts[k]
        for k, t in enumerate(tasks)
    }
    grid = subset_spec("tasks", solved, [LEARNS, BARELY], config.verdict_settings())["grid"]
    inputs["subset"].write_text(json.dumps(spec | {"grid": grid}))
    return Experiment(config), solved


def test_a_run_reads_its_verdicts_from_the_grid_and_keeps_its_learner(tmp_path):
    experiment, solved = _grid_experiment(tmp_path)
    assert any(row[0] for row in solved.values())  # some self-edit can earn reward
    learner = {
        n: p.detach().clone()
        for n, p in experiment.engine.model.named_parameters()
        if "lora_" not in n  # the TTT adapter itself trains on every job
    }
    (tmp_path / "run").mkdir()
    results = experiment.run(tmp_path / "run")
    sampled = [r for r in experiment.records.jobs() if r.stage in (Stage.NO_RL, Stage.REST_EM)]
    assert sampled and all(r.from_grid and r.ttt is None for r in sampled)
    assert all(r.solved == solved[r.task_id][[LEARNS, BARELY].index(r.self_edit)] for r in sampled)
    rows = results.rows
    for name in (
        "no_rl_expected",
        "seal@1_expected",
        "seal_expected",
        "uniform",
        "best_per_family",
    ):
        assert 0.0 <= rows[name].accuracy <= 1.0
    eval_id = experiment.subset.eval[0].id
    assert rows["uniform"].per_task[eval_id] == [np.mean(solved[eval_id])]
    assert set(results.choices_by_family) == {"no_rl", "seal"}
    # the policy moved; the model TTT adapts did not
    update = next(iter(experiment.records.updates()))
    assert update.pairs > 0 and experiment.policy is not None
    for name, before in learner.items():
        assert torch.equal(experiment.engine.model.get_parameter(name), before), name


def test_the_head_policy_starts_uniform_learns_from_rewards_and_resumes_alike(tmp_path):
    # LEARNS solves both train tasks, BARELY neither; the eval task: LEARNS only
    head = {"policy": "head", "rewarded_pairs": "once", "samples_per_task": 4}
    verdicts = [[True, False], [True, False], [True, False]]
    experiment, solved = _grid_experiment(tmp_path, verdicts, **head)
    (tmp_path / "run").mkdir()
    results = experiment.run(tmp_path / "run")
    before = experiment.probabilities(0)
    assert before and all(np.allclose(p, 0.5) for p in before.values())  # two configurations
    update = next(iter(experiment.records.updates()))
    samples = [r for r in experiment.records.jobs() if r.stage == Stage.REST_EM]
    assert update.pairs == len({r.task_id for r in samples if r.self_edit == LEARNS}) > 0
    after = experiment.probabilities(2)
    assert after.keys() == before.keys() and all(p[0] > 0.6 for p in after.values())
    assert results.rows["seal_expected"].expected > results.rows["no_rl_expected"].expected
    assert (tmp_path / "run" / "policy" / "iteration-1" / "head.safetensors").is_file()
    assert (tmp_path / "run" / "choices.png").is_file()
    assert results.choices_by_task["seal"] == {t: p.round(6).tolist() for t, p in after.items()}
    # the tiny tasks are each their own "family"; the eval task's has no train task
    assert results.best_by_family == {
        "synthetic-0000": [0],
        "synthetic-0001": [0],
        "synthetic-0002": [],
    }
    again, _ = _grid_experiment(tmp_path / "again", verdicts, **head)
    again.run(tmp_path / "run")  # everything recorded: the heads are loaded, not fitted
    assert (
        json.loads((tmp_path / "run" / "results.json").read_text())["rows"]
        == json.loads(results.to_json())["rows"]
    )


def test_the_blind_run_is_the_same_run_with_the_demonstrations_hidden(tmp_path):
    runs = {}
    for blind in (False, True):
        experiment, _ = _grid_experiment(
            tmp_path / str(blind),
            [[True, False], [False, True], [True, False]],
            policy="head",
            blind=blind,
        )
        (tmp_path / str(blind) / "run").mkdir()
        experiment.run(tmp_path / str(blind) / "run")
        runs[blind] = experiment
    seen, hidden = runs[False], runs[True]
    paths = {"subset": hidden.config.subset, "model": hidden.config.model}  # its own copies
    assert hidden.config == replace(seen.config, blind=True, **paths)
    features = list(hidden.features().values())
    assert all(np.array_equal(f, features[0]) for f in features)  # no task is told apart
    assert not all(
        np.array_equal(f, list(seen.features().values())[0]) for f in seen.features().values()
    )
    jobs = {b: {r.key: r for r in runs[b].records.jobs()} for b in runs}
    assert jobs[True].keys() == jobs[False].keys()  # the same jobs, seeds and grid
    for key, r in jobs[True].items():
        other = jobs[False][key]
        if r.self_edit == other.self_edit and r.stage != Stage.ICL:
            assert r.solved == other.solved  # the same pair, the same drawn seed
    blind_after = hidden.probabilities(2)
    assert all(np.allclose(p, list(blind_after.values())[0]) for p in blind_after.values())


def test_a_grid_computed_under_other_settings_is_refused(tmp_path):
    experiment, _ = _grid_experiment(tmp_path)
    other = replace(experiment.config, ttt=replace(experiment.config.ttt, lora_r=8))
    with pytest.raises(ConfigError, match="its grid was computed under other"):
        Experiment(other)
    Experiment(replace(other, reward_source="ttt"))  # training each pair afresh is fine


@pytest.mark.slow
def test_learner_drift_trains_sampled_pairs_afresh_from_the_reinforced_policy(run_script, tmp_path):
    experiment, solved = _grid_experiment(tmp_path)
    (tmp_path / "settings").mkdir()
    store_config(experiment.config, tmp_path / "settings")
    out = tmp_path / "run"
    done = run_script(
        "run_arc.py", "--config", str(tmp_path / "settings" / CONFIG), "--output-dir", str(out)
    )
    assert done.returncode == 0, done.stderr[-2000:]
    drift = run_script("learner_drift.py", str(out), "--pairs", "4")
    assert drift.returncode == 0, drift.stderr[-2000:]
    report = json.loads((out / "learner_drift.json").read_text())
    assert report["pairs"] == 4 and report["policy_updates_merged"] >= 1
    assert all(p["grid"] == solved[p["task"]][p["configuration"]] for p in report["detail"])
    changed = sum(p["grid"] != p["reinforced_learner"] for p in report["detail"])
    assert report["changed"] == changed and f"{changed} of 4 verdicts change" in drift.stdout
