"""What a config field says about itself, declared where the field is: its valid range, or that it is an
implementation setting (never a knob). Torch-free and import-free, so every module that owns a config
dataclass can use it without import cycles.

    steps: int = bounded(300, ge=1)                  # optimizer updates
    mask_prob: float = bounded(0.15, gt=0, lt=1)
    streaming: bool = implementation(True)

`check_ranges(schema, values, prefix)` checks every bounded field of a dataclass (nested ones included)
and raises a one-line ConfigError naming the first bad key.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

_RANGE = "range"
IMPLEMENTATION = "implementation"


class ConfigError(ValueError):
    """A bad config value: str(err) is one line naming the key, the value and what is valid."""

    def __init__(self, key: str, value: Any, valid: str):
        super().__init__(f"{key}={value}: {valid}")
        self.key, self.value, self.valid = key, value, valid

    def __reduce__(self):  # crosses process boundaries whole (a data task in a pool raises it)
        return ConfigError, (self.key, self.value, self.valid)


def implementation(*args: Any, **kwargs: Any) -> Any:
    """A schema field that changes how a run executes, not what it computes: never a knob.
    `implementation(True)`, `implementation(default_factory=list)`."""
    if args:
        kwargs["default"] = args[0]
    return dataclasses.field(metadata={IMPLEMENTATION: True}, **kwargs)


def bounded(default: Any = dataclasses.MISSING, *, ge: float | None = None, gt: float | None = None,
            le: float | None = None, lt: float | None = None, **kwargs: Any) -> Any:
    """A numeric field with its valid range (None stays allowed where the type is Optional)."""
    return dataclasses.field(default=default, metadata={_RANGE: (ge, gt, le, lt)}, **kwargs)


def describe_range(ge: float | None, gt: float | None, le: float | None, lt: float | None) -> str:
    low = f">= {ge:g}" if ge is not None else f"> {gt:g}" if gt is not None else ""
    high = f"<= {le:g}" if le is not None else f"< {lt:g}" if lt is not None else ""
    return "must be " + " and ".join(part for part in (low, high) if part)


def in_range(value: Any, ge: float | None, gt: float | None, le: float | None, lt: float | None) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return ((ge is None or value >= ge) and (gt is None or value > gt)
            and (le is None or value <= le) and (lt is None or value < lt))


def check_ranges(schema: type, values: Any, prefix: str = "") -> None:
    """Raise ConfigError for the first bounded field of `schema` whose value in `values` (an object or
    mapping with the schema's fields: a dataclass instance, a DictConfig) is out of its range."""
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        value = values[f.name] if isinstance(values, typing.Mapping) or hasattr(values, "keys") else getattr(values, f.name)
        if _RANGE in f.metadata and value is not None and not in_range(value, *f.metadata[_RANGE]):
            raise ConfigError(prefix + f.name, value, describe_range(*f.metadata[_RANGE]))
        if dataclasses.is_dataclass(hints.get(f.name)) and value is not None:
            check_ranges(hints[f.name], value, f"{prefix}{f.name}.")
