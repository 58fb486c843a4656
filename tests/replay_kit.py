"""Decision replay: record core steps as data and replay them through the core of today.

A recorded step is ``(state, command, time, library) -> outcome`` in plain JSON:

- ``state``: the device as :func:`itdose.core.to_json` writes it;
- ``command``: the command's class name and its fields (:func:`itdose.core.codec.encode`);
- ``now_s``: the time argument;
- ``library``: the key of a library stored once beside the steps (most steps use the shipped one);
- ``outcome``: either ``{"ok": {"state": ..., "effects": [[class, fields], ...]}}`` or
  ``{"error": [class, message]}``.

Restructuring the core must not change a single decision: every recorded step, replayed, must give
the same outcome, compared through the JSON. The recorder (``tools/replay_corpus.py``) runs the
test suite, the example scenarios and simulations with :func:`itdose.core.step` wrapped; steps
whose outcome is not a function of the recorded data (for example steps taken while a test had
planted a broken function into the core) are dropped by a second replay on the unmodified code.

This module reads only the public API and the codec; the decoder for the library below is
lenient (fixed-size tuples), the device goes through the core's own :func:`from_json`.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import gzip
import hashlib
import json
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from itdose.core import commands as command_module
from itdose.core import from_json, to_json
from itdose.core.codec import encode
from itdose.core.errors import DosingError
from itdose.core.library import Library

__all__ = [
    "Corpus",
    "command_class",
    "decode_library",
    "library_key",
    "outcome_of",
    "read_corpus",
    "replay_step",
    "write_corpus",
]


@functools.cache
def _command_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    for name in dir(command_module):
        value = getattr(command_module, name)
        if (
            isinstance(value, type)
            and dataclasses.is_dataclass(value)
            and issubclass(value, command_module.Command)
        ):
            found[name] = value
    return found


def command_class(name: str) -> type:
    """The command class called ``name`` in :mod:`itdose.core.commands`."""
    return _command_classes()[name]


def _decode(tp: Any, data: Any) -> Any:
    """``data`` as a value of ``tp``; a value that does not fit is kept as it is, so that a step
    recorded with a malformed command (which the core refuses) replays with the same input."""
    try:
        return _strict(tp, data)
    except (TypeError, ValueError, KeyError, AttributeError):
        return data


def _strict(tp: Any, data: Any) -> Any:
    origin = typing.get_origin(tp)
    if tp is type(None):
        return None
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if data is None:
            return None
        if len(args) == 1:
            return _strict(args[0], data)
        for a in args:  # first member that decodes without error
            try:
                return _strict(a, data)
            except (TypeError, ValueError, KeyError, AttributeError):
                continue
        raise TypeError(f"no member of {tp} fits {data!r}")
    if origin is tuple:
        if not isinstance(data, list):
            raise TypeError("expected a list")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], item) for item in data)
        return tuple(_decode(a, item) for a, item in zip(args, data, strict=True))
    if origin in (frozenset, set):
        return frozenset(_decode(typing.get_args(tp)[0], item) for item in data)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    if tp in (int, str, bool):
        if not isinstance(data, tp):
            raise TypeError(f"expected {tp.__name__}, got {data!r}")
        return data
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise TypeError("expected an object")
        hints = typing.get_type_hints(tp)
        kwargs = {
            f.name: _decode(hints[f.name], data[f.name])
            for f in dataclasses.fields(tp)
            if f.init and f.name in data
        }
        return tp(**kwargs)
    raise TypeError(f"unsupported type {tp!r}")


def decode_library(data: Any) -> Library:
    """The library that ``encode(library)`` gave."""
    return typing.cast(Library, _strict(Library, data))


def library_key(library: Library) -> tuple[str, Any]:
    """A short stable key for the library and its encoding."""
    data = encode(library)
    text = json.dumps(data, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16], data


def outcome_of(run: typing.Callable[[], Any]) -> dict[str, Any]:
    """Run one step and describe its outcome as plain JSON data."""
    try:
        out = run()
    except DosingError as exc:
        return {"error": [type(exc).__name__, str(exc)]}
    return {
        "ok": {
            "state": json.loads(to_json(out.device)),
            "effects": [[type(e).__name__, encode(e)] for e in out.effects],
        }
    }


def replay_step(
    entry: dict[str, Any], libraries: dict[str, Library], step: typing.Callable[..., Any]
) -> dict[str, Any]:
    """The outcome of the recorded step ``entry`` on today's ``step``."""
    name, fields = entry["command"]
    classes = _command_classes()
    if name not in classes:
        return {"unreplayable": f"no command class {name}"}
    command = _decode(classes[name], fields)
    library = libraries[entry["library"]]
    state = json.dumps(entry["state"])
    return outcome_of(lambda: step(from_json(state), command, entry["now_s"], library))


@dataclasses.dataclass
class Corpus:
    """Recorded steps and the libraries they use."""

    libraries: dict[str, Any]
    steps: list[dict[str, Any]]
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """Deliberate decision changes since recording: each a reason and the steps re-recorded."""

    def decoded_libraries(self) -> dict[str, Library]:
        return {key: decode_library(data) for key, data in self.libraries.items()}


def write_corpus(path: Path, corpus: Corpus) -> None:
    """One JSON line of libraries, then one line per step, gzip-compressed."""
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as out:
        head = {"libraries": corpus.libraries, "history": corpus.history}
        out.write(json.dumps(head, sort_keys=True) + "\n")
        for s in corpus.steps:
            out.write(json.dumps(s, sort_keys=True) + "\n")


def _lines(path: Path) -> Iterator[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        yield from f


def read_corpus(path: Path) -> Corpus:
    lines = _lines(path)
    head = json.loads(next(lines))
    return Corpus(
        libraries=head["libraries"],
        steps=[json.loads(line) for line in lines],
        history=head.get("history", []),
    )
