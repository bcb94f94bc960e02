"""Every setting of a run: one dataclass, read from YAML, overridden from the command line.

Each field's documentation is its ``--flag`` help. The nested sections ``ttt``, ``predict``,
``sft`` and ``head`` take the fields of ``TTTConfig``, ``PredictConfig``, ``SFTConfig`` and
``HeadConfig`` and are set from the command line with dotted flags (``--ttt.max-steps 64``);
list fields take several values (``--learning-rates 0.001 0.01``). Every value is checked
when the run starts. Settings sit at the bottom of the package: reading and checking a YAML
file imports neither torch nor transformers, so it is quick and safe wherever the file comes
from.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from arc_seal.augment import D8, FAMILIES
from arc_seal.errors import ConfigError
from arc_seal.options import check, hints, setting, split_optional
from arc_seal.ttt_data import PERMUTED_COPIES

DECODINGS = ("schema", "free")
REWARDS = ("binary", "best_of_n")
WANDB_MODES = ("offline", "online", "disabled")
DEVICE = r"cpu|mps|cuda(:\d+)?"
CONFIG = "config.yaml"
CONFIG_DIGEST = "config.sha256"
# Settings a resumed run may change: they alter how a run is watched, not what it computes.
RESUMABLE = ("wandb",)
PROMPTS = ("arc-seal", "reference")
# The reference's self-edit options (its schema's learning rates and epochs).
REFERENCE_LEARNING_RATES = (1e-5, 5e-5, 1e-4, 5e-4, 1e-3)
REFERENCE_EPOCHS = (1, 2, 3, 5)


STRATEGIES = ("output_tokens", "all_tokens")


@dataclass(frozen=True)
class TTTConfig:
    """How to adapt to one task. Defaults are the reference's where it has one."""

    method: str = setting(
        "lora",
        "train a LoRA adapter, or every weight (full; for models so small that LoRA saves nothing)",
        choices=("lora", "full"),
    )
    families: tuple[str, ...] = setting(
        FAMILIES, "augmentation families applied to the leave-out data", choices=FAMILIES
    )
    permuted_copies: str = setting(
        "base",
        "recoloured / reordered copies: one each per leave-out task when a family is on (base), "
        "or one combined copy of every task, augmented ones included, always (all: the "
        "reference)",
        choices=PERMUTED_COPIES,
    )
    colour_copies: int = setting(
        0,
        "copies of each leave-out task under a random recolouring (colour 0 kept) and "
        "demonstration order, whatever the families: data that keeps the task's rule",
        ge=0,
    )
    strategy: str = setting(
        "output_tokens",
        "loss on the answer tokens only (output_tokens) or on every real token (all_tokens)",
        choices=STRATEGIES,
    )
    demo_outputs: bool = setting(
        False, "with output_tokens: also put loss on each in-context demonstration's output"
    )
    learning_rate: float = setting(1e-4, "peak learning rate of the cosine schedule", gt=0)
    epochs: int = setting(2, "passes over the leave-out data (see tokens_per_epoch)", ge=1)
    tokens_per_epoch: int | None = setting(
        None,
        "an epoch is this many trained tokens (cycling over the data as often as needed, "
        "stopping at the batch that reaches it) instead of one pass; null: one pass",
        ge=1,
    )
    stop_patience: int | None = setting(
        None,
        "stop a run early after this many epochs in a row whose mean loss on the leave-out "
        "data falls less than stop_min_delta below its best, so a long budget is spent only "
        "while it helps; null: train the whole budget",
        ge=1,
    )
    stop_min_delta: float = setting(
        0.01, "the fall in an epoch's mean loss (nats per token) that counts as progress", ge=0
    )
    batch_size: int = setting(2, "sequences per optimizer step", ge=1)
    max_sequences: int = setting(
        250, "cap on leave-out sequences after augmentation and de-duplication", ge=1
    )
    leave_out: int = setting(2, "build leave-1 .. leave-k tasks from the demonstrations", ge=1)
    max_steps: int | None = setting(
        375,
        "a run needing more optimizer steps fails (the reference's cost rule); null: no cap",
        ge=1,
    )
    max_length: int = setting(8192, "longer sequences are skipped and counted, never cut", ge=2)
    warmup_fraction: float = setting(0.1, "share of the steps spent warming up", ge=0, lt=1)
    warmup_steps: int | None = setting(
        None, "warm-up steps (the reference: 11); null: warmup_fraction of the steps", ge=0
    )
    weight_decay: float = setting(0.0, "AdamW weight decay", ge=0)
    grad_clip: float = setting(1.0, "gradient norm clipped to this", gt=0)
    lora_r: int = setting(128, "rank of the LoRA adapter", ge=1)
    lora_alpha: float = setting(16, "LoRA scale numerator (scale = alpha / r)", gt=0)
    lora_dropout: float = setting(0.0, "dropout on the adapter's input", ge=0, lt=1)
    lora_targets: tuple[str, ...] = setting(
        ("q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"),
        "names of the linear layers that get an adapter",
        nonempty=True,
    )
    seed: int = setting(0, "seed for the data order and augmentation draws", ge=0)

    def __post_init__(self) -> None:
        check(self)


# The reference's oracle TTT configuration: every family, loss on outputs, lr 1e-4, 2 epochs.
ORACLE = TTTConfig(families=FAMILIES, strategy="output_tokens", learning_rate=1e-4, epochs=2)


@dataclass(frozen=True)
class PredictConfig:
    """How many ways to ask, and how to decode."""

    views: tuple[str, ...] = setting(
        ("identity", "transpose", "flip_ud", "flip_lr", "rot90", "rot180"),
        "invertible transforms the task is also shown through (D8 names)",
        choices=tuple(t.name for t in D8),
        nonempty=True,
    )
    orders: int = setting(2, "demonstration orders per context: as given, then random ones", ge=1)
    all_demonstrations: bool = setting(True, "use all demonstrations as one context")
    leave_one_out: bool = setting(
        True, "use each leave-1 subset of the demonstrations as a context"
    )
    attempts: int = setting(2, "attempts kept per test input (pass@k)", ge=1)
    per_view: int = setting(2, "candidates each view puts forward to the vote across views", ge=1)
    batch_size: int = setting(16, "prompts decoded together", ge=1)
    candidates: str = setting(
        "greedy",
        "answers per query: the greedy one, or every answer above `cutoff` (dfs; the compact "
        "tokenizer's grid grammar only)",
        choices=("greedy", "dfs"),
    )
    cutoff: float = setting(0.1, "dfs: keep answers at least this probable", gt=0, lt=1)
    max_candidates: int = setting(8, "dfs: at most this many answers per query", ge=1)
    max_expansions: int = setting(
        4096, "dfs: at most this many answer prefixes fed to the model per query", ge=1
    )
    scoring: str = setting(
        "vote",
        "how attempts are chosen: a hierarchical vote over the queries' answers (vote), the "
        "reference's vote (reference_vote: top 3 per view and over all, identity count breaks "
        "ties, a majority grid fills a missing attempt), or each distinct answer's summed "
        "log-likelihood over `scoring_views` views (poe)",
        choices=("vote", "reference_vote", "poe"),
    )
    scoring_views: int = setting(
        8, "poe: views (D8 transforms, recolourings, demonstration orders) per candidate", ge=1
    )
    max_new_tokens: int | None = setting(
        None, "decoding budget per answer; null: enough for a 30x30 grid", ge=1
    )
    infer_shape: bool = setting(
        True,
        "fix the answer's shape when every demonstration maps input to output shape by one "
        "rule (compact tokenizer only)",
    )
    seed: int = setting(0, "seed for the demonstration orders", ge=0)

    def __post_init__(self) -> None:
        check(self)
        if not (self.all_demonstrations or self.leave_one_out):
            raise ConfigError(
                "all_demonstrations and leave_one_out are both false: no context to ask with"
            )


@dataclass(frozen=True)
class SFTConfig:
    """Supervised fine-tuning of the policy on rewarded self-edits (ReST-EM's M-step)."""

    lora_r: int = setting(16, "rank of the adapter trained on the rewarded self-edits", ge=1)
    lora_alpha: float = setting(16, "LoRA scale numerator (scale = alpha / r)", gt=0)
    epochs: int = setting(8, "passes over the rewarded (prompt, self-edit) pairs", ge=1)
    batch_size: int = setting(5, "pairs per optimizer step", ge=1)
    learning_rate: float = setting(5e-5, "peak learning rate of the cosine schedule", gt=0)
    warmup_fraction: float = setting(0.1, "share of the steps spent warming up", ge=0, lt=1)
    grad_clip: float = setting(1.0, "gradient norm clipped to this", gt=0)
    float32: bool = setting(
        True,
        "train and merge in float32 and keep the policy in float32 (the reference merges in "
        "float32); false: in the model's dtype, where bfloat16 rounds small updates away",
    )

    def __post_init__(self) -> None:
        check(self)


@dataclass(frozen=True)
class HeadConfig:
    """Fitting the configuration head (``policy: head``) to rewarded pairs."""

    learning_rate: float = setting(1.0, "gradient descent's step size", gt=0)
    steps: int = setting(100, "full-batch steps per ReST-EM iteration", ge=1)
    l2: float = setting(
        0.01, "L2 penalty on the head's weights: a pull towards no preference", ge=0
    )

    def __post_init__(self) -> None:
        check(self)
        if self.learning_rate * self.l2 >= 0.5:
            raise ConfigError(
                f"head: learning_rate x l2 = {self.learning_rate * self.l2:g}; gradient descent "
                "oscillates from 0.5 on (lower one of them)"
            )


@dataclass(frozen=True)
class RunConfig:
    subset: str = setting("simplified", "task subset: a name in tasks/ or a subset JSON file")
    model: str | None = setting(None, "HF model id or local directory; unset: the embedded model")
    trust_remote_code: bool = setting(
        False, "allow the model's own code to run (off unless asked; true/false only)"
    )
    device: str | None = setting(
        None, "cpu, cuda, cuda:N or mps; unset: cuda when available", pattern=DEVICE
    )
    seed: int = setting(0, "seed for sampling, TTT and prediction", ge=0)
    iterations: int = setting(1, "ReST-EM iterations", ge=0)
    samples_per_task: int = setting(15, "self-edits sampled per train task per iteration", ge=1)
    eval_samples: int = setting(5, "self-edits per eval task in the no_rl and seal rows", ge=1)
    oracle_samples: int = setting(1, "oracle TTT runs (seeds) per eval task", ge=1)
    oracle_on_train: bool = setting(False, "also score the oracle configuration on train tasks")
    seal_each_iteration: bool = setting(
        False, "also score the SEAL row after every ReST-EM iteration before the last"
    )
    oracle_learning_rate: float = setting(
        ORACLE.learning_rate,
        "the oracle's learning rate (the reference's, tuned for a 1B model)",
        gt=0,
    )
    oracle_epochs: int = setting(ORACLE.epochs, "the oracle's epochs", ge=1)
    oracle_families: tuple[str, ...] = setting(
        ORACLE.families,
        "the oracle's augmentation families (the reference's: all of them; none: [])",
        choices=FAMILIES,
    )
    oracle_demo_outputs: bool | None = setting(
        None, "the oracle's loss on demonstration outputs (marc's: true); null: as ttt"
    )
    oracle_weight_decay: float | None = setting(
        None, "the oracle's AdamW weight decay (marc's: 0.01); null: as ttt", ge=0
    )
    decoding: str = setting(
        "schema", "self-edit decoding: schema (always valid) or free", choices=DECODINGS
    )
    temperature: float | None = setting(
        None, "sampling temperature; unset: 1.0 schema, 0.8 free", gt=0
    )
    max_new_tokens: int | None = setting(
        None, "free decoding budget; unset: 128, or 320 for the compact tokenizer", ge=1
    )
    max_invalid_retries: int = setting(
        2,
        "free decoding: extra tries for an invalid self-edit, after which the job is recorded "
        "as failed with the parser's reason (the reference resamples until valid: 1000 here)",
        ge=0,
    )
    self_edit_prompt: str = setting(
        "arc-seal",
        "chat models' self-edit prompt: the project's (task in chat format, a described "
        "example) or the reference's layout (keys and an elided skeleton)",
        choices=PROMPTS,
    )
    ttt_seed: str = setting(
        "task",
        "seed of a self-edit's TTT data and order: from the task and the self-edit alone (not "
        "the run's seed), so that a (task, configuration) pair always trains on the same data "
        "and gets one verdict, in every run and in curation (the reference: identical "
        "self-edits train alike); or per job",
        choices=("task", "job"),
    )
    pair_seeds: int = setting(
        1,
        "TTT seeds per (task, configuration) pair: curation trains each pair under every one "
        "and stores each verdict (the pair's solve rate); a run's self-edit trains under one, "
        "drawn by its job, as a grid verdict it reads is",
        ge=1,
    )
    policy: str = setting(
        "language_model",
        "what chooses a self-edit: the language model writing it (language_model, as SEAL), "
        "or a configuration head on the model's hidden state at the end of the self-edit "
        "prompt, over the grid's configurations (head: starts uniform; ReST-EM fits the "
        "head, the model stays as it is)",
        choices=("language_model", "head"),
    )
    blind: bool = setting(
        False,
        "the policy's prompt holds none of the task's demonstrations (the SEAL-blind control: "
        "only a preference shared by every task can be learned)",
    )
    rewarded_pairs: str = setting(
        "every",
        "what ReST-EM learns from per iteration: every rewarded sample (every, the reference: a "
        "pair sampled twice counts twice) or each rewarded (task, configuration) pair once",
        choices=("every", "once"),
    )
    reward: str = setting(
        "binary", "binary (pass@2 solve) or best_of_n (best dense score per task)", choices=REWARDS
    )
    reward_source: str = setting(
        "ttt",
        "a sampled self-edit's verdict: from its own TTT run (ttt), or read from the subset's "
        "grid when the grid has the (task, configuration) pair and was computed under this "
        "run's model, TTT and prediction settings (grid; TTT runs otherwise)",
        choices=("ttt", "grid"),
    )
    self_edit_space: str = setting(
        "options",
        "what schema decoding chooses among: every combination of learning_rates, "
        "epoch_options, the augmentation families and the losses (options), or exactly the "
        "configurations of the subset's grid (grid)",
        choices=("options", "grid"),
    )
    ttt_learner: str = setting(
        "policy",
        "the model TTT adapts: the reinforced policy, as in the reference (policy), or the "
        "initial model throughout, so that a grid's verdicts stay true while the policy "
        "learns (initial)",
        choices=("policy", "initial"),
    )
    learning_rates: tuple[float, ...] = setting(
        REFERENCE_LEARNING_RATES,
        "schema decoding's learning-rate options",
        gt=0,
        nonempty=True,
    )
    epoch_options: tuple[int, ...] = setting(
        REFERENCE_EPOCHS, "schema decoding's epoch options", ge=1, nonempty=True
    )
    ttt: TTTConfig = setting(TTTConfig(), "TTT defaults a self-edit's choices are applied to")
    predict: PredictConfig = setting(PredictConfig(), "voted prediction settings")
    sft: SFTConfig = setting(SFTConfig(), "policy fine-tuning on rewarded self-edits")
    head: HeadConfig = setting(HeadConfig(), "the configuration head's fitting (policy: head)")
    output_dir: str | None = setting(None, "run directory; unset: runs/<timestamp>-<subset>")
    wandb: str = setting(
        "offline", "W&B logging (offline files inside the run directory)", choices=WANDB_MODES
    )

    def __post_init__(self) -> None:
        check(self)
        if self.reward_source == "grid" and self.reward != "binary":
            raise ConfigError(
                "reward_source: grid holds solved / not solved only; it needs reward: binary"
            )
        if self.self_edit_space == "grid" and self.decoding != "schema":
            raise ConfigError("self_edit_space: grid needs decoding: schema")
        if self.policy == "head" and self.self_edit_space != "grid":
            raise ConfigError(
                "policy: head chooses among a grid's configurations: it needs self_edit_space: grid"
            )

    def verdict_settings(self) -> dict:
        """What a (task, configuration) pair's verdict depends on besides the pair: the model,
        the TTT defaults and the prediction settings. A grid records them, and a run reads
        verdicts from a grid only when its own are the same."""
        settings = {
            "model": self.model,
            "ttt": dataclasses.asdict(self.ttt),
            "predict": dataclasses.asdict(self.predict),
            "ttt_seed": self.ttt_seed,
            "pair_seeds": self.pair_seeds,
        }
        return json.loads(json.dumps(settings))  # as a subset file holds them: lists, not tuples

    def same_verdict_settings(self, stored: dict) -> bool:
        """Whether a grid's stored ``verdict_settings`` are this run's. A TTT or prediction
        setting added since the grid was computed reads as its default, which keeps the
        behaviour the grid was computed with."""
        filled = {"pair_seeds": 1} | stored
        for section, cls in (("ttt", TTTConfig), ("predict", PredictConfig)):
            defaults = json.loads(json.dumps(dataclasses.asdict(cls())))
            filled[section] = defaults | stored.get(section, {})
        return filled == self.verdict_settings()

    def oracle_ttt(self, seed: int = 0) -> TTTConfig:
        """The oracle's TTT: the reference's loss, this config's oracle families, learning
        rate and epochs, the rest as ``ttt``."""
        return dataclasses.replace(
            self.ttt,
            families=tuple(self.oracle_families),
            strategy=ORACLE.strategy,
            learning_rate=self.oracle_learning_rate,
            epochs=self.oracle_epochs,
            demo_outputs=(
                self.ttt.demo_outputs
                if self.oracle_demo_outputs is None
                else self.oracle_demo_outputs
            ),
            weight_decay=(
                self.ttt.weight_decay
                if self.oracle_weight_decay is None
                else self.oracle_weight_decay
            ),
            seed=seed,
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _build(cls: type, values: Any, prefix: str) -> Any:
    """An instance of ``cls`` from plain values; errors name the dotted field."""
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping of fields")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"unknown field(s) {[prefix + u for u in unknown]}; known: {sorted(names)}"
        )
    kwargs = {}
    for key, value in values.items():
        kind, _ = split_optional(hints(cls)[key])
        if dataclasses.is_dataclass(kind):
            value = _build(kind, {} if value is None else value, f"{prefix}{key}.")
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except ConfigError as e:
        raise ConfigError(f"{prefix}{e}") from None


def from_dict(values: Any, where: str = "config") -> RunConfig:
    """A checked ``RunConfig``; an error names ``where`` (the file), the field and the value."""
    try:
        return _build(RunConfig, values, "")
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def load_yaml(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict:
    """A config file's values. A file may name a ``base`` config (a shipped name, or a path
    relative to the file) and state only how it differs: sections merge field by field."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of fields")
    if "base" not in values:
        return values
    name = values.pop("base")
    if not isinstance(name, str):
        raise ConfigError(f"{path}: base is {name!r}, expected a config name or YAML path")
    beside = path.parent / name
    base_path = beside if beside.is_file() else config_path(name)
    if base_path.resolve() in _seen + (path.resolve(),):
        raise ConfigError(f"{path}: base {name!r} leads back to itself")
    merged = load_yaml(base_path, _seen + (path.resolve(),))
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merged[key] | value
        else:
            merged[key] = value
    return merged


def _flags(cls: type = RunConfig, prefix: str = "") -> list[tuple[str, dataclasses.Field, Any]]:
    """(dotted name, field, type) for every leaf field, nested sections included."""
    out = []
    for f in dataclasses.fields(cls):
        kind, _ = split_optional(hints(cls)[f.name])
        if dataclasses.is_dataclass(kind):
            out += _flags(kind, f"{prefix}{f.name}.")
        else:
            out.append((prefix + f.name, f, hints(cls)[f.name]))
    return out


def _parser_for(kind: Any):
    """The argparse ``type`` for one value of a field: "null" or "none" unsets an optional."""
    base, optional = split_optional(kind)
    item = typing.get_args(base)[0] if typing.get_origin(base) is tuple else base

    def parse(text: str):
        if optional and text.lower() in ("null", "none"):
            return None
        if item is int:
            return int(text)
        if item is float:
            return float(text)
        return text

    parse.__name__ = getattr(item, "__name__", "value")
    return parse


def _picked(prefixes: tuple[str, ...]) -> list[tuple[str, dataclasses.Field, Any]]:
    return [flag for flag in _flags() if flag[0].startswith(prefixes)]


def add_arguments(parser: argparse.ArgumentParser, prefixes: tuple[str, ...] = ("",)) -> None:
    """One ``--flag`` per field, nested ones dotted (``--ttt.max-steps``), each with its help;
    only the fields whose dotted name starts with one of ``prefixes``."""
    groups = {"": parser}
    for name, f, kind in _picked(prefixes):
        section = name.rpartition(".")[0]
        if section not in groups:
            groups[section] = parser.add_argument_group(f"{section} settings")
        group = groups[section]
        flag = "--" + name.replace("_", "-")
        base, _ = split_optional(kind)
        help_text = f.metadata["help"]
        if base is bool:
            group.add_argument(
                flag,
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
            continue
        is_list = typing.get_origin(base) is tuple
        group.add_argument(
            flag,
            dest=name,
            type=_parser_for(kind),
            nargs="+" if is_list else None,
            default=argparse.SUPPRESS,  # absent unless given: "none" can then mean None
            choices=f.metadata["choices"],
            metavar=None if f.metadata["choices"] else name.rpartition(".")[2].upper(),
            help=help_text,
        )


def given_flags(args: argparse.Namespace, prefixes: tuple[str, ...] = ("",)) -> dict[str, Any]:
    """Dotted field name -> value, for every setting flag given on the command line."""
    given = vars(args)
    return {
        name: tuple(given[name]) if isinstance(given[name], list) else given[name]
        for name, _, _ in _picked(prefixes)
        if name in given
    }


def set_value(values: dict, dotted: str, value: Any) -> None:
    """Set the dotted field (``ttt.max_steps``) in plain config values, making sections."""
    *sections, leaf = dotted.split(".")
    for s in sections:
        values = values.setdefault(s, {})
        if not isinstance(values, dict):
            raise ConfigError(f"{s}: expected a mapping of fields")
    values[leaf] = value


def resolve(
    args: argparse.Namespace,
    base: dict,
    where: str = "command line",
    prefixes: tuple[str, ...] = ("",),
) -> RunConfig:
    """YAML values, then any setting flag given on the command line (those ``prefixes`` pick)."""
    values = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for name, value in given_flags(args, prefixes).items():
        set_value(values, name, value)
    return from_dict(values, where)


def _get(config: RunConfig, dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def config_text(config: RunConfig) -> str:
    """The YAML a run directory stores: the whole resolved configuration."""
    plain = dataclasses.asdict(config)

    def lists(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: lists(x) for k, x in v.items()}
        return list(v) if isinstance(v, tuple) else v

    return yaml.safe_dump(lists(plain), sort_keys=False)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def config_path(name: str) -> Path:
    """A YAML path as given, or the shipped config of that name (``default``, ``llama-1b``)."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    shipped = Path(str(resources.files("arc_seal.configs").joinpath(f"{name}.yaml")))
    if not shipped.is_file():
        known = sorted(
            Path(str(p)).stem
            for p in resources.files("arc_seal.configs").iterdir()
            if str(p).endswith(".yaml")
        )
        raise ConfigError(f"unknown config {name!r}; shipped: {', '.join(known)}, or a YAML path")
    return shipped


def store_config(config: RunConfig, run_dir: Path) -> None:
    """Write the run's resolved settings and their digest: on resume they are the truth."""
    text = config_text(config)
    (run_dir / CONFIG).write_text(text)
    (run_dir / CONFIG_DIGEST).write_text(digest(text) + "\n")


def check_resumable(run_dir: Path, config: RunConfig) -> None:
    """Refuse to finish a run directory under other settings than those it began with (the
    W&B mode aside)."""
    stored = stored_config(run_dir)
    if dataclasses.replace(stored, **{k: getattr(config, k) for k in RESUMABLE}) != config:
        raise ConfigError(
            f"{run_dir}: it ran under other settings ({CONFIG} there); start a new one"
        )


def stored_config(run_dir: Path) -> RunConfig:
    """The settings a run began with; refused if ``config.yaml`` was edited since."""
    path = run_dir / CONFIG
    if not path.is_file():
        raise ConfigError(f"{run_dir}: not a run directory (no {CONFIG})")
    text = path.read_text()
    stamp = run_dir / CONFIG_DIGEST
    if stamp.is_file() and stamp.read_text().strip() != digest(text):
        raise ConfigError(
            f"{path}: edited since the run started; its records were made under the old "
            "settings (start a new run to change them)"
        )
    return from_dict(load_yaml(path), str(path))


def for_resume(stored: RunConfig, args: argparse.Namespace, where: str) -> RunConfig:
    """The stored configuration, with only the harmless flags (W&B mode) applied; any other
    flag that would change a setting is refused."""
    changes = {}
    for name, value in given_flags(args).items():
        if value == _get(stored, name):
            continue
        if name not in RESUMABLE:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(
                f"{where}: {flag} {value!r} differs from the run's {name} "
                f"{_get(stored, name)!r}; a resumed run keeps its settings (start a new run "
                "to change them)"
            )
        changes[name] = value
    return dataclasses.replace(stored, **changes)
