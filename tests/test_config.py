import argparse
import dataclasses
from pathlib import Path

import pytest

from arc_seal.config import ConfigError, RunConfig, add_arguments, from_dict, load_yaml, resolve

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def _args(*argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_flags_override_yaml_and_nested_sections_are_typed():
    base = {"seed": 1, "samples_per_task": 3, "ttt": {"epochs": 4, "families": ["basic"]}}
    config = resolve(_args("--seed", "7", "--decoding", "free", "--oracle-on-train"), base)
    assert (config.seed, config.samples_per_task, config.decoding) == (7, 3, "free")
    assert config.oracle_on_train is True
    assert config.ttt.epochs == 4 and config.ttt.families == ("basic",)


def test_every_field_is_documented():
    for f in dataclasses.fields(RunConfig):
        assert len(f.metadata.get("help", "")) > 10, f.name


@pytest.mark.parametrize(
    "values, message",
    [
        ({"samples": 3}, "unknown field(s) ['samples']"),
        ({"ttt": {"epoch": 3}}, "[ttt]: unknown field(s) ['epoch']"),
        ({"ttt": {"strategy": "everything"}}, "strategy must be one of"),
        ({"reward": "majority"}, "reward must be one of ('binary', 'best_of_n')"),
    ],
)
def test_bad_values_name_the_field(values, message):
    with pytest.raises(ConfigError) as err:
        from_dict(values, "my.yaml")
    assert str(err.value).startswith("my.yaml") and message in str(err.value)


def test_bad_yaml_file(tmp_path):
    (tmp_path / "x.yaml").write_text("seed: [1,\n")
    with pytest.raises(ConfigError, match="x.yaml: not valid YAML"):
        load_yaml(tmp_path / "x.yaml")
    with pytest.raises(ConfigError, match="no such config file"):
        load_yaml(tmp_path / "absent.yaml")


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    assert isinstance(from_dict(load_yaml(path), str(path)), RunConfig)
