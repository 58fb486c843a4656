"""itdose.specs: the shipped drug/pump library and its loaders (outside the pure core: does I/O).

:func:`load_library` reads the packaged ``drugs.toml`` and ``pumps.toml`` (cached: the shipped
files do not change while the process runs); :func:`load_library_from` reads an institution's own
files through the project's one TOML file reader (:mod:`itdose.adapters.toml_files`, shared with
program and scenario files). Both validate through
:func:`itdose.specs.library_schema.library_from_mapping`, so every defect, including malformed
TOML or an unreadable, special or oversized file, is a :class:`~itdose.core.errors.LibraryError`
naming the file.
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from typing import Any

from itdose.adapters.toml_files import TomlFileError, parse_toml_text, read_toml_file
from itdose.core.errors import LibraryError
from itdose.core.library import Library
from itdose.specs.library_schema import library_from_mapping

__all__ = ["DRUGS_FILE", "PUMPS_FILE", "load_library", "load_library_from"]

DRUGS_FILE = "drugs.toml"
PUMPS_FILE = "pumps.toml"
_WHOLE_FILE = "<file>"


def _library_error(exc: TomlFileError) -> LibraryError:
    return LibraryError(exc.path, _WHOLE_FILE, exc.problem, exc.message)


def _parse(text: str, file: str) -> dict[str, Any]:
    try:
        return parse_toml_text(text, file)
    except TomlFileError as exc:
        raise _library_error(exc) from None


def _read(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        return read_toml_file(path)
    except TomlFileError as exc:
        raise _library_error(exc) from None


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
