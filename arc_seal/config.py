"""The run configuration: one dataclass, read from YAML, overridden from the command line.

Each field's ``help`` is its documentation and its ``--flag`` help. Nested sections (``ttt``,
``predict``, ``sft``) take the fields of ``TTTConfig``, ``PredictConfig`` and ``SFTConfig``.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from arc_seal.errors import ConfigError
from arc_seal.predict import PredictConfig
from arc_seal.self_edit import SelfEditSpace
from arc_seal.ttt import ORACLE, TTTConfig

DECODINGS = ("schema", "free")
REWARDS = ("binary", "best_of_n")
WANDB_MODES = ("offline", "online", "disabled")


@dataclass(frozen=True)
class SFTConfig:
    """Supervised fine-tuning of the policy on rewarded self-edits (ReST-EM's M-step)."""

    lora_r: int = 16
    """Rank of the adapter trained on the rewarded self-edits, then merged."""
    lora_alpha: int = 16
    epochs: int = 8
    """Passes over the rewarded (prompt, self-edit) pairs."""
    batch_size: int = 5
    learning_rate: float = 5e-5
    """Peak learning rate of the cosine schedule."""
    warmup_fraction: float = 0.1
    """Share of the steps spent warming the learning rate up."""


def _f(default, help: str, **kw):
    if isinstance(default, (list, dict, tuple)) or dataclasses.is_dataclass(default):
        return field(default_factory=lambda: default, metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class RunConfig:
    subset: str = _f("simplified", "task subset: a name in tasks/ or a subset JSON file")
    model: str | None = _f(None, "HF model id or local directory; unset: the embedded model")
    trust_remote_code: bool = _f(False, "allow the model's own code to run (off unless asked)")
    device: str | None = _f(None, "cpu, cuda, cuda:1...; unset: cuda when available")
    seed: int = _f(0, "seed for sampling, TTT and prediction")
    iterations: int = _f(1, "ReST-EM iterations")
    samples_per_task: int = _f(15, "self-edits sampled per train task per iteration")
    eval_samples: int = _f(5, "self-edits per eval task in the no_rl and seal rows")
    oracle_samples: int = _f(1, "oracle TTT runs (seeds) per eval task")
    oracle_on_train: bool = _f(False, "also score the oracle configuration on the train tasks")
    oracle_learning_rate: float = _f(
        ORACLE.learning_rate, "the oracle's learning rate (the reference's, tuned for a 1B model)"
    )
    oracle_epochs: int = _f(ORACLE.epochs, "the oracle's epochs")
    decoding: str = _f(
        "schema", "self-edit decoding: schema (always valid) or free", choices=DECODINGS
    )
    temperature: float | None = _f(None, "sampling temperature; unset: 1.0 schema, 0.8 free")
    max_new_tokens: int | None = _f(
        None, "free decoding budget; unset: 128, or 320 for the compact tokenizer"
    )
    max_invalid_retries: int = _f(2, "free decoding: extra tries for an invalid self-edit")
    reward: str = _f(
        "binary", "binary (pass@2 solve) or best_of_n (best dense score per task)", choices=REWARDS
    )
    learning_rates: tuple[float, ...] = _f(
        SelfEditSpace().learning_rates, "schema decoding's learning-rate options"
    )
    epoch_options: tuple[int, ...] = _f(SelfEditSpace().epochs, "schema decoding's epoch options")
    ttt: TTTConfig = _f(TTTConfig(), "TTT defaults a self-edit's choices are applied to")
    predict: PredictConfig = _f(PredictConfig(), "voted prediction settings")
    sft: SFTConfig = _f(SFTConfig(), "policy fine-tuning on rewarded self-edits")
    output_dir: str | None = _f(None, "run directory; unset: runs/<timestamp>-<subset>")
    wandb: str = _f(
        "offline", "W&B logging (offline files inside the run directory)", choices=WANDB_MODES
    )

    def space(self) -> SelfEditSpace:
        return SelfEditSpace(tuple(self.learning_rates), tuple(self.epoch_options))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_NESTED = {"ttt": TTTConfig, "predict": PredictConfig, "sft": SFTConfig}


def _build(cls, values: dict, where: str):
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(names)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}; known: {sorted(names)}")
    kwargs = {}
    for key, value in values.items():
        if key in _NESTED and cls is RunConfig:
            value = _build(_NESTED[key], value or {}, f"{where} [{key}]")
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None


def from_dict(values: dict, where: str = "config") -> RunConfig:
    config = _build(RunConfig, values, where)
    for f in dataclasses.fields(RunConfig):
        choices = f.metadata.get("choices")
        if choices and getattr(config, f.name) not in choices:
            raise ConfigError(
                f"{where}: {f.name} must be one of {choices}, got {getattr(config, f.name)!r}"
            )
    return config


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of fields")
    return values


def _scalar_type(f: dataclasses.Field) -> type:
    return {"int": int, "float": float, "bool": bool}.get(f.type.replace(" | None", ""), str)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per top-level scalar field, its help taken from the field."""
    for f in dataclasses.fields(RunConfig):
        if f.name in _NESTED or f.name in ("learning_rates", "epoch_options"):
            continue
        flag, kind, help = "--" + f.name.replace("_", "-"), _scalar_type(f), f.metadata["help"]
        if kind is bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=None, help=help
            )
        else:
            choices = f.metadata.get("choices")
            parser.add_argument(flag, type=kind, default=None, choices=choices, help=help)


def resolve(args: argparse.Namespace, base: dict) -> RunConfig:
    """YAML values, then any flag given on the command line."""
    values = dict(base)
    for f in dataclasses.fields(RunConfig):
        given = getattr(args, f.name, None)
        if given is not None:
            values[f.name] = given
    return from_dict(values, getattr(args, "config", None) or "command line")
