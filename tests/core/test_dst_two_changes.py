"""A local day with two UTC-offset changes (REQ-TIME-006): the day ends at the local midnight
under the offset in force at that moment, not under the first change's offset."""

from __future__ import annotations

from itdose.core import Library
from itdose.core.program import (
    Basal,
    FlexClock,
    FlexStep,
    Program,
    ProgramContext,
    UtcOffset,
    check_program,
)

HOUR = 3600
MCG = 1000
MG = 1_000_000
SPRING = 1_711_846_800  # 2024-03-31T01:00:00Z: Europe/Berlin CET -> CEST
SPRING_DAY = SPRING - 2 * HOUR  # 2024-03-30T23:00:00Z, local midnight CET
A = 240 * MCG  # ng/day from local 00:00 to 08:00
B = 480 * MCG  # ng/day from local 08:00 to 24:00


def _wall(offsets: tuple[UtcOffset, ...]) -> Program:
    basal = Basal(
        steps=(FlexStep(0, A), FlexStep(8 * HOUR, B)),
        clock=FlexClock.WALL,
        timezone="Europe/Berlin",
        utc_offsets=offsets,
    )
    return Program("morphine", "pain", 10 * MG, basal, None, "opioid-naive")


def _day(offsets: tuple[UtcOffset, ...], library: Library) -> tuple[int | None, int | None]:
    ctx = ProgramContext(utc_now_s=SPRING - 1)
    report = check_program(_wall(offsets), library, "prometra-ii-20", ctx)
    return report.dst_day_utc_s, report.dst_day_total_ng


def test_a_second_change_back_inside_the_day_keeps_the_day_24_hours(library: Library) -> None:
    """CET -> CEST at 01:00 UTC, then back to CET at 07:00 UTC the same day: the local day runs
    from 23:00 UTC to 23:00 UTC (24 h). Local 00:00..03:00 (2 h of A, the clock jumps at 02:00),
    03:00..09:00 CEST (5 h A to 08:00, 1 h B), back to 08:00 CET at 07:00 UTC, then 16 h B:
    7 h of A and 17 h of B = (7A + 17B) / 24 = 410 mcg."""
    offsets = (UtcOffset(0, HOUR), UtcOffset(SPRING, 2 * HOUR), UtcOffset(SPRING + 6 * HOUR, HOUR))
    assert _day(offsets, library) == (SPRING_DAY, -(-(7 * A + 17 * B) // 24))


def test_a_second_change_jumping_past_midnight_ends_the_day_there(library: Library) -> None:
    """CET -> CEST at 01:00 UTC, then a jump to UTC+4 at 21:30 UTC (local 23:30 CEST becomes
    01:30 the next day): the local day ends at 21:30 UTC, 22.5 h after it began: 7 h of A and
    15.5 h of B."""
    jump = SPRING + 20 * HOUR + 1800
    offsets = (UtcOffset(0, HOUR), UtcOffset(SPRING, 2 * HOUR), UtcOffset(jump, 4 * HOUR))
    assert _day(offsets, library) == (SPRING_DAY, -(-(7 * A * 2 + 31 * B) // 48))


def test_one_change_gives_the_23_hour_spring_day(library: Library) -> None:
    """The ordinary spring day: 7 h of A and 16 h of B (REQ-TIME-006)."""
    offsets = (UtcOffset(0, HOUR), UtcOffset(SPRING, 2 * HOUR))
    assert _day(offsets, library) == (SPRING_DAY, -(-(7 * A + 16 * B) // 24))


def test_a_change_exactly_at_the_day_end_belongs_to_the_next_day(library: Library) -> None:
    """REQ-TIME-006: the spring day ends at 22:00 UTC (local midnight, CEST); a change back to
    UTC+1 exactly then starts the next day and does not stretch this one: 23 h, 7 h of A and
    16 h of B."""
    end = SPRING + 21 * HOUR
    offsets = (UtcOffset(0, HOUR), UtcOffset(SPRING, 2 * HOUR), UtcOffset(end, HOUR))
    assert _day(offsets, library) == (SPRING_DAY, -(-(7 * A + 16 * B) // 24))
