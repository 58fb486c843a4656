"""Controller restarts drawn in a cohort (``[restarts]``, docs/cohort-schema.md): the controller
process stops and starts again from its journal (``DurableController.open``: verified, resumed,
orders in flight reconciled with the drive), the drive running on; a share with the wall clock
set back while it was down and corrected later. The reference checks that no lockout is
reopened and no bolus count lost (granted boluses on the drive's clock) and that no order's
count falls below the drive's own count of it (``count_lost``).

Oracles: the same patients on 1 and 2 worker processes; the default cohort's draws (the restarts
come from their own random stream); seeded broken restarts (a journal that forgets the bolus
history, a reconciliation that counts the journaled volume instead of the drive's) that the
reference must catch.

Requirements: REQ-PERS-001 (history, lockouts and counts survive a restart), REQ-TIME-001 and
REQ-TIME-008 (a wall clock set back and corrected never reopens a lockout)."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest

from itdose.adapters import durable
from itdose.adapters.cohort_draw import draw_patient, load_cohort, to_toml
from itdose.adapters.cohort_run import run_cohort, run_patient
from itdose.adapters.journal import Journal
from itdose.adapters.scenario import parse_scenario, run_scenario
from itdose.core.errors import InvalidInput
from itdose.core.state import BolusHistory
from itdose.specs import load_library

ROOT = Path(__file__).resolve().parents[2] / "examples" / "cohorts"
DAY_S = 86_400
LIB = load_library()
COHORT = load_cohort(ROOT / "restarts.toml", LIB)


def _restart_items(item: dict[str, Any]) -> bool:
    return (
        item["action"] == "restart"
        or item.get("note") == "inside the lockout, after a restart"
        or item.get("reason") == "checked after a restart"
    )


def test_restarts_come_from_their_own_stream() -> None:
    """Adding ``[restarts]`` changes no other draw: without the restart items (the restart, the
    request inside the lockout after it, the clinician's check) each patient is the default
    cohort's; and restarts are drawn, some with the wall clock set back."""
    default = load_cohort(ROOT / "default.toml", LIB)
    drawn = backs = 0
    for i in range(12):
        a = draw_patient(default, i, 365 * DAY_S)
        b = draw_patient(COHORT, i, 365 * DAY_S)
        assert [x for x in b["timeline"] if not _restart_items(x)] == a["timeline"]
        restarts = [x for x in b["timeline"] if x["action"] == "restart"]
        drawn += len(restarts)
        backs += sum(1 for x in restarts if "clock_back" in x)
        assert {k: v for k, v in b.items() if k not in ("timeline", "title")} == {
            k: v for k, v in a.items() if k not in ("timeline", "title")
        }
    assert drawn >= 24 and 0 < backs < drawn


def test_a_cohort_with_restarts_is_the_same_whatever_the_worker_count() -> None:
    """Patients 0-5, 90 days: equal per-patient results on 1 and 2 processes; restarts ran,
    one at least with the controller's timeline behind the drive's clock; no hazard."""
    one = run_cohort(COHORT, 6, 90 * DAY_S, 1)
    two = run_cohort(COHORT, 6, 90 * DAY_S, 2)

    def strip(rs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "cpu_s"} for r in rs]

    assert strip(one) == strip(two)
    assert all(r["error"] is None for r in one)
    assert sum(r["restarts"] for r in one) >= 5
    assert any(r["restart_lag_s"] > 0 for r in one)
    assert not any(any(r["hazards"].values()) for r in one), [r["hazards"] for r in one]


def test_a_restart_that_forgets_the_bolus_history_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A seeded broken restart: the journal keeps the device without its bolus history, so a
    request inside the lockout after the restart is granted. Patient 10 (morphine, patient
    boluses), 120 days: clean as it is; with the defect, lockout hazards."""
    clean = run_patient(COHORT, 10, 120 * DAY_S)
    assert clean["error"] is None and clean["restarts"] >= 2
    assert clean["hazards"]["lockout"] == 0 and clean["hazards"]["bolus_count"] == 0
    real = Journal.create.__func__  # type: ignore[attr-defined]

    def forgetful(cls: type[Journal], path: Any, device: Any, **kw: Any) -> Journal:
        out: Journal = real(cls, path, dataclasses.replace(device, boluses=BolusHistory()), **kw)
        return out

    monkeypatch.setattr(Journal, "create", classmethod(forgetful))
    broken = run_patient(COHORT, 10, 120 * DAY_S)
    assert broken["error"] is None
    assert broken["hazards"]["lockout"] >= 1


def test_a_restart_that_loses_the_drive_count_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A seeded broken reconciliation: an order found in flight is closed with the count the
    journal had (what the drive moved since its last report, and while no controller ran, is
    lost). Patient 9, 120 days: clean as it is; with the defect, ``count_lost``."""
    clean = run_patient(COHORT, 9, 120 * DAY_S)
    assert clean["error"] is None and clean["restarts"] >= 2
    assert clean["hazards"]["count_lost"] == 0

    def journaled(self: Any, order: Any, status: Any, now: int, *_: Any) -> tuple[int, bool, str]:
        return order.reported_nl, True, "seeded defect: the journaled count"

    monkeypatch.setattr(durable.DurableController, "_delivered", journaled)
    broken = run_patient(COHORT, 9, 120 * DAY_S)
    assert broken["error"] is None
    assert broken["hazards"]["count_lost"] >= 1


def test_a_clock_set_back_while_down_holds_the_timeline() -> None:
    """A restart 10 min down with the wall clock set back by 1 h: the controller's timeline
    resumes where it stopped (never earlier), so it runs 600 s behind the drive's clock from
    then on, also after the wall clock is corrected; one 5 min down without a set-back: no lag
    more (timeline instants are on the drive's clock). The drawn scenario, written out and read
    back, runs the same."""
    doc = draw_patient(load_cohort(ROOT / "default.toml", LIB), 10, 30 * DAY_S)
    doc["timeline"] += [
        {"at": 12 * DAY_S + 40_000, "action": "restart", "downtime": "10 min",
         "clock_back": "1 h", "clock_fixed_after": "2 h"},
        {"at": 15 * DAY_S, "action": "restart", "downtime": "5 min"},
    ]  # fmt: skip
    doc["timeline"].sort(key=lambda x: x["at"])
    result = run_scenario(parse_scenario(doc, LIB), samples=False)
    assert result.restarts == [
        (12 * DAY_S + 40_000, 12 * DAY_S + 40_600, 600),
        (15 * DAY_S, 15 * DAY_S + 300, 600),
    ]
    again = run_scenario(parse_scenario(tomllib.loads(to_toml(doc)), LIB), samples=False)
    assert again.restarts == result.restarts and again.boluses == result.boluses


@pytest.mark.parametrize(
    ("field", "value"), [("downtime", "soon"), ("clock_back", "5 mL"), ("clock_fixed_after", 3)]
)
def test_a_bad_restart_field_is_named(field: str, value: object) -> None:
    doc = draw_patient(load_cohort(ROOT / "default.toml", LIB), 0, 10 * DAY_S)
    doc["timeline"].append({"at": 9 * DAY_S, "action": "restart", field: value})
    with pytest.raises(InvalidInput, match=rf"timeline\[\d+\]\.{field}"):
        parse_scenario(doc, LIB)
