"""One job function: a (task, configuration) pair gets one verdict, whoever asks."""

from dataclasses import replace

import numpy as np
from tiny import learnable_run_inputs

from arc_seal import config as cfg
from arc_seal.jobs import Job, run_job, self_edit_ttt
from arc_seal.models import load_model
from arc_seal.records import Stage
from arc_seal.self_edit import SelfEdit
from arc_seal.synthetic import make_task
from arc_seal.ttt import TTTEngine

EDIT = SelfEdit(True, False, False, False, "train_using_output_tokens", 1e-2, 2)
OTHER = replace(EDIT, learning_rate=1e-3)


def _task(seed: int):
    task = make_task("flip_lr", np.random.default_rng(seed), n_train=3, min_side=2, max_side=3)
    return replace(task, id=f"flip_lr-{seed}")


def test_a_pair_is_seeded_by_the_task_and_the_self_edit_not_by_the_job():
    config = cfg.RunConfig()
    a, b = _task(0), _task(1)
    assert config.ttt_seed == "task"
    seed = self_edit_ttt(config, a, EDIT, seed=1).seed
    assert self_edit_ttt(config, a, EDIT, seed=2).seed == seed  # another sample, same data
    assert self_edit_ttt(config, b, EDIT, seed=1).seed != seed
    assert self_edit_ttt(config, a, OTHER, seed=1).seed != seed
    per_job = replace(config, ttt_seed="job")
    assert [self_edit_ttt(per_job, a, EDIT, s).seed for s in (1, 2)] == [1, 2]


def test_the_same_pair_run_twice_gets_the_same_training_and_verdict(tmp_path):
    inputs = learnable_run_inputs(tmp_path)
    config = cfg.from_dict(cfg.load_yaml(inputs["config"]))
    model, tok = load_model(inputs["model"], "cpu")
    engine = TTTEngine(model, tok, config.ttt)
    task = _task(2)
    first, second = (
        run_job(
            engine,
            Job(Stage.REST_EM, 1, task, s, seed=s),
            self_edit_ttt(config, task, EDIT, seed=s),
            config.predict,
        )
        for s in (3, 4)
    )
    assert first.ttt.losses == second.ttt.losses
    assert first.attempts == second.attempts and first.solved == second.solved
