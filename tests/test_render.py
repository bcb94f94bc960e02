import numpy as np
import pytest
from matplotlib.image import imread

from arc_seal.cli import main
from arc_seal.render import render_task
from arc_seal.synthetic import make_task


def test_render_task_with_attempts(tmp_path):
    task = make_task("flip_lr", np.random.default_rng(0), n_train=3, n_test=2)
    plain = imread(render_task(task, tmp_path / "plain.png"))
    right = task.test[0].output
    wrong = np.zeros_like(right)
    with_attempts = imread(
        render_task(task, tmp_path / "a" / "attempts.png", [[right, wrong], [None]])
    )
    assert plain.shape[1] == with_attempts.shape[1]  # one column per demo and test input
    assert with_attempts.shape[0] > plain.shape[0]  # extra rows for the two attempts
    assert plain.std() > 0.05  # something is drawn


def test_show_task_cli_draws_arc_agi_1_and_2_ids(tmp_path, run_script):
    for task_id in ("b1fc8b8e", "142ca369"):
        out = tmp_path / f"{task_id}.png"
        result = run_script("show_task.py", task_id, "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert imread(out).shape[0] > 100


def test_show_task_cli_unknown_id(tmp_path, run_script):
    result = run_script("show_task.py", "zzzzzzzz", "--out", str(tmp_path / "x.png"))
    assert result.returncode == 2
    assert result.stderr.strip() == "error: task 'zzzzzzzz' is in none of: arc-agi-1, arc-agi-2"


def test_show_to_an_unwritable_place_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "x.png"  # a folder that cannot exist: a file is in the way
    with pytest.raises(SystemExit) as done:
        main(["show", "b1fc8b8e", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert done.value.code == 2 and err.startswith(f"error: {out}: cannot write the picture")
