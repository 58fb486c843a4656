"""Restructuring the core changes no decision (REQ-CORE-001, REQ-CORE-002).

``tests/data/replay_sample.jsonl.gz`` holds a stratified sample (every command class and outcome
kind) of a corpus of 53,702 core steps recorded before the core was restructured: the
test suite's directed and random sequences near the limits, the stateful machines, every example
scenario, the crash test and simulations, each written down as (state, command, time, library) ->
outcome (tools/replay_corpus.py; docs/architecture.md#decision-replay). Replayed through today's
core, every step must give the same outcome, state and effects compared through their JSON.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import replay_kit

from itdose.core import step

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "replay_sample.jsonl.gz"


@pytest.fixture(scope="module")
def corpus() -> replay_kit.Corpus:
    return replay_kit.read_corpus(SAMPLE)


def test_the_sample_covers_every_outcome_kind(corpus: replay_kit.Corpus) -> None:
    kinds = {("ok" if "ok" in s["outcome"] else s["outcome"]["error"][0]) for s in corpus.steps}
    assert {"ok", "InvalidInput", "RejectedCommand", "LimitViolation"} <= kinds
    commands = {s["command"][0] for s in corpus.steps}
    assert len(commands) >= 25
    assert len(corpus.steps) >= 2000


def test_every_recorded_step_replays_identically(corpus: replay_kit.Corpus) -> None:
    libraries = corpus.decoded_libraries()
    differ = []
    for i, entry in enumerate(corpus.steps):
        if replay_kit.replay_step(entry, libraries, step) != entry["outcome"]:
            differ.append(f"{i}: {entry['command'][0]} at {entry['now_s']} s ({entry['test']})")
    assert not differ, f"{len(differ)} steps decide differently, first: {differ[:5]}"


def test_a_changed_decision_is_noticed(corpus: replay_kit.Corpus) -> None:
    """The comparison has teeth: a step whose recorded outcome was altered by one nanolitre in
    one effect, or whose recorded error became an acceptance, no longer replays identically."""
    libraries = corpus.decoded_libraries()
    order = next(
        s
        for s in corpus.steps
        if "ok" in s["outcome"]
        and any(name == "DeliveryOrder" for name, _ in s["outcome"]["ok"]["effects"])
    )
    altered = copy.deepcopy(order)
    for name, fields in altered["outcome"]["ok"]["effects"]:
        if name == "DeliveryOrder":
            fields["volume_nl"] += 1
            break
    assert replay_kit.replay_step(order, libraries, step) == order["outcome"]
    assert replay_kit.replay_step(altered, libraries, step) != altered["outcome"]

    refused = next(s for s in corpus.steps if "error" in s["outcome"])
    accepted = copy.deepcopy(refused)
    accepted["outcome"] = {"ok": {"state": refused["state"], "effects": []}}
    assert replay_kit.replay_step(accepted, libraries, step) != accepted["outcome"]


def test_states_in_the_sample_are_the_core_documents() -> None:
    """Each recorded state is a document ``to_json`` writes (schema and device), not a summary."""
    with replay_kit.gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        next(f)
        first = json.loads(next(f))
    assert set(first["state"]) == {"schema", "device"}
    assert "phase" in first["state"]["device"]
