"""The shipped library (specs/drugs.toml, specs/pumps.toml) against the dosing rules and the
clinical facts (docs/dosing-rules.md, docs/clinical-basis.md)."""

from __future__ import annotations

import re

import pytest

from itdose.core.dead_volume import catheter_volume_nl
from itdose.core.library import (
    CountLimit,
    Level,
    Library,
    Limit,
    MriPolicy,
    RangeLimit,
    Tag,
)
from itdose.specs import load_library

MG = 1_000_000  # ng
MCG = 1_000  # ng
ML = 1_000_000  # nl
DAY_S = 86_400

APPROVED = {"morphine", "ziconotide", "baclofen"}
UNAPPROVED = {"hydromorphone", "fentanyl", "sufentanil", "bupivacaine", "clonidine"}


@pytest.fixture(scope="module")
def lib() -> Library:
    return load_library()


def test_shipped_library_loads_with_every_drug_and_pump(lib: Library) -> None:
    """The library holds every drug, indication and pump model (REQ-LIB-001)."""
    assert lib.drugs_version and lib.pumps_version
    assert set(lib.drug_names()) == APPROVED | UNAPPROVED
    assert {p.id for p in lib.pumps} == {
        "synchromed-ii-20",
        "synchromed-ii-40",
        "prometra-20",
        "prometra-ii-20",
        "prometra-ii-40",
    }
    assert lib.indications("baclofen") == ("spasticity-spinal", "spasticity-cerebral")
    for drug in (APPROVED | UNAPPROVED) - {"baclofen"}:
        assert lib.indications(drug) == ("pain",)


def test_load_library_is_cached(lib: Library) -> None:
    assert load_library() is lib


# --- docs/dosing-rules.md spot checks -------------------------------------------------------------


def test_ziconotide_hard_daily_max_is_label_19_2_mcg(lib: Library) -> None:
    """Ziconotide hard daily maximum 19.2 mcg/day (REQ-LIB-005)."""
    entry = lib.drug("ziconotide", "pain")
    assert entry.max_daily.value == 19_200
    assert entry.max_daily.level is Level.HARD
    assert entry.max_daily.tag is Tag.V
    assert entry.soft_max_daily is None


@pytest.mark.parametrize("indication", ["spasticity-spinal", "spasticity-cerebral"])
def test_baclofen_2000_hard_1000_soft(lib: Library, indication: str) -> None:
    """Baclofen 2000 mcg/day hard, 1000 soft (REQ-LIB-005)."""
    entry = lib.drug("baclofen", indication)
    assert entry.max_daily.value == 2000 * MCG
    assert entry.max_daily.level is Level.HARD
    assert entry.soft_max_daily is not None
    assert entry.soft_max_daily.value == 1000 * MCG
    assert entry.soft_max_daily.level is Level.SOFT
    assert entry.max_daily.tag is Tag.D and entry.soft_max_daily.tag is Tag.D


def test_morphine_20_hard_15_soft_and_label_starting_ranges(lib: Library) -> None:
    """Morphine 20 mg/day hard, 15 soft, label starting ranges (REQ-LIB-005)."""
    entry = lib.drug("morphine", "pain")
    assert (entry.max_daily.value, entry.max_daily.level) == (20 * MG, Level.HARD)
    assert entry.soft_max_daily is not None
    assert (entry.soft_max_daily.value, entry.soft_max_daily.level) == (15 * MG, Level.SOFT)
    assert entry.soft_max_daily.tag is Tag.U
    naive = entry.starting_range("opioid-naive")
    tolerant = entry.starting_range("opioid-tolerant")
    assert naive is not None and tolerant is not None
    assert (naive.low, naive.high, naive.level) == (200_000, 1 * MG, Level.SOFT)
    assert (tolerant.low, tolerant.high, tolerant.level) == (1 * MG, 10 * MG, Level.SOFT)
    assert naive.id == "morphine.pain.starting_range.opioid-naive"


def test_non_opioid_starting_range_is_any(lib: Library) -> None:
    entry = lib.drug("ziconotide", "pain")
    any_range = entry.starting_range("opioid-naive")
    assert any_range is not None and any_range.id == "ziconotide.pain.starting_range.any"
    assert (any_range.low, any_range.high) == (500, 1_200)


def test_product_and_screening_concentrations(lib: Library) -> None:
    """Product strengths; baclofen 50 mcg/mL is a screening strength, not a product (REQ-LIB-007,
    REQ-LIB-008)."""
    morphine = lib.drug("morphine", "pain").product_concentrations.values_ng_per_ml
    assert morphine == (10 * MG, 25 * MG)
    prialt = lib.drug("ziconotide", "pain").product_concentrations.values_ng_per_ml
    assert prialt == (25 * MCG, 100 * MCG)
    for indication in lib.indications("baclofen"):
        entry = lib.drug("baclofen", indication)
        assert entry.product_concentrations.values_ng_per_ml == (500 * MCG, 1000 * MCG, 2000 * MCG)
        assert entry.screening_concentrations is not None
        assert entry.screening_concentrations.values_ng_per_ml == (50 * MCG,)
        assert not entry.is_product_concentration(50 * MCG)
        assert entry.is_product_concentration(500 * MCG)


def test_titration_rules(lib: Library) -> None:
    zic = lib.drug("ziconotide", "pain").titration
    assert zic is not None and zic.max_increase is not None and zic.max_increases is not None
    assert zic.max_increase.value == 2_400 and zic.max_increase.level is Level.HARD
    assert (zic.max_increases.count, zic.max_increases.window_s) == (3, 7 * DAY_S)
    for indication, bp in (("spasticity-spinal", 3000), ("spasticity-cerebral", 1500)):
        tit = lib.drug("baclofen", indication).titration
        assert tit is not None and tit.max_increase_percent is not None
        assert tit.max_increase_percent.value == bp
        assert tit.max_increase_percent.level is Level.HARD
        assert tit.max_increases is not None
        assert (tit.max_increases.count, tit.max_increases.window_s) == (1, DAY_S)


def test_baclofen_screening_and_withdrawal_flag(lib: Library) -> None:
    for indication in lib.indications("baclofen"):
        entry = lib.drug("baclofen", indication)
        assert entry.screening is not None
        assert entry.screening.doses_ng == (50 * MCG, 75 * MCG, 100 * MCG)
        assert entry.screening.min_interval_s == DAY_S
        assert entry.screening.start_dose_multiple == 2
        assert entry.withdrawal_risk.value is True
    for entry in lib.entries:
        if entry.drug != "baclofen":
            assert entry.withdrawal_risk.value is False
            assert entry.screening is None


def test_approval_flags_and_fda_warning(lib: Library) -> None:
    """Approval flags per drug; every unapproved drug carries the FDA 2018 warning (REQ-LIB-006,
    REQ-LIB-009)."""
    for entry in lib.entries:
        approved = entry.approved_for_intrathecal_pump.value
        assert approved == (entry.drug in APPROVED), entry.id
        if approved:
            assert entry.warning is None
            assert entry.product_concentrations.values_ng_per_ml
        else:
            assert entry.warning is not None
            assert "2018" in entry.warning.text and "FDA" in entry.warning.text
            assert entry.warning.tag is Tag.V
            assert entry.product_concentrations.values_ng_per_ml == ()


def test_drugs_without_verified_ceiling_use_pacc_as_hard_max_and_say_so(lib: Library) -> None:
    """A [U] hard maximum only where no [V] ceiling exists, and the entry says so (REQ-LIB-004)."""
    expected = {
        "hydromorphone": 10 * MG,
        "fentanyl": 1000 * MCG,
        "sufentanil": 500 * MCG,
        "bupivacaine": 15 * MG,
        "clonidine": 600 * MCG,
    }
    for drug, value in expected.items():
        limit = lib.drug(drug, "pain").max_daily
        assert (limit.value, limit.level, limit.tag) == (value, Level.HARD, Tag.U)
        assert "No [V] ceiling" in limit.note


def test_no_source_gives_max_bolus_or_min_lockout(lib: Library) -> None:
    for entry in lib.entries:
        assert entry.max_bolus is None and entry.min_lockout is None, entry.id


# --- every limit: source, tag, level, soft <= hard ---------------------------------------------

_SOURCE_TOKEN = re.compile(r"^(?:[1-9]|[1-6][0-9]|70|docs/dosing-rules\.md#[a-z0-9-]+|PACC 2017)$")


def _sources(text: str) -> list[str]:
    return [token.strip() for part in text.split(";") for token in part.split(",")]


def test_every_limit_has_a_known_source_and_a_tag(lib: Library) -> None:
    """Every value carries its source and confidence tag (REQ-LIB-001)."""
    seen = 0
    for limit in lib.limits():
        seen += 1
        assert isinstance(limit.tag, Tag)
        assert limit.source.strip(), limit.id
        for token in _sources(limit.source):
            assert _SOURCE_TOKEN.match(token), f"{limit.id}: unknown source {token!r}"
    assert seen >= 40


def test_every_pump_and_catheter_value_has_a_known_source(lib: Library) -> None:
    sourced: list[tuple[str, str]] = []
    for pump in lib.pumps:
        sourced += [(v.id, v.source) for v in pump.values()]
        sourced += [(pump.approved_drugs.id, pump.approved_drugs.source)]
        sourced += [
            (pump.patient_bolus.id, pump.patient_bolus.source),
            (pump.mri.id, pump.mri.source),
        ]
        sourced += [(r.id, r.source) for r in pump.concentration_ranges]
    for catheter in lib.catheters:
        sourced += [(catheter.compatible_pumps.id, catheter.compatible_pumps.source)]
        for value in (catheter.reference_length, catheter.volume_per_length):
            if value is not None:
                sourced.append((value.id, value.source))
    for value_id, source in sourced:
        for token in _sources(source):
            assert _SOURCE_TOKEN.match(token), f"{value_id}: unknown source {token!r}"


def test_limit_ids_are_unique_and_stable(lib: Library) -> None:
    ids = [limit.id for limit in lib.limits()]
    assert len(ids) == len(set(ids))
    assert "morphine.pain.max_daily" in ids
    assert lib.limit("baclofen.spasticity-cerebral.titration.max_increase_percent").level is (
        Level.HARD
    )
    for entry in lib.entries:
        for limit in entry.limits():
            assert limit.id.startswith(entry.id + ".")


def _hard_allowed(limit: Limit | RangeLimit | CountLimit) -> bool:
    if limit.tag in (Tag.V, Tag.D):
        return True
    return limit.tag is Tag.U and limit.id.endswith(".max_daily") and bool(limit.note)


def test_hard_limits_are_verified_or_design_values(lib: Library) -> None:
    """Only [V] (or design) values are hard; other [U] values are soft
    (REQ-LIB-004, REQ-LIB-002).
    """
    for limit in lib.limits():
        if limit.level is Level.HARD:
            assert _hard_allowed(limit), limit.id
    # and every [U] limit other than a daily maximum without a verified ceiling is soft
    for limit in lib.limits():
        if limit.tag is Tag.U and not limit.id.endswith(".max_daily"):
            assert limit.level is Level.SOFT, limit.id


def test_soft_never_above_hard(lib: Library) -> None:
    """A soft limit never sits above its hard limit (REQ-LIB-002)."""
    for entry in lib.entries:
        hard = entry.max_daily.value
        if entry.soft_max_daily is not None:
            assert entry.soft_max_daily.value <= hard, entry.id
        for _, start in entry.starting_ranges:
            assert start.low <= start.high <= hard, start.id
        if entry.trial_bolus_range is not None:
            assert entry.trial_bolus_range.low <= entry.trial_bolus_range.high <= hard


# --- pumps and catheters -----------------------------------------------------------------------


def test_reservoir_thresholds(lib: Library) -> None:
    """Low and empty reservoir thresholds per pump (REQ-RES-001)."""
    for pump_id in ("prometra-ii-20", "prometra-ii-40"):
        low = lib.pump(pump_id).low_reservoir_threshold
        assert (low.value, low.tag) == (3 * ML, Tag.V)
    for pump_id in ("synchromed-ii-20", "synchromed-ii-40"):
        low = lib.pump(pump_id).low_reservoir_threshold
        assert (low.value, low.tag) == (2 * ML, Tag.U)
    prometra_1 = lib.pump("prometra-20").low_reservoir_threshold
    assert (prometra_1.value, prometra_1.tag) == (3 * ML, Tag.U)
    assert prometra_1.note
    for pump in lib.pumps:
        assert pump.empty_threshold.value == 500_000
        assert pump.over_infusion_tolerance.value == 1450
        assert pump.empty_threshold.value < pump.low_reservoir_threshold.value
    assert lib.pump("synchromed-ii-20").reservoir_volume.value == 20 * ML
    assert lib.pump("prometra-ii-40").reservoir_volume.value == 40 * ML


def test_synchromed_min_rate_and_battery(lib: Library) -> None:
    for pump_id in ("synchromed-ii-20", "synchromed-ii-40"):
        pump = lib.pump(pump_id)
        assert pump.min_rate is not None and pump.min_rate.value == 48_000
        assert pump.eri_to_eos is not None and pump.eri_to_eos.value == 90 * DAY_S


def test_unknown_device_values_stay_absent(lib: Library) -> None:
    """Gaps in docs/clinical-basis.md stay gaps: adding a value needs a source, not a guess."""
    for pump in lib.pumps:
        if pump.id.startswith("prometra-ii"):
            # docs/dosing-rules.md#example-bridge "tubing taken as 0": a design value, tagged so.
            tv = pump.tubing_volume
            assert tv is not None and tv.value == 0 and tv.tag is Tag.D, pump.id
            assert "src 39" in tv.note and "replace" in tv.note
        else:
            assert pump.tubing_volume is None, pump.id
    for pump_id in ("prometra-20", "prometra-ii-20", "prometra-ii-40"):
        assert lib.pump(pump_id).min_rate is None
        assert lib.pump(pump_id).eri_to_eos is None
    for catheter in lib.catheters:
        if catheter.manufacturer == "Medtronic":
            assert catheter.volume_per_length is None, catheter.id


def test_drug_permissions_per_pump(lib: Library) -> None:
    """Per pump: approval, patient-bolus permission and concentration narrowing (REQ-LIB-009,
    REQ-LIB-007)."""
    for pump_id in ("prometra-ii-20", "prometra-ii-40"):
        pump = lib.pump(pump_id)
        assert pump.patient_bolus.names == ("morphine",)
        assert not pump.allows_patient_bolus("baclofen")
        assert not pump.is_approved_for("ziconotide")
        narrowing = pump.concentration_range("baclofen")
        assert narrowing is not None
        assert (narrowing.low_ng_per_ml, narrowing.high_ng_per_ml) == (500 * MCG, 2000 * MCG)
        assert not narrowing.contains(50 * MCG)
        assert pump.concentration_range("morphine") is None
    assert lib.pump("prometra-20").patient_bolus.names == ()
    synchromed = lib.pump("synchromed-ii-40")
    assert all(synchromed.is_approved_for(d) for d in APPROVED)
    assert not synchromed.is_approved_for("hydromorphone")


def test_mri_policies(lib: Library) -> None:
    assert lib.pump("synchromed-ii-20").mri_policy is MriPolicy.SUSPEND_VERIFY
    assert lib.pump("synchromed-ii-40").mri_policy is MriPolicy.SUSPEND_VERIFY
    assert lib.pump("prometra-ii-20").mri_policy is MriPolicy.EMPTY_AND_RESET
    assert lib.pump("prometra-ii-40").mri_policy is MriPolicy.EMPTY_AND_RESET
    assert lib.pump("prometra-20").mri_policy is MriPolicy.REFUSE


def test_prometra_catheter_data(lib: Library) -> None:
    """Prometra catheter data for the dead volume (REQ-PRIME-003)."""
    catheter = lib.catheter("prometra-catheter")
    assert catheter.reference_length is not None and catheter.volume_per_length is not None
    assert catheter.reference_length.value == 1100
    assert catheter.volume_per_length.value == 260_000  # 0.0026 mL/cm in nl/m
    assert catheter.volume_per_length.tag is Tag.V


# --- docs/dosing-rules.md#worked-examples, from library data --------------------------------------


def test_worked_bridge_example_catheter_volume(lib: Library) -> None:
    """Trimmed 20 cm -> 90 cm x 0.0026 mL/cm = 0.234 mL; at 0.1 mL/day: 2.34 days (56.16 h).

    Dead volume from catheter data (REQ-PRIME-003).
    """
    volume = catheter_volume_nl(lib.catheter("prometra-catheter"), 200)
    assert volume == 234_000
    bridge_s = volume * DAY_S // 100_000
    assert bridge_s == 202_176  # 56.16 h


def test_worked_alarm_example(lib: Library) -> None:
    """Prometra II filled to 20.0 mL at 0.5 mL/day: low alarm after 34 days, empty after 40."""
    pump = lib.pump("prometra-ii-20")
    fill = pump.reservoir_volume.value
    rate_nl_per_day = 500_000
    assert (fill - pump.low_reservoir_threshold.value) * DAY_S // rate_nl_per_day == 34 * DAY_S
    assert fill * DAY_S // rate_nl_per_day == 40 * DAY_S
