"""Every refusal names what the caller sent (REQ-CORE-002): on any reachable state, a command the
core refuses raises a :class:`DosingError` whose field is the command or one of its fields
(``command``, ``command.dose_ng``, ...), the time it came with (``now_s``), or a library entry
the command named (``drug``, ``indication``, ``pump``, ``catheter``). An error naming anything
else (``end_s``, ``amount_fg``: a value the core built itself) is an internal fault surfacing
as a refusal: a patient's bolus request that should have been answered with a decision, say.

The commands are those of tests/command_strategies.py; half the time a dosing step where the
table allows one (tick, patient or clinician bolus, a report of an order in flight with a count
near its last report or its volume or far beyond it), the gaps often none or one second.

Found missing when the bolus planner built a ledger piece ending before it started (a cut order
reported after its cut) and the request raised ``InvalidInput: end_s``: ``step`` turned it into
a refusal like any other, and only the two-engine test (which calls a handler directly) showed it
(tests/core/test_a_bolus_request_after_an_unexpected_drive_report.py holds both cases plainly).
"""

from __future__ import annotations

from command_strategies import BY_NAME
from hypothesis import event, given
from hypothesis import strategies as st
from itdose_testkit import PATHS, run

from itdose.core import DosingError, Phase, Role, step
from itdose.core import commands as c
from itdose.core.machine import allowed_triggers
from itdose.core.state import Order
from itdose.specs import load_library

LIB = load_library()
GAPS = st.integers(0, 2) | st.integers(0, 3600) | st.integers(0, 3 * 86400)
"""Seconds between commands: often none or one (a report right after a cut), up to three days."""
DOSING = ("tick", "request_bolus", "drive_report", "clinician_bolus")
"""Drawn half the time where the table allows them: the steps whose orders and reports meet."""
CALLER_FIELDS = frozenset({"now_s", "drug", "indication", "pump", "catheter"})


def reports_of(orders: tuple[Order, ...]) -> st.SearchStrategy[c.DriveReport]:
    """A report of one of the orders in flight: nothing, a little, its volume, one more, far more;
    final or not, now and then with a doubt."""

    def report(o: Order) -> st.SearchStrategy[c.DriveReport]:
        counts = [0, 1, o.reported_nl, o.reported_nl + 1, o.volume_nl, o.volume_nl + 1]
        return st.sampled_from([*counts, 10 * o.volume_nl + 1]).flatmap(
            lambda n: st.builds(
                c.DriveReport,
                st.just(Role.SERVICE),
                st.just(o.id),
                st.just(n),
                st.booleans(),
                st.just(False),
                st.sampled_from([0, 0, 0, n]),
            )
        )

    return st.sampled_from(orders).flatmap(report)


def names_the_command(error: DosingError) -> bool:
    return (
        error.field == "command"
        or error.field.startswith("command.")
        or (error.field in CALLER_FIELDS)
    )


def test_the_rule_tells_an_internal_field_from_a_command_field() -> None:
    assert names_the_command(DosingError("command.delivered_nl", "x"))
    assert names_the_command(DosingError("command", "x"))
    assert names_the_command(DosingError("indication", "x"))
    assert names_the_command(DosingError("now_s", "x"))
    assert not names_the_command(DosingError("end_s", "before the start"))
    assert not names_the_command(DosingError("amount_fg", "must not be negative"))
    assert not names_the_command(DosingError("commander", "x"))


@given(st.sampled_from(list(Phase)), st.data())
def test_every_refusal_names_the_command(start: Phase, data: st.DataObject) -> None:
    device = run(PATHS[start], LIB)
    for _ in range(data.draw(st.integers(1, 40), label="steps")):
        allowed = allowed_triggers(device.phase)
        dosing = [t for t in DOSING if t in allowed]
        if dosing and data.draw(st.booleans()):
            name = data.draw(st.sampled_from(dosing))
        elif allowed and data.draw(st.integers(0, 9)) < 8:
            name = data.draw(st.sampled_from(allowed))
        else:
            name = data.draw(st.sampled_from(sorted(BY_NAME)))
        command = data.draw(BY_NAME[name])
        if name == "drive_report" and device.orders and data.draw(st.integers(0, 9)) < 8:
            command = data.draw(reports_of(device.orders))
        now = (device.clock_s or 0) + data.draw(GAPS)
        try:
            device = step(device, command, now, LIB).device
        except DosingError as error:
            event(f"refused {name}: {type(error).__name__}")
            assert names_the_command(error), (command, device.phase, error)
