"""Paths from the command line, checked once, here, before any work starts.

Every ``itdose`` command that reads a file or writes one passes the path through these functions
first, so a bad path costs one clear line and exit 2 at once, never a traceback after a long run
(a 40-minute ``verify --with-tests`` that then cannot write its report). Each raises
:class:`~itdose.core.errors.InvalidInput` naming the option and the path:

* :func:`check_input_file` / :func:`read_input_file`: the path must name an existing regular
  file (not a folder, a device such as ``/dev/zero``, a pipe or a socket), no larger than a limit,
  so that reading it can neither hang nor fill the memory.
* :func:`check_output_file`: the file may or may not exist; its folder must exist, and an existing
  path must be a regular file (not a folder or a device).
* :func:`check_output_dir`: a folder that exists, or can be created because its nearest existing
  ancestor is a folder.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from itdose.core.errors import InvalidInput

__all__ = [
    "MAX_TEXT_FILE_BYTES",
    "check_input_file",
    "check_output_dir",
    "check_output_file",
    "read_input_file",
]

MAX_TEXT_FILE_BYTES = 4 * 1024 * 1024
"""The largest program or scenario file read (4 MiB; the shipped ones are a few kB)."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None
    except OSError as exc:
        raise InvalidInput("path", f"cannot be examined: {exc.strerror}", value=str(path)) from None


def check_input_file(
    path: str | os.PathLike[str], field: str, max_bytes: int | None = MAX_TEXT_FILE_BYTES
) -> Path:
    """``path`` as a :class:`Path` if it names a readable regular file of at most ``max_bytes``
    (no limit if None); else :class:`InvalidInput` naming ``field``."""
    p = Path(path)
    if not str(path):
        raise InvalidInput(field, "an empty path")
    st = _stat(p)
    if st is None:
        raise InvalidInput(field, "no such file", value=str(p))
    if stat.S_ISDIR(st.st_mode):
        raise InvalidInput(field, "is a folder, not a file", value=str(p))
    if not stat.S_ISREG(st.st_mode):
        raise InvalidInput(field, f"is {_kind(st.st_mode)}, not a regular file", value=str(p))
    if max_bytes is not None and st.st_size > max_bytes:
        raise InvalidInput(
            field,
            f"is {st.st_size} bytes, larger than the {max_bytes} bytes accepted",
            value=str(p),
        )
    if not os.access(p, os.R_OK):
        raise InvalidInput(field, "cannot be read (permission denied)", value=str(p))
    return p


def read_input_file(
    path: str | os.PathLike[str], field: str, max_bytes: int = MAX_TEXT_FILE_BYTES
) -> bytes:
    """The bytes of a file :func:`check_input_file` accepts; reads at most ``max_bytes + 1``
    bytes, so a file that grows after the check is still refused."""
    p = check_input_file(path, field, max_bytes)
    try:
        with p.open("rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise InvalidInput(field, f"cannot be read: {exc.strerror}", value=str(p)) from None
    if len(data) > max_bytes:
        raise InvalidInput(field, f"is larger than the {max_bytes} bytes accepted", value=str(p))
    return data


def _nearest_existing(p: Path) -> tuple[Path, os.stat_result]:
    here = p.absolute()
    while True:
        st = _stat(here)
        if st is not None:
            return here, st
        if here.parent == here:  # pragma: no cover - the root always exists
            raise InvalidInput("path", "no existing folder above it", value=str(p))
        here = here.parent


def check_output_file(path: str | os.PathLike[str], field: str) -> Path:
    """``path`` as a :class:`Path` if a file can be written there (its folder exists and it is
    not a folder, device or pipe); else :class:`InvalidInput` naming ``field``."""
    p = Path(path)
    if not str(path):
        raise InvalidInput(field, "an empty path")
    st = _stat(p)
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise InvalidInput(field, "is a folder; give a file name", value=str(p))
        if not stat.S_ISREG(st.st_mode):
            raise InvalidInput(field, f"is {_kind(st.st_mode)}, not a regular file", value=str(p))
        if not os.access(p, os.W_OK):
            raise InvalidInput(field, "cannot be written (permission denied)", value=str(p))
        return p
    parent = p.absolute().parent
    pst = _stat(parent)
    if pst is None:
        raise InvalidInput(field, f"the folder {parent} does not exist", value=str(p))
    if not stat.S_ISDIR(pst.st_mode):
        raise InvalidInput(field, f"{parent} is not a folder", value=str(p))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidInput(field, f"the folder {parent} is not writable", value=str(p))
    return p


def check_output_dir(path: str | os.PathLike[str], field: str) -> Path:
    """``path`` as a :class:`Path` if it is a writable folder or can be created as one; else
    :class:`InvalidInput` naming ``field``."""
    p = Path(path)
    if not str(path):
        raise InvalidInput(field, "an empty path")
    here, st = _nearest_existing(p)
    if not stat.S_ISDIR(st.st_mode):
        what = "is" if here == p.absolute() else f"is inside {here}, which is"
        raise InvalidInput(field, f"{what} {_kind_or_file(st.st_mode)}, not a folder", value=str(p))
    if not os.access(here, os.W_OK | os.X_OK):
        raise InvalidInput(field, f"the folder {here} is not writable", value=str(p))
    return p


def _kind_or_file(mode: int) -> str:
    return "a file" if stat.S_ISREG(mode) else _kind(mode)
