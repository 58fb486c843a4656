"""Reading a TOML file a user gives (program, scenario or library file): the document, or one
:class:`TomlFileError` naming the field and the path, for a missing, special, huge, non-UTF-8 or
malformed file, never a hang or a traceback (REQ-EVID-003)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from itdose.adapters.paths import MAX_TEXT_FILE_BYTES
from itdose.adapters.toml_files import TomlFileError, parse_toml_text, read_toml_file
from itdose.core.errors import InvalidInput


def _error(path: str | Path, field: str = "file", **kwargs: int) -> TomlFileError:
    with pytest.raises(TomlFileError) as info:
        read_toml_file(path, field, **kwargs)
    return info.value


def test_a_valid_file_is_its_document(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text('pump = "prometra-ii-20"\n[basal]\ndose = "1 mg/day"\n', encoding="utf-8")
    assert read_toml_file(f) == {"pump": "prometra-ii-20", "basal": {"dose": "1 mg/day"}}
    assert read_toml_file(str(f), "--init") == read_toml_file(f)


def test_a_file_of_exactly_the_limit_is_read_and_one_byte_more_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_bytes(b"a = 1\n")  # 6 bytes
    assert read_toml_file(f, max_bytes=6) == {"a": 1}
    err = _error(f, max_bytes=5)
    assert (err.problem, err.field) == ("file", "file")
    assert err.message == "is 6 bytes, larger than the 5 bytes accepted"


def test_missing_file_names_field_and_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a short relative path: the one line shows it whole
    err = _error("absent.toml", "--init")
    assert isinstance(err, InvalidInput)
    assert (err.field, err.problem, err.message, err.value, err.path) == (
        "--init",
        "file",
        "no such file",
        "absent.toml",
        "absent.toml",
    )
    assert str(err) == "--init: no such file (value 'absent.toml')"


def test_a_folder_is_refused_as_a_folder(tmp_path: Path) -> None:
    err = _error(tmp_path)
    assert (err.problem, err.message) == ("file", "is a folder, not a file")


def test_a_device_is_refused_unread() -> None:
    """/dev/zero is endless: refused by its kind, never read."""
    err = _error("/dev/zero")
    assert (err.problem, err.message, err.path) == (
        "file",
        "is a device, not a regular file",
        "/dev/zero",
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    assert _error(fifo).message == "is a pipe, not a regular file"


def test_a_huge_file_is_refused_by_its_size(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    with big.open("wb") as f:
        f.truncate(MAX_TEXT_FILE_BYTES + 1)  # sparse: no disk used
    err = _error(big)
    assert err.problem == "file"
    assert err.message == (
        f"is {MAX_TEXT_FILE_BYTES + 1} bytes, larger than the {MAX_TEXT_FILE_BYTES} bytes accepted"
    )


def test_text_that_is_not_utf8(tmp_path: Path) -> None:
    f = tmp_path / "latin1.toml"
    f.write_bytes(b'name = "caf\xe9"\n')
    err = _error(f)
    assert (err.field, err.problem, err.message, err.value) == (
        "file",
        "encoding",
        "is not UTF-8 text",
        str(f),
    )


def test_malformed_toml_keeps_the_parser_s_position(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text('pump = "x"\n[basal\n', encoding="utf-8")
    err = _error(f, "scenario")
    assert (err.field, err.problem, err.value) == ("scenario", "toml", str(f))
    assert err.message.startswith("is not valid TOML: ")
    assert "line 2" in err.message
    assert "\n" not in str(err)


def test_parse_toml_text_names_the_given_path() -> None:
    assert parse_toml_text("a = 1", "x.toml") == {"a": 1}
    with pytest.raises(TomlFileError) as info:
        parse_toml_text("a = ", "drugs.toml")
    assert (info.value.field, info.value.problem, info.value.path) == ("file", "toml", "drugs.toml")
