"""One way to read a TOML file given by a user: program files, scenario files, library files.

:func:`read_toml_file` checks the path first (:func:`~itdose.adapters.paths.read_input_file`: an
existing regular file, not a folder, device, pipe or socket, at most
:data:`~itdose.adapters.paths.MAX_TEXT_FILE_BYTES`), then decodes UTF-8 and parses TOML. Every
failure is one :class:`TomlFileError` (an :class:`~itdose.core.errors.InvalidInput`, so the
command line prints one line and exits 2), naming the field and the path, never a traceback.
:func:`parse_toml_text` is the same parse for text already in hand (the packaged library files).
"""

from __future__ import annotations

import os
import tomllib
from typing import Any, Literal

from itdose.adapters.paths import MAX_TEXT_FILE_BYTES, read_input_file
from itdose.core.errors import InvalidInput

__all__ = ["TomlFileError", "parse_toml_text", "read_toml_file"]

Problem = Literal["file", "encoding", "toml"]


class TomlFileError(InvalidInput):
    """A TOML file that cannot be used. ``problem`` says which stage failed: ``"file"`` (missing,
    a folder or special file, unreadable, too large), ``"encoding"`` (not UTF-8) or ``"toml"``
    (not valid TOML); ``path`` is the path as given."""

    def __init__(
        self, field: str, problem: Problem, message: str, path: str, value: object = None
    ) -> None:
        self.problem: Problem = problem
        self.path = path
        super().__init__(field, message, value=value)


def parse_toml_text(text: str, path: str, field: str = "file") -> dict[str, Any]:
    """``text`` parsed as TOML; :class:`TomlFileError` (``problem="toml"``) naming ``path``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlFileError(field, "toml", f"is not valid TOML: {exc}", path, path) from None


def read_toml_file(
    path: str | os.PathLike[str], field: str = "file", max_bytes: int = MAX_TEXT_FILE_BYTES
) -> dict[str, Any]:
    """The TOML document in the file at ``path``; :class:`TomlFileError` naming ``field`` and the
    path for a missing, special, unreadable or too large file, text that is not UTF-8, or
    malformed TOML."""
    shown = os.fspath(path)
    try:
        raw = read_input_file(path, field, max_bytes)
    except InvalidInput as exc:
        raise TomlFileError(field, "file", exc.message, shown, exc.value) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TomlFileError(field, "encoding", "is not UTF-8 text", shown, shown) from None
    return parse_toml_text(text, shown, field)
