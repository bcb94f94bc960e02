"""Self-edits: the policy's choice of augmentations and training settings for one task.

A self-edit is the reference's JSON::

    {"data_generation": {"use_basic_augmentations": bool, "use_size_augmentations": bool,
                         "use_chain_augmentations": bool, "use_repeat_augmentations": bool},
     "training": {"strategy": "train_using_all_tokens" | "train_using_output_tokens",
                  "learning_rate": float, "num_train_epochs": int}}

This module is what a self-edit is: its type, the lenient parser of a model's reply, and the
space of options schema decoding chooses from. It imports nothing heavy, so a record that
carries a self-edit can be read without torch; how the policy writes one is ``policy``.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass, replace

from arc_seal.augment import FAMILIES
from arc_seal.config import REFERENCE_EPOCHS, REFERENCE_LEARNING_RATES, TTTConfig

STRATEGIES = {
    "train_using_output_tokens": "output_tokens",
    "train_using_all_tokens": "all_tokens",
}
FLAGS = tuple(f"use_{f}_augmentations" for f in FAMILIES)
LR_RANGE = (1e-7, 1e-1)
EPOCH_RANGE = (1, 50)


class InvalidSelfEdit(ValueError):
    """A self-edit text that does not say a valid configuration; the message says why."""


@dataclass(frozen=True)
class SelfEdit:
    use_basic_augmentations: bool
    use_size_augmentations: bool
    use_chain_augmentations: bool
    use_repeat_augmentations: bool
    strategy: str
    learning_rate: float
    num_train_epochs: int

    def to_json(self) -> dict:
        return {
            "data_generation": {f: getattr(self, f) for f in FLAGS},
            "training": {
                "strategy": self.strategy,
                "learning_rate": self.learning_rate,
                "num_train_epochs": self.num_train_epochs,
            },
        }

    def text(self) -> str:
        """The canonical JSON text, as schema decoding writes it."""
        return json.dumps(self.to_json(), separators=(",", ":"))

    def ttt_config(self, base: TTTConfig) -> TTTConfig:
        """``base`` with this self-edit's families, loss, learning rate and epochs."""
        families = tuple(f for f, flag in zip(FAMILIES, FLAGS, strict=True) if getattr(self, flag))
        return replace(
            base,
            families=families,
            strategy=STRATEGIES[self.strategy],
            learning_rate=self.learning_rate,
            epochs=self.num_train_epochs,
        )


def self_edit_from_json(obj: object) -> SelfEdit:
    """The self-edit a parsed JSON value says; ``InvalidSelfEdit`` with the reason."""
    if not isinstance(obj, dict):
        raise InvalidSelfEdit("not a JSON object")
    data, training = obj.get("data_generation"), obj.get("training")
    if not isinstance(data, dict) or not isinstance(training, dict):
        raise InvalidSelfEdit("needs 'data_generation' and 'training' objects")
    for key in (*FLAGS, "strategy", "learning_rate", "num_train_epochs"):
        if key not in (data if key in FLAGS else training):
            raise InvalidSelfEdit(f"missing key {key!r}")
    flags = {f: data[f] for f in FLAGS}
    for f, v in flags.items():
        if not isinstance(v, bool):
            raise InvalidSelfEdit(f"{f} is {v!r}, expected true or false")
    strategy, lr, epochs = (
        training["strategy"],
        training["learning_rate"],
        training["num_train_epochs"],
    )
    if strategy not in STRATEGIES:
        raise InvalidSelfEdit(f"unknown strategy {strategy!r}; expected one of {list(STRATEGIES)}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr):
        raise InvalidSelfEdit(f"learning_rate is {lr!r}, expected a number")
    if not LR_RANGE[0] <= lr <= LR_RANGE[1]:
        raise InvalidSelfEdit(f"learning_rate {lr} is outside {LR_RANGE[0]}..{LR_RANGE[1]}")
    if isinstance(epochs, float) and epochs.is_integer():
        epochs = int(epochs)
    if isinstance(epochs, bool) or not isinstance(epochs, int):
        raise InvalidSelfEdit(f"num_train_epochs is {epochs!r}, expected a whole number")
    if not EPOCH_RANGE[0] <= epochs <= EPOCH_RANGE[1]:
        raise InvalidSelfEdit(
            f"num_train_epochs {epochs} is outside {EPOCH_RANGE[0]}..{EPOCH_RANGE[1]}"
        )
    return SelfEdit(**flags, strategy=strategy, learning_rate=float(lr), num_train_epochs=epochs)


_FENCE = re.compile(r"```(?:json)?", re.IGNORECASE)
# A self-edit is about 300 characters and a reply at most a few hundred tokens; the cap keeps
# the parser's work bounded whatever text it is handed.
MAX_REPLY_CHARS = 10_000


def parse_self_edit(text: str) -> SelfEdit:
    """The self-edit in a model's reply: lenient on form (code fences, words around the JSON,
    key order), strict on meaning. Raises ``InvalidSelfEdit`` with the reason."""
    if not isinstance(text, str):
        raise InvalidSelfEdit(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_REPLY_CHARS:
        raise InvalidSelfEdit(
            f"reply has {len(text)} characters; a self-edit takes at most {MAX_REPLY_CHARS}"
        )
    text = _FENCE.sub(" ", text)
    decoder = json.JSONDecoder()
    first_error = None
    for start in (i for i, ch in enumerate(text) if ch == "{"):
        try:
            obj, _ = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):  # bad JSON, or a number too long to convert
            continue
        try:
            return self_edit_from_json(obj)
        except InvalidSelfEdit as e:
            first_error = first_error or e
        except OverflowError:  # an integer too large to compare as a float
            first_error = first_error or InvalidSelfEdit("a number is too large")
    if first_error is not None:
        raise first_error
    raise InvalidSelfEdit("no JSON object found")


# The canonical JSON is fixed text around seven choice points (four flags, the strategy, the
# learning rate, the epochs): FIXED[0] choice[0] FIXED[1] ... choice[6] FIXED[7].
FIXED = (
    '{"data_generation":{"' + FLAGS[0] + '":',
    *(f',"{flag}":' for flag in FLAGS[1:]),
    '},"training":{"strategy":"',
    '","learning_rate":',
    ',"num_train_epochs":',
    "}}",
)
CHOICE_POINTS = len(FIXED) - 1


def choice_texts(edit: SelfEdit) -> tuple[str, ...]:
    """What ``edit`` chooses at each choice point, as the canonical JSON writes it."""
    flags = tuple("true" if getattr(edit, f) else "false" for f in FLAGS)
    lr = json.dumps(float(edit.learning_rate))
    return (*flags, edit.strategy, lr, str(edit.num_train_epochs))


def canonical_prefix(chosen: tuple[str, ...]) -> str:
    """The canonical JSON up to the choice point after ``chosen`` (all of it once every choice
    is made)."""
    return "".join(FIXED[i] + c for i, c in enumerate(chosen)) + FIXED[len(chosen)]


@dataclass(frozen=True)
class SelfEditSpace:
    """The configurations schema decoding chooses among: every combination of some options
    (``product``, the reference's schema) or a listed few (a curated grid's), so that every
    sample is one of them. Decoding walks them as a tree of choice points."""

    configurations: tuple[SelfEdit, ...]

    def __post_init__(self) -> None:
        if not self.configurations:
            raise ValueError("a self-edit space needs at least one configuration")
        paths = tuple(choice_texts(c) for c in self.configurations)
        tree: dict[tuple[str, ...], dict[str, None]] = {}
        for path in paths:
            for depth in range(CHOICE_POINTS):
                tree.setdefault(path[:depth], {})[path[depth]] = None
        object.__setattr__(self, "_paths", paths)
        object.__setattr__(self, "_tree", {k: list(v) for k, v in tree.items()})

    @classmethod
    def product(
        cls,
        learning_rates: tuple[float, ...] = REFERENCE_LEARNING_RATES,
        epochs: tuple[int, ...] = REFERENCE_EPOCHS,
    ) -> SelfEditSpace:
        """Every combination of the families, the two losses, and these learning rates and
        epochs, in the order schema decoding lists the options."""
        return cls(
            tuple(
                SelfEdit(*flags, strategy, float(lr), epochs_)
                for flags in itertools.product((True, False), repeat=len(FLAGS))
                for strategy in STRATEGIES
                for lr in learning_rates
                for epochs_ in epochs
            )
        )

    def options(self, chosen: tuple[str, ...]) -> list[str]:
        """The option texts allowed at the choice point after ``chosen``, in listed order."""
        return self._tree[chosen]

    def index(self, chosen: tuple[str, ...]) -> int:
        """Which configuration a complete choice path is."""
        return self._paths.index(chosen)
