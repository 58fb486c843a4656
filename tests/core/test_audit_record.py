"""The audit record of a step: its text is built only where it is read, and a deferred record
is the same value as one built with its text (REQ-CORE-001, REQ-CORE-003).

``step`` makes its :class:`~itdose.core.effects.Record` with ``Record.deferred``: the command is
kept and the one-line text (``describe``) is built on each read. Nothing a reader can observe may
differ from a record built with the text: the text, equality, hash, encoding, copies, pickling.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Callable

from itdose_testkit import C, S, reach

from itdose.core import Library, Phase, step
from itdose.core import commands as c
from itdose.core.codec import encode
from itdose.core.effects import Record
from itdose.core.handlers import describe


def _counting() -> tuple[list[object], Callable[[object], str]]:
    reads: list[object] = []

    def text(of: object) -> str:
        reads.append(of)
        return f"text of {of}"

    return reads, text


def test_the_text_is_built_only_when_read() -> None:
    reads, text = _counting()
    r = Record.deferred("tick", "service", 5, Phase.ACTIVE, Phase.ACTIVE, text, "x")
    assert reads == []
    assert (r.event, r.role, r.at_s, r.source, r.dest) == (
        "tick",
        "service",
        5,
        Phase.ACTIVE,
        Phase.ACTIVE,
    )
    assert reads == []
    assert r.detail == "text of x"
    assert r.detail == "text of x"
    assert reads == ["x", "x"]


def test_a_deferred_record_is_the_record_built_with_its_text() -> None:
    command = c.Suspend(C, "review")
    eager = Record("suspend", "clinician", 9, Phase.ACTIVE, Phase.SUSPENDED, describe(command))
    lazy = Record.deferred(
        "suspend", "clinician", 9, Phase.ACTIVE, Phase.SUSPENDED, describe, command
    )
    assert lazy.detail == "reason=review confirm_withdrawal_risk=False"
    assert lazy == eager and eager == lazy
    assert hash(lazy) == hash(eager)
    assert repr(lazy) == repr(eager)
    assert encode(lazy) == encode(eager)
    assert dataclasses.asdict(lazy) == dataclasses.asdict(eager)
    assert pickle.loads(pickle.dumps(lazy)) == eager
    assert copy.deepcopy(lazy) == eager
    assert dataclasses.replace(lazy, at_s=10) == dataclasses.replace(eager, at_s=10)
    other = Record.deferred(
        "suspend", "clinician", 9, Phase.ACTIVE, Phase.SUSPENDED, describe, c.Suspend(C, "other")
    )
    assert other != eager


def test_a_record_built_without_text_keeps_the_empty_default() -> None:
    assert Record("e", "service", 0, Phase.ACTIVE, Phase.ACTIVE).detail == ""
    assert dataclasses.fields(Record)[-1].default == ""


def test_a_step_records_the_text_of_its_command(library: Library) -> None:
    d = reach(Phase.ACTIVE, library)
    now = (d.clock_s or 0) + 60
    out = step(d, c.Tick(S, 7200), now, library)
    record = out.effects[0]
    assert isinstance(record, Record)
    assert record.detail == "max_segment_s=7200"
    assert encode(record)["detail"] == "max_segment_s=7200"
