"""Shared setup of the cohort tests that look inside one patient's run: spies on the simulated
drive and the reference check (what the drive moved, the path's dead volume and the physical log
the reference judged), the drive commands read back from the drive's own trace, and a journal
seeded to forget part of the device at every controller restart.

The spies wrap the real functions (they record, then call through), so the run and its verdicts
are the cohort's own."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any

import pytest

from itdose.adapters import cohort_run
from itdose.adapters.journal import Journal

__all__ = ["RunSpy", "drive_commands", "forget_at_each_restart", "spy_on_run"]


@dataclasses.dataclass
class RunSpy:
    """What one ``run_patient`` call left behind: every simulated drive it built, and the dead
    volume and physical log it handed the reference (set once the run is judged)."""

    drives: list[cohort_run.RecordingDrive] = dataclasses.field(default_factory=list)
    dead_nl: Fraction | None = None
    log: list[Any] = dataclasses.field(default_factory=list)


def spy_on_run(monkeypatch: pytest.MonkeyPatch) -> RunSpy:
    """Record every ``RecordingDrive`` built and the arguments of ``check_patient`` for the runs
    made while ``monkeypatch`` is active."""
    spy = RunSpy()
    init, check = cohort_run.RecordingDrive.__init__, cohort_run.check_patient

    def spy_init(self: cohort_run.RecordingDrive, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        spy.drives.append(self)

    def spy_check(*args: Any, **kwargs: Any) -> Any:
        spy.dead_nl, spy.log = args[0], list(args[1])
        return check(*args, **kwargs)

    monkeypatch.setattr(cohort_run.RecordingDrive, "__init__", spy_init)
    monkeypatch.setattr(cohort_run, "check_patient", spy_check)
    return spy


def drive_commands(trace: Iterable[Any]) -> list[tuple[int, int, int]]:
    """``(start_s, rate_nl_per_h, delivered_nl)`` of every drive command in start order, from
    the drive's own trace lines ("started ID VOLnl@RATE", "ended ID REASON FAULT DONE/VOL");
    ``delivered_nl`` is -1 for a command the trace never ends (still running at the end)."""
    started: dict[str, tuple[int, int]] = {}
    done: dict[str, int] = {}
    order: list[str] = []
    for e in trace:
        if e.event == "started":
            cid, spec = e.detail.split()
            started[cid] = (e.t_s, int(spec.split("nl@")[1]))
            order.append(cid)
        elif e.event == "ended":
            parts = e.detail.split()
            done[parts[0]] = int(parts[-1].split("/")[0])
    return [(*started[cid], done.get(cid, -1)) for cid in order]


def forget_at_each_restart(monkeypatch: pytest.MonkeyPatch, defect: Callable[[Any], Any]) -> None:
    """A seeded broken restart: every ``Journal.create`` from now on (as the controller's
    restarts call it) stores ``defect(device)`` instead of the device it was handed."""
    real = Journal.create.__func__  # type: ignore[attr-defined]

    def forgetful(cls: type[Journal], path: Any, device: Any, **kw: Any) -> Journal:
        out: Journal = real(cls, path, defect(device), **kw)
        return out

    monkeypatch.setattr(Journal, "create", classmethod(forgetful))
