"""A check's own options (``coverage_threshold``, ``severity``, ...): declared once,
read from its table with the same one-line errors as every other key."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from routine_workflow.config import TABLE
from routine_workflow.config_rules import did_you_mean
from routine_workflow.errors import ConfigError


@dataclass(frozen=True)
class Option:
    """One option: its kind (number | bool | str | list | choice), default and bounds."""

    kind: str
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


def read_options(
    name: str, options: Mapping[str, Option], table: Mapping[str, Any]
) -> dict[str, Any]:
    """The values of ``options`` in ``table`` (defaults where absent), each checked."""
    values = {}
    for key, option in options.items():
        values[key] = _value(name, key, option, table[key]) if key in table else option.default
    return values


def _bad(name: str, key: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(f"[{TABLE}.steps.{name}] {key}: invalid value {value!r}: {expected}")


def _value(name: str, key: str, option: Option, value: Any) -> Any:
    kind = option.kind
    if kind == "bool":
        if not isinstance(value, bool):
            raise _bad(name, key, value, "expected true or false")
        return value
    if kind == "number":
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise _bad(name, key, value, "expected a number")
        low, high = option.minimum, option.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            raise _bad(name, key, value, f"expected a number from {low:g} to {high:g}")
        return float(value)
    if kind == "str":
        if not isinstance(value, str) or not value:
            raise _bad(name, key, value, "expected a non-empty string")
        return value
    if kind == "choice":
        if value not in option.choices:
            hint = did_you_mean(str(value), option.choices)
            raise _bad(name, key, value, f"expected one of {', '.join(option.choices)}{hint}")
        return value
    if kind == "list":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _bad(name, key, value, "expected a list of strings")
        return tuple(value)
    raise AssertionError(f"unknown option kind {kind}")  # pragma: no cover (programming error)
