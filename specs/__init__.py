"""itdose.specs: the shipped drug/pump library and its loaders (outside the pure core: does I/O).

:func:`load_library` reads the packaged ``drugs.toml`` and ``pumps.toml`` (cached: the shipped
files do not change while the process runs); :func:`load_library_from` reads an institution's own
files. Both validate through :func:`itdose.core.library.library_from_mapping`, so every defect,
including malformed TOML or an unreadable file, is a :class:`~itdose.core.errors.LibraryError`
naming the file.
"""

from __future__ import annotations

import functools
import os
import tomllib
from importlib import resources
from typing import Any

from itdose.core.errors import LibraryError
from itdose.core.library import Library, library_from_mapping

__all__ = ["DRUGS_FILE", "PUMPS_FILE", "load_library", "load_library_from"]

DRUGS_FILE = "drugs.toml"
PUMPS_FILE = "pumps.toml"
_WHOLE_FILE = "<file>"


def _parse(text: str, file: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LibraryError(file, _WHOLE_FILE, "toml", f"is not valid TOML: {exc}") from None


def _read(path: str | os.PathLike[str]) -> dict[str, Any]:
    file = os.fspath(path)
    try:
        with open(file, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise LibraryError(file, _WHOLE_FILE, "file", f"cannot be read: {exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LibraryError(file, _WHOLE_FILE, "encoding", f"is not UTF-8: {exc}") from None
    return _parse(text, file)


@functools.cache
def load_library() -> Library:
    """The shipped library (``itdose.specs/drugs.toml`` and ``pumps.toml``), validated once."""
    package = resources.files(__name__)
    drugs = _parse(package.joinpath(DRUGS_FILE).read_text(encoding="utf-8"), DRUGS_FILE)
    pumps = _parse(package.joinpath(PUMPS_FILE).read_text(encoding="utf-8"), PUMPS_FILE)
    return library_from_mapping(drugs, pumps, drugs_file=DRUGS_FILE, pumps_file=PUMPS_FILE)


def load_library_from(
    drugs_path: str | os.PathLike[str], pumps_path: str | os.PathLike[str]
) -> Library:
    """An institution's library from two TOML files (same schema as the shipped files).

    Not cached: the files may be edited between calls. Errors name the path as given.
    """
    drugs = _read(drugs_path)
    pumps = _read(pumps_path)
    return library_from_mapping(
        drugs, pumps, drugs_file=os.fspath(drugs_path), pumps_file=os.fspath(pumps_path)
    )
