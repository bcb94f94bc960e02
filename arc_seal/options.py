"""Settings that document and check themselves.

Every field of a config dataclass is declared with ``setting``: its default, its help (shown
by ``--help`` and in the docs), and what values it allows. ``check`` runs when an instance is
made, so a wrong type or value — a quoted ``"no"`` for a boolean, ``samples_per_task: 1.5``, a
NaN learning rate, an empty list of views — is refused before any work starts, with one line
naming the field, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from functools import cache
from typing import Any

from arc_seal.errors import ConfigError


def setting(
    default: Any,
    doc: str,
    *,
    choices: tuple | None = None,
    ge: float | None = None,
    gt: float | None = None,
    lt: float | None = None,
    pattern: str | None = None,
    nonempty: bool = False,
) -> Any:
    """A dataclass field with its documentation (``doc``: the flag's help) and its allowed
    values.

    ``choices`` applies to a value or to each item of a tuple; ``ge``/``gt``/``lt`` bound a
    number (or each item); ``pattern`` is a regular expression a string must match in full;
    ``nonempty`` refuses an empty tuple.
    """
    meta = {"help": doc, "choices": choices, "ge": ge, "gt": gt, "lt": lt}
    meta |= {"pattern": pattern, "nonempty": nonempty}
    if dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=lambda: default, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@cache
def hints(cls: type) -> dict[str, Any]:
    """The resolved type of each field of a dataclass."""
    return typing.get_type_hints(cls)


def split_optional(kind: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); anything else -> (kind, False)."""
    args = typing.get_args(kind)
    if (typing.get_origin(kind) in (typing.Union, types.UnionType)) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return kind, False


def _type_error(value: Any, kind: Any) -> str | None:
    if kind is bool:
        return None if isinstance(value, bool) else "expected true or false"
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "expected a whole number"
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "expected a number"
        try:
            return None if math.isfinite(value) else "expected a finite number"
        except OverflowError:
            return "expected a number of reasonable size"
    if kind is str:
        return None if isinstance(value, str) and value else "expected a non-empty string"
    raise TypeError(f"no check for fields of type {kind}")


def _bounds_error(value: float, meta: dict) -> str | None:
    if meta["ge"] is not None and not value >= meta["ge"]:
        return f"expected at least {meta['ge']}"
    if meta["gt"] is not None and not value > meta["gt"]:
        return f"expected more than {meta['gt']}"
    if meta["lt"] is not None and not value < meta["lt"]:
        return f"expected less than {meta['lt']}"
    return None


def _item_error(value: Any, kind: Any, meta: dict) -> str | None:
    problem = _type_error(value, kind)
    if problem:
        return problem
    if meta["choices"] is not None and value not in meta["choices"]:
        return "expected one of " + ", ".join(map(str, meta["choices"]))
    if kind in (int, float):
        return _bounds_error(value, meta)
    if meta["pattern"] is not None and not re.fullmatch(meta["pattern"], value):
        return f"expected a value matching {meta['pattern']}"
    return None


def field_error(value: Any, kind: Any, meta: dict) -> str | None:
    """What is wrong with ``value`` for a field of type ``kind``, or None."""
    kind, optional = split_optional(kind)
    if value is None:
        return None if optional else "a value is required"
    if typing.get_origin(kind) is tuple:
        if not isinstance(value, tuple):
            return "expected a list"
        if meta["nonempty"] and not value:
            return "expected a non-empty list"
        item = typing.get_args(kind)[0]
        for v in value:
            problem = _item_error(v, item, meta)
            if problem:
                return f"item {v!r}: {problem}"
        return None
    return _item_error(value, kind, meta)


def check(instance: Any) -> None:
    """Raise ``ConfigError`` for the first field of a dataclass instance whose value is not
    allowed; nested config dataclasses check themselves when they are made."""
    cls = type(instance)
    for f in dataclasses.fields(cls):
        kind = hints(cls)[f.name]
        if dataclasses.is_dataclass(kind):
            if not isinstance(getattr(instance, f.name), kind):
                raise ConfigError(f"{f.name}: expected a mapping of {kind.__name__} fields")
            continue
        value = getattr(instance, f.name)
        problem = field_error(value, kind, f.metadata)
        if problem:
            raise ConfigError(f"{f.name} = {value!r}: {problem}")
