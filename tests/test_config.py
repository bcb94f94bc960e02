import argparse
import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arc_seal.config import (
    ConfigError,
    RunConfig,
    _flags,
    add_arguments,
    config_path,
    for_resume,
    from_dict,
    load_yaml,
    resolve,
)
from arc_seal.options import field_error

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
LEAVES = _flags()  # (dotted name, field, type) of every setting, nested ones included


def _args(*argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    add_arguments(parser)
    return parser.parse_args(list(argv))


def _nest(dotted: str, value) -> dict:
    *sections, leaf = dotted.split(".")
    out = {leaf: value}
    for s in reversed(sections):
        out = {s: out}
    return out


def test_flags_override_yaml_and_nested_sections_are_typed():
    base = {"seed": 1, "samples_per_task": 3, "ttt": {"epochs": 4, "families": ["basic"]}}
    config = resolve(_args("--seed", "7", "--decoding", "free", "--oracle-on-train"), base)
    assert (config.seed, config.samples_per_task, config.decoding) == (7, 3, "free")
    assert config.oracle_on_train is True
    assert config.ttt.epochs == 4 and config.ttt.families == ("basic",)


def test_nested_and_list_settings_have_dotted_flags():
    config = resolve(
        _args(
            "--ttt.max-steps",
            "64",
            "--ttt.max-steps",
            "none",
            "--predict.views",
            "identity",
            "rot90",
            "--learning-rates",
            "0.001",
            "0.01",
            "--sft.epochs",
            "3",
            "--no-predict.leave-one-out",
        ),
        {"ttt": {"epochs": 5}},
    )
    assert config.ttt.max_steps is None and config.ttt.epochs == 5  # YAML kept beside flags
    assert config.predict.views == ("identity", "rot90")
    assert config.predict.leave_one_out is False
    assert config.learning_rates == (0.001, 0.01) and config.sft.epochs == 3


def test_help_documents_every_setting_nested_ones_included():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    text = parser.format_help()
    for name, f, _ in LEAVES:
        assert "--" + name.replace("_", "-") in text, name
        assert len(f.metadata["help"]) > 10, name
    assert "ttt settings" in text and "sft settings" in text


@pytest.mark.parametrize(
    "values, message",
    [
        ({"samples": 3}, "unknown field(s) ['samples']"),
        ({"ttt": {"epoch": 3}}, "unknown field(s) ['ttt.epoch']"),
        ({"ttt": {"strategy": "everything"}}, "ttt.strategy = 'everything': expected one of"),
        ({"reward": "majority"}, "reward = 'majority': expected one of binary, best_of_n"),
        ({"trust_remote_code": "no"}, "trust_remote_code = 'no': expected true or false"),
        ({"oracle_on_train": "no"}, "oracle_on_train = 'no': expected true or false"),
        ({"samples_per_task": "three"}, "samples_per_task = 'three': expected a whole number"),
        ({"samples_per_task": 1.5}, "samples_per_task = 1.5: expected a whole number"),
        ({"sft": {"batch_size": 0}}, "sft.batch_size = 0: expected at least 1"),
        ({"sft": {"learning_rate": math.nan}}, "sft.learning_rate = nan: expected a finite"),
        ({"ttt": {"max_steps": 0}}, "ttt.max_steps = 0: expected at least 1"),
        ({"learning_rates": []}, "learning_rates = (): expected a non-empty list"),
        ({"oracle_epochs": 0}, "oracle_epochs = 0: expected at least 1"),
        ({"predict": {"batch_size": 0}}, "predict.batch_size = 0: expected at least 1"),
        ({"predict": {"views": []}}, "predict.views = (): expected a non-empty list"),
        ({"eval_samples": -1}, "eval_samples = -1: expected at least 1"),
        ({"temperature": -1}, "temperature = -1: expected more than 0"),
        ({"temperature": 0}, "temperature = 0: expected more than 0"),
        ({"device": "tpu"}, "device = 'tpu': expected a value matching"),
        ({"subset": 123}, "subset = 123: expected a non-empty string"),
        ({"ttt": 5}, "ttt: expected a mapping of fields"),
        ({"head": {"l2": 1}}, "head: learning_rate x l2 = 1; gradient descent oscillates"),
    ],
)
def test_bad_values_name_the_file_the_field_the_value_and_what_is_allowed(values, message):
    with pytest.raises(ConfigError) as err:
        from_dict(values, "my.yaml")
    assert str(err.value).startswith("my.yaml: ") and message in str(err.value), str(err.value)


WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=3), st.floats()), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@given(st.sampled_from(LEAVES), WRONG)
def test_any_value_for_any_setting_is_accepted_or_refused_with_one_config_error(leaf, value):
    name, f, kind = leaf
    try:
        config = from_dict(_nest(name, value), "random.yaml")
    except ConfigError as e:
        assert str(e).startswith("random.yaml: ") and name in str(e)
        return
    stored = config
    for part in name.split("."):
        stored = getattr(stored, part)
    assert field_error(stored, kind, f.metadata) is None  # what was accepted is allowed


def test_bad_yaml_file(tmp_path):
    (tmp_path / "x.yaml").write_text("seed: [1,\n")
    with pytest.raises(ConfigError, match="x.yaml: not valid YAML"):
        load_yaml(tmp_path / "x.yaml")
    with pytest.raises(ConfigError, match="no such config file"):
        load_yaml(tmp_path / "absent.yaml")


def test_resume_keeps_the_stored_settings_and_refuses_changes():
    stored = from_dict({"seed": 7, "eval_samples": 2})
    same = for_resume(stored, _args("--seed", "7"), "runs/x")
    assert same == stored
    with pytest.raises(ConfigError, match="runs/x: --seed 5 differs from the run's seed 7"):
        for_resume(stored, _args("--seed", "5"), "runs/x")
    with pytest.raises(ConfigError, match="--ttt.epochs 9 differs"):
        for_resume(stored, _args("--ttt.epochs", "9"), "runs/x")
    assert for_resume(stored, _args("--wandb", "disabled"), "runs/x").wandb == "disabled"


@pytest.mark.parametrize("name", ["default", "llama-1b", "seal-effect", "arc-eval", "seal-policy"])
def test_shipped_configs_load_by_name(name):
    path = config_path(name)
    assert path.name == f"{name}.yaml"
    assert isinstance(from_dict(load_yaml(path), str(path)), RunConfig)
    shipped = "arc-eval, default, llama-1b, seal-effect, seal-policy"
    with pytest.raises(ConfigError, match=f"unknown config 'nosuch'; shipped: {shipped}, or"):
        config_path("nosuch")


def test_every_top_level_field_is_documented():
    for f in dataclasses.fields(RunConfig):
        assert len(f.metadata.get("help", "")) > 10, f.name


def test_reading_a_config_imports_neither_torch_nor_transformers():
    code = (
        "import sys; from arc_seal import config as cfg; "
        "cfg.from_dict(cfg.load_yaml(cfg.config_path('llama-1b'))); "
        "print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_grid_computed_before_a_setting_existed_still_matches_its_runs():
    config = from_dict({"ttt": {"tokens_per_epoch": 2048}})
    stored = config.verdict_settings()
    del stored["ttt"]["stop_patience"], stored["predict"]["infer_shape"]  # added since
    assert config.same_verdict_settings(stored)
    assert not from_dict({"ttt": {"stop_patience": 2}}).same_verdict_settings(stored)
    assert not from_dict({"ttt": {"tokens_per_epoch": 4096}}).same_verdict_settings(stored)


def test_a_config_states_only_how_it_differs_from_its_base(tmp_path):
    default = load_yaml(config_path("default"))
    (tmp_path / "long.yaml").write_text("base: default\nseed: 3\nttt:\n  tokens_per_epoch: 8192\n")
    (tmp_path / "longer.yaml").write_text("base: long.yaml\nttt:\n  epochs: 4\n")
    values = load_yaml(tmp_path / "longer.yaml")
    assert values["seed"] == 3 and values["ttt"]["epochs"] == 4
    assert values["ttt"]["tokens_per_epoch"] == 8192
    assert values["ttt"]["lora_r"] == default["ttt"]["lora_r"]  # sections merge field by field
    assert values["predict"] == default["predict"]
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="loop.yaml: base 'loop.yaml' leads back to itself"):
        load_yaml(tmp_path / "loop.yaml")
    (tmp_path / "lost.yaml").write_text("base: nosuch\n")
    with pytest.raises(ConfigError, match="unknown config 'nosuch'"):
        load_yaml(tmp_path / "lost.yaml")


def test_the_seal_effect_config_resolves_to_the_settings_its_grid_was_computed_under():
    from arc_seal.data import load_subset

    config = from_dict(load_yaml(config_path("seal-effect")))
    assert config.same_verdict_settings(load_subset("seal-effect").grid["settings"])
    default = from_dict(load_yaml(config_path("default")))
    assert config.ttt.leave_out == 2 and config.predict == default.predict


@pytest.mark.parametrize("name", ["default", "seal-effect", "arc-eval"])
def test_shipped_self_edit_options_are_ones_the_embedded_policy_was_pretrained_on(name):
    """Schema decoding scores an option by the policy's probability of its text: an epoch
    count or learning rate the embedded model never saw written gets almost none, so a
    shipped config for it offers only the options its pretraining drew from."""
    from arc_seal.pretrain import BROAD_SPACE

    config = from_dict(load_yaml(config_path(name)))
    assert config.model is None
    seen = {c.num_train_epochs for c in BROAD_SPACE.configurations}
    assert set(config.epoch_options) <= seen
    assert {f"{lr:g}" for lr in config.learning_rates} <= {
        f"{c.learning_rate:g}" for c in BROAD_SPACE.configurations
    }
