"""The core's plain values (commands, effects, library entries, programs, schedules) are frozen
dataclasses made so by their base, ``core/value.py`` (REQ-CORE-003: values that cannot change
behind the core's back; docs/architecture.md#core-size)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import pytest

from itdose.core import commands as c
from itdose.core.effects import Effect, Warn
from itdose.core.library import Library
from itdose.core.program import Basal, FlexStep
from itdose.core.state import Role
from itdose.core.value import Value


def test_every_value_refuses_assignment_and_deletion(library: Library) -> None:
    """REQ-CORE-003"""
    values: list[object] = [
        c.Fill(Role.CLINICIAN, 1_000_000, 25_000_000),
        Warn("code", "text"),
        library.drug("morphine", "pain").max_daily,
        Basal.continuous(500_000),
    ]
    for value in values:
        assert isinstance(value, Value) and dataclasses.is_dataclass(value)
        first = dataclasses.fields(value)[0].name
        before = getattr(value, first)
        with pytest.raises(dataclasses.FrozenInstanceError, match=f"assign to field '{first}'"):
            setattr(value, first, before)
        with pytest.raises(dataclasses.FrozenInstanceError, match=f"delete field '{first}'"):
            delattr(value, first)
        assert getattr(value, first) == before


def test_fields_equality_and_hash_are_those_of_a_frozen_dataclass() -> None:
    step = FlexStep(3600, 250_000)
    assert [f.name for f in dataclasses.fields(step)] == ["start_s", "dose_ng_per_day"]
    assert step == FlexStep(3600, 250_000) and step != FlexStep(3600, 250_001)
    assert hash(step) == hash(FlexStep(3600, 250_000))
    assert dataclasses.replace(step, start_s=0) == FlexStep(0, 250_000)
    assert repr(step) == "FlexStep(start_s=3600, dose_ng_per_day=250000)"


@dataclasses.dataclass(frozen=True)
class _Decorated(c.Command):
    """A command defined outside the core the usual way, with the decorator."""

    name: ClassVar[str] = "record_screening"
    note: str = ""


class _Plain(Effect):
    """An effect defined outside the core without the decorator."""

    code: str


def test_a_subclass_outside_the_core_is_a_frozen_dataclass_with_or_without_the_decorator() -> None:
    decorated, plain = _Decorated(Role.CLINICIAN, "n"), _Plain("x")
    assert decorated == _Decorated(Role.CLINICIAN, "n") and plain == _Plain("x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        decorated.note = "m"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plain.code = "y"  # type: ignore[misc]
    assert (decorated.note, plain.code) == ("n", "x")
