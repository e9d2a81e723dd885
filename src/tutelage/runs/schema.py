"""Declarative settings schemas: check a TOML table, fill defaults, name the bad key.

A stage type declares ``settings = {"episodes": Field(int, 20, minimum=1), ...}``;
:func:`check_table` turns a user's table into validated settings or raises one
:class:`~tutelage.errors.SpecError` naming the file, the key and the closest
valid key.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tutelage.errors import SpecError, UnknownNameError

REQUIRED = object()
#: the largest integer a setting takes unless its field says otherwise (counts: episodes, epochs, workers...)
MAX_INTEGER = 1_000_000

_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a table"}


@dataclass(frozen=True)
class Field:
    """One setting: its type, default (``REQUIRED`` when it has none) and limits.

    Numbers must be finite; integers are at most ``maximum``, or :data:`MAX_INTEGER` when it is not given.
    """

    type: type
    default: Any = REQUIRED
    help: str = ""
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    items: type | None = None  # element type of a list

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def type_name(kind: type) -> str:
    return _TYPE_NAMES.get(kind, kind.__name__)


def _matches(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def check_value(value: Any, field: Field, where: str) -> Any:
    """Check one value against its field; return it (ints widened to float where asked).

    ``None`` (which TOML cannot write, but a resolved spec records) passes where it is the default.
    """
    if value is None and field.default is None:
        return None
    if not _matches(value, field.type):
        raise SpecError(f"{where}: expected {_expected(field.type)}, got {type(value).__name__} {value!r}")
    if field.type is float:
        value = float(value)
    if field.items is not None:
        for i, item in enumerate(value):
            if not _matches(item, field.items):
                raise SpecError(f"{where}[{i}]: expected {_expected(field.items)}, got {type(item).__name__} {item!r}")
    if field.choices is not None and value not in field.choices:
        raise UnknownNameError("value", str(value), [str(c) for c in field.choices], where)
    if field.minimum is not None and value < field.minimum:
        raise SpecError(f"{where}: must be >= {field.minimum}, got {value!r}")
    maximum = MAX_INTEGER if field.maximum is None and field.type is int else field.maximum
    if maximum is not None and value > maximum:
        raise SpecError(f"{where}: must be <= {maximum}, got {value!r}")
    return value


def _expected(kind: type) -> str:
    return "a finite number" if kind is float else type_name(kind)


def check_table(table: Mapping[str, Any], schema: Mapping[str, Field], where: str) -> dict[str, Any]:
    """Validate ``table`` against ``schema``; unknown keys name the closest valid one."""
    for key in table:
        if key not in schema:
            raise UnknownNameError("key", key, schema, where)
    checked: dict[str, Any] = {}
    for key, field in schema.items():
        if key in table:
            checked[key] = check_value(table[key], field, f"{where}.{key}")
        elif field.required:
            raise SpecError(f"{where}: missing required key {key!r} ({type_name(field.type)}{': ' + field.help if field.help else ''})")
        else:
            checked[key] = field.default
    return checked
