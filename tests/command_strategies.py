"""Hypothesis strategies for every core command, with values near the library's limits and roles
drawn mostly right: shared by the property tests that drive the core with random command
sequences (tests/properties/test_two_engines.py, test_every_refusal_names_the_command.py)."""

from __future__ import annotations

import dataclasses

from hypothesis import strategies as st
from itdose_testkit import MORPHINE_PROGRAM, C, P, S

from itdose.core import TrialOutcome
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.program import Basal

clin = st.sampled_from([C, C, C, C, C, C, C, S, P])
serv = st.sampled_from([S, S, S, S, S, S, C, P])
reasons = st.sampled_from(["clinical review", "clinical review", "clinical review", ""])
alarm_kinds = st.sampled_from(list(AlarmKind))
volumes = st.sampled_from([0, 300_000, 5_000_000, 20_000_000, 20_000_001, 40_000_000])
concentrations = st.sampled_from([500_000, 10_000_000, 10_000_000, 12_000_000, 25_000_000])

programs = st.sampled_from(
    [
        MORPHINE_PROGRAM,
        dataclasses.replace(MORPHINE_PROGRAM, patient_bolus=None),
        dataclasses.replace(MORPHINE_PROGRAM, basal=Basal.continuous(30_000_000)),
    ]
)

_ALL: tuple[st.SearchStrategy[c.Command], ...] = (
    st.builds(c.RecordScreening, clin, st.booleans(), st.integers(0, 10)),
    st.builds(
        c.StartTrial,
        clin,
        st.sampled_from(["morphine", "morphine", "baclofen", "ziconotide", "hydromorphone"]),
        st.sampled_from(["pain", "pain", "spasticity-spinal"]),
        st.sampled_from(["plan", "plan", ""]),
    ),
    st.builds(
        c.RecordTrialDose, clin, st.sampled_from([50_000, 75_000, 100_000, 300_000, 300_000, 0])
    ),
    st.builds(c.RecordPainScore, clin, st.integers(0, 10)),
    st.builds(c.RecordScreeningResponse, clin, st.booleans()),
    st.builds(c.ConcludeTrial, clin, st.none() | st.sampled_from(list(TrialOutcome)), reasons),
    st.builds(
        c.Implant,
        clin,
        st.sampled_from(["prometra-ii-20", "prometra-ii-20", "synchromed-ii-40", "prometra-20"]),
        st.sampled_from(["prometra-catheter", "prometra-catheter", "medtronic-indura-1p-8709sc"]),
        st.sampled_from([0, 200, 200, 1099, 1100]),
    ),
    st.builds(c.Fill, clin, volumes, concentrations),
    st.builds(c.Prime, clin, st.sampled_from([0, 600, 600])),
    st.builds(c.SetProgram, clin, programs),
    st.builds(c.StartDosing, clin),
    st.builds(c.Tick, serv),
    st.builds(
        c.DriveReport, serv, st.integers(0, 4), st.sampled_from([0, 1000, 234_000]), st.booleans()
    ),
    st.builds(c.RequestBolus, st.sampled_from([P, P, P, C])),
    st.builds(c.ClinicianBolus, clin, st.sampled_from([0, 100_000, 50_000_000]), st.just(600)),
    st.builds(
        c.SilenceAlarm,
        st.sampled_from([P, C, S]),
        st.sampled_from([AlarmKind.MOTOR_STALL, AlarmKind.ERI, AlarmKind.LOW_RESERVOIR]),
        st.sampled_from([60, 600, 601]),
    ),
    st.builds(c.Suspend, clin, reasons, st.booleans()),
    st.builds(c.Resume, clin, reasons),
    st.builds(c.RaiseAlarm, serv, alarm_kinds),
    st.builds(
        c.ClearAlarm,
        clin,
        st.sampled_from([AlarmKind.MOTOR_STALL, AlarmKind.ERI, AlarmKind.OCCLUSION]),
        reasons,
    ),
    st.builds(c.BeginRefill, clin),
    st.builds(c.RecordWithdrawal, clin, volumes),
    st.builds(c.CompleteRefill, clin, volumes, concentrations),
    st.builds(c.AbortRefill, clin, reasons),
    st.builds(c.EmptyReservoir, clin, volumes),
    st.builds(c.BeginMri, clin),
    st.builds(c.EndMri, clin),
    st.builds(c.ConfirmPostMri, clin, reasons),
    st.builds(c.Explant, clin, reasons, st.booleans()),
)


BY_NAME: dict[str, st.SearchStrategy[c.Command]] = dict(zip(c.COMMANDS, _ALL, strict=True))
"""One strategy per command, in the order of :data:`itdose.core.commands.COMMANDS`."""
