"""Commands as JSON and back: how a four-eyes request stores the command it will carry out.

`to_payload` turns a command (a frozen dataclass of strings, integers, decimals, dates,
instants, enums, tuples, mappings and other such dataclasses) into JSON-native values: decimals,
dates and instants as ISO strings, tuples as lists. `from_payload` rebuilds the command from its
type hints. Round trips are exact (no float anywhere), so the gate can compare a stored payload
with the one it is asked to approve.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

T = TypeVar("T")
Json = Any


def to_payload(value: object) -> Json:  # noqa: PLR0911 - one return per kind of value
    """The JSON-native form of a command (or of any value it holds)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_payload(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return to_payload(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): to_payload(item) for key, item in value.items()}
    if isinstance(value, tuple | list | frozenset | set):
        items = sorted(value) if isinstance(value, frozenset | set) else value
        return [to_payload(item) for item in items]
    # A float here is a number inside a client's JSON metadata, kept as the client sent it;
    # every amount of a command is an integer of units, a Decimal or its text.
    assert value is None or isinstance(value, str | int | bool | float), f"not JSON: {value!r}"
    return value


def from_payload(kind: type[T], payload: Json) -> T:
    """The command of type `kind` that `to_payload` made `payload` from."""
    built: T = _build(kind, payload)
    return built


def _build(hint: Any, value: Json) -> Any:  # noqa: PLR0911 - one branch per kind of value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _union(typing.get_args(hint), value)
    if value is None or hint is Any:
        return value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        fields = {f.name for f in dataclasses.fields(hint) if f.init}
        built = {name: _build(hints[name], value[name]) for name in fields if name in value}
        constructor: Any = hint
        return constructor(**built)
    if origin in (tuple, list, frozenset, set):
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return origin(_build(item, element) for element in value)
    if origin is not None and issubclass(origin, Mapping):
        _, item = typing.get_args(hint) or (str, Any)
        return {key: _build(item, element) for key, element in value.items()}
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    return _scalar(hint, value)


def _union(options: tuple[Any, ...], value: Json) -> Any:
    if value is None:
        return None
    concrete = [option for option in options if option is not type(None)]
    if isinstance(value, str) and str in concrete:
        return value  # `Decimal | str` and the like: the text says the same either way
    assert len(concrete) == 1, f"ambiguous optional payload type: {options}"
    return _build(concrete[0], value)


def _scalar(hint: Any, value: Json) -> Any:
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint is date:
        return date.fromisoformat(value)
    if hint is Decimal:
        return Decimal(value)
    return value
