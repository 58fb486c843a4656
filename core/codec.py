"""JSON-ready encoding of the core's immutable values (REQ-CORE-003).

:func:`encode` turns a frozen dataclass (device state, command, effect) into plain JSON types;
:func:`decode` turns such data back into the typed value and rejects anything malformed with an
:class:`~itdose.core.errors.InvalidInput` naming the path of the offending field
(e.g. ``state.trial.doses[2].amount_ng``). Types are taken from the dataclass annotations, so a
new field needs no codec change. Accepted field types: ``int`` (never ``bool`` or ``float``),
``str``, ``bool``, ``None``, enums (by value), ``tuple[X, ...]``, ``X | None`` and dataclasses.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from itdose.core.errors import InvalidInput

__all__ = ["check_fields", "decode", "encode"]

T = TypeVar("T")

_MAX_INT = 2**63 - 1
_MAX_STR = 10_000


def encode(value: object) -> Any:
    """Plain JSON data (dict, list, str, int, bool, None) for a core value. A field marked
    ``metadata={"omit_default": True}`` is left out while it holds its default (a field added
    later: documents written before it stay as they were; decoding fills the default in)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: encode(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (f.metadata.get("omit_default") and getattr(value, f.name) == f.default)
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [encode(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    raise TypeError(f"cannot encode {type(value).__name__}")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@functools.cache
def _optional_of(tp: Any) -> Any:
    """``X`` of ``X | None``, the only union a core value may use."""
    others = [a for a in typing.get_args(tp) if a is not type(None)]
    if len(others) != 1:
        raise TypeError(f"unsupported union {tp}")
    return others[0]


def decode(cls: type[T], data: object, path: str = "state") -> T:
    """The ``cls`` value that ``data`` encodes; :class:`InvalidInput` naming the path if not."""
    return typing.cast(T, _decode(cls, data, path))


def _decode(tp: Any, data: object, path: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is type(None):
        if data is not None:
            raise InvalidInput(path, "expected null", value=data)
        return None
    if origin in (typing.Union, types.UnionType):
        inner = _optional_of(tp)
        return None if data is None else _decode(inner, data, path)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"unsupported tuple type {tp}")
        if not isinstance(data, list):
            raise InvalidInput(path, f"expected a list, got {type(data).__name__}", value=data)
        return tuple(_decode(args[0], item, f"{path}[{i}]") for i, item in enumerate(data))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        for member in tp:
            if member.value == data and type(member.value) is type(data):
                return member
        allowed = ", ".join(repr(m.value) for m in tp)
        raise InvalidInput(path, f"expected one of {allowed}", value=data)
    if tp is bool:
        if not isinstance(data, bool):
            got = type(data).__name__
            raise InvalidInput(path, f"expected true or false, got {got}", value=data)
        return data
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise InvalidInput(path, f"expected an integer, got {type(data).__name__}", value=data)
        if not -_MAX_INT <= data <= _MAX_INT:
            raise InvalidInput(path, "integer out of range", value=data, limit="|x| < 2**63")
        return data
    if tp is str:
        if not isinstance(data, str):
            raise InvalidInput(path, f"expected a string, got {type(data).__name__}", value=data)
        if len(data) > _MAX_STR:
            raise InvalidInput(path, "string too long", limit=f"{_MAX_STR} characters")
        return data
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, Mapping):
            raise InvalidInput(path, f"expected an object, got {type(data).__name__}", value=data)
        hints = _hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp) if f.init}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise InvalidInput(f"{path}.{unknown[0]}", "unknown field")
        kwargs = {}
        for name, f in fields.items():
            if name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise InvalidInput(f"{path}.{name}", "missing field")
                continue
            kwargs[name] = _decode(hints[name], data[name], f"{path}.{name}")
        return tp(**kwargs)
    raise TypeError(f"unsupported type {tp!r}")


def check_fields(value: object, path: str) -> None:
    """Check that every field of a dataclass value has its annotated type (recursively).

    Commands built in Python bypass :func:`decode`; this catches a float, a bool where an int is
    expected, a string where an enum or a number belongs, naming the field.
    """
    tp = type(value)
    (_check_dataclass if dataclasses.is_dataclass(tp) else _check)(tp, value, path)


def _check(tp: Any, value: object, path: str) -> None:
    # fast paths for the common plain values; anything else takes the full route below
    if tp is int and type(value) is int and -_MAX_INT <= value <= _MAX_INT:
        return
    if tp is str and type(value) is str and len(value) <= _MAX_STR:
        return
    origin = typing.get_origin(tp)
    if tp is type(None):
        if value is not None:
            raise InvalidInput(path, f"expected None, got {type(value).__name__}", value=value)
        return
    if origin in (typing.Union, types.UnionType):
        inner = _optional_of(tp)
        if value is not None:
            _check(inner, value, path)
        return
    if origin is tuple:
        if not isinstance(value, tuple):
            raise InvalidInput(path, f"expected a tuple, got {type(value).__name__}", value=value)
        item = typing.get_args(tp)[0]
        for i, v in enumerate(value):
            _check(item, v, f"{path}[{i}]")
        return
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if not isinstance(value, tp):
            why = f"expected a {tp.__name__}, got {type(value).__name__}"
            raise InvalidInput(path, why, value=value)
        return
    if tp in (int, str, bool):
        # reuse the decoder's checks for plain values (type and range)
        _decode(tp, value, path)
        return
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        _check_dataclass(tp, value, path)
        return
    raise TypeError(f"unsupported type {tp!r}")


_INT, _EXACT, _STR, _OTHER = range(4)
"""How :func:`_check_dataclass` checks a field first: an ``int`` in range, a value of exactly
the annotated ``bool`` or enum type, a ``str`` within its length; anything else (and any value
that fails the first check) takes :func:`_check`, which names the field."""


@functools.cache
def _field_plan(cls: type) -> tuple[tuple[str, Any, int], ...]:
    """Each field's name, annotated type and first check (once per class)."""
    plan = []
    hints = _hints(cls)
    for name, hint in ((f.name, hints[f.name]) for f in dataclasses.fields(cls)):
        if hint is int:
            first = _INT
        elif hint is bool or isinstance(hint, enum.EnumMeta):
            first = _EXACT
        elif hint is str:
            first = _STR
        else:
            first = _OTHER
        plan.append((name, hint, first))
    return tuple(plan)


def _check_dataclass(tp: type, value: object, path: str) -> None:
    if not isinstance(value, tp):
        raise InvalidInput(path, f"expected a {tp.__name__}, got {type(value).__name__}")
    for name, hint, first in _field_plan(tp):
        field_value = getattr(value, name)
        # the fast paths of _check, without building the path text
        if first == _INT:
            passed = type(field_value) is int and -_MAX_INT <= field_value <= _MAX_INT
        elif first == _EXACT:
            passed = type(field_value) is hint
        elif first == _STR:
            passed = type(field_value) is str and len(field_value) <= _MAX_STR
        else:
            passed = False
        if not passed:
            _check(hint, field_value, f"{path}.{name}")
