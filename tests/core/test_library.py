"""The library's value types and lookups (core/library.py): lookups return the right entries and
name the field, the value and the allowed ids when they fail; limits come in order, with their
texts and inclusive ranges (REQ-LIB-001, REQ-LIB-007, REQ-LIB-009, REQ-CORE-004)."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest

from itdose.core.errors import InvalidInput, LibraryError, RejectedCommand
from itdose.core.library import CountLimit, Library, RangeLimit
from itdose.specs import load_library
from itdose.specs.library_schema import library_from_mapping

Z = ("drugs", "ziconotide", "indications", "pain")
SRC = {"source": "x", "tag": "V"}


def _raw(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("itdose.specs").joinpath(name).read_text("utf-8"))


def _with(path: tuple[str, ...], value: object, drugs: dict[str, Any]) -> None:
    node = drugs
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _build(changes: list[tuple[tuple[str, ...], object]]) -> Library:
    """The shipped library with ``changes`` made to the drugs file."""
    drugs = copy.deepcopy(_raw("drugs.toml"))
    for path, value in changes:
        _with(path, value, drugs)
    return library_from_mapping(
        drugs, _raw("pumps.toml"), drugs_file="drugs.toml", pumps_file="pumps.toml"
    )


# --- lookups -----------------------------------------------------------------------------------


def test_lookups_return_the_right_entries() -> None:
    lib = load_library()
    assert lib.drug("baclofen", "spasticity-cerebral").indication == "spasticity-cerebral"
    assert lib.pump("prometra-20").id == "prometra-20"
    assert lib.catheter("prometra-catheter").manufacturer == "Flowonix"


def test_unknown_drug_is_invalid_input_naming_known_drugs() -> None:
    with pytest.raises(InvalidInput) as info:
        load_library().drug("heroin", "pain")
    assert info.value.field == "drug"
    assert info.value.limit is not None and "morphine" in info.value.limit


def test_unknown_indication_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as info:
        load_library().drug("morphine", "headache")
    assert info.value.field == "indication"


def test_known_drug_without_that_indication_is_rejected() -> None:
    with pytest.raises(RejectedCommand) as info:
        load_library().drug("baclofen", "pain")
    assert "baclofen" in info.value.message
    assert info.value.limit is not None and "spasticity-spinal" in info.value.limit


def test_a_library_error_names_the_file_entry_and_field_in_one_line() -> None:
    """A library file that does not validate is bad input (exit 2, no traceback): its error says
    the file, the entry and the field in one line, with the offending value (REQ-LIB-001)."""
    err = LibraryError("drugs.toml", "morphine/pain", "max_daily", "must be positive", value=-1)
    assert isinstance(err, InvalidInput)
    assert (err.file, err.entry, err.field) == (
        "drugs.toml",
        "morphine/pain",
        "drugs.toml: morphine/pain: max_daily",
    )
    assert (err.message, err.value) == ("must be positive", -1)
    assert str(err) == "drugs.toml: morphine/pain: max_daily: must be positive (value -1)"
    assert "\n" not in str(err)


@pytest.mark.parametrize("lookup", ["pump", "catheter", "limit"])
def test_unknown_ids_are_invalid_input(lookup: str) -> None:
    with pytest.raises(InvalidInput) as info:
        getattr(load_library(), lookup)("nope")
    assert info.value.field == lookup


# --- value types and lookups: the full error contract -------------------------------------------


def _error(fn: Callable[[], object], cls: type[Exception] = InvalidInput) -> Any:
    with pytest.raises(cls) as exc:
        fn()
    assert type(exc.value) is cls
    return exc.value


def _contract(err: Any) -> tuple[str, str, object, str | None]:
    return (err.field, err.message, err.value, err.limit)


DRUG_NAMES = (
    "morphine, hydromorphone, ziconotide, fentanyl, sufentanil, bupivacaine, clonidine, baclofen"
)


def test_library_lookups_and_their_errors() -> None:
    """REQ-LIB-001, REQ-CORE-004: lookups name the field, the value and the allowed ids."""
    lib = load_library()
    assert lib.version == "0.1.0/0.1.0"
    assert lib.drug_names() == tuple(DRUG_NAMES.split(", "))
    assert lib.indications("baclofen") == ("spasticity-spinal", "spasticity-cerebral")
    assert lib.indications("aspirin") == ()
    assert lib.drug("baclofen", "spasticity-cerebral").id == "baclofen.spasticity-cerebral"
    assert lib.drug("baclofen", "spasticity-spinal").id == "baclofen.spasticity-spinal"
    for bad in ("heroin", 5):
        assert _contract(_error(lambda bad=bad: lib.drug(bad, "pain"))) == (  # type: ignore[misc]
            "drug",
            "is not in the drug library",
            bad,
            "one of " + DRUG_NAMES,
        )
    for bad in ("headache", 5):
        assert _contract(_error(lambda bad=bad: lib.drug("morphine", bad))) == (  # type: ignore[misc]
            "indication",
            "is not a known indication",
            bad,
            "one of pain, spasticity-spinal, spasticity-cerebral",
        )
    assert _contract(_error(lambda: lib.drug("baclofen", "pain"), RejectedCommand)) == (
        "indication",
        "the drug library has no entry for baclofen in pain",
        "pain",
        "one of spasticity-spinal, spasticity-cerebral",
    )
    assert lib.pump("prometra-ii-40").id == "prometra-ii-40"
    assert _contract(_error(lambda: lib.pump("nope"))) == (
        "pump",
        "is not a pump model in the library",
        "nope",
        "one of synchromed-ii-20, synchromed-ii-40, prometra-20, prometra-ii-20, prometra-ii-40",
    )
    assert lib.catheter("medtronic-ascenda-8781").id == "medtronic-ascenda-8781"
    assert _contract(_error(lambda: lib.catheter("nope"))) == (
        "catheter",
        "is not a catheter model in the library",
        "nope",
        "one of prometra-catheter, medtronic-indura-1p-8709sc, medtronic-8731sc, "
        "medtronic-ascenda-8780, medtronic-ascenda-8781",
    )
    assert _contract(_error(lambda: lib.limit("nope"))) == (
        "limit",
        "is not a limit id in the library",
        "nope",
        None,
    )
    assert lib.limit("baclofen.spasticity-cerebral.titration.max_increases").id == (
        "baclofen.spasticity-cerebral.titration.max_increases"
    )
    assert lib.limit("morphine.pain.max_daily").value == 20_000_000
    ids = [x.id for x in lib.limits()]
    assert len(ids) == len(set(ids))
    assert ids[:6] == [
        "morphine.pain.max_concentration",
        "morphine.pain.max_daily",
        "morphine.pain.soft_max_daily",
        "morphine.pain.trial_bolus_range",
        "morphine.pain.starting_range.opioid-naive",
        "morphine.pain.starting_range.opioid-tolerant",
    ]
    assert ids[-2:] == [
        "baclofen.spasticity-cerebral.titration.max_increase_percent",
        "baclofen.spasticity-cerebral.titration.max_increases",
    ]


def test_entry_limits_in_order_with_optional_limits() -> None:
    """REQ-LIB-001: every limit of an entry, bolus and lockout included."""
    lib = _build(
        [
            ((*Z, "max_bolus"), {"value": "1 mcg", "level": "soft", **SRC}),
            ((*Z, "min_lockout"), {"value": "1 h", "level": "soft", **SRC}),
            ((*Z, "titration", "max_increase_percent"), {"value": "10 %", "level": "soft", **SRC}),
        ]
    )
    z = lib.drug("ziconotide", "pain")
    assert [x.id for x in z.limits()] == [
        "ziconotide.pain.max_concentration",
        "ziconotide.pain.max_daily",
        "ziconotide.pain.trial_bolus_range",
        "ziconotide.pain.max_bolus",
        "ziconotide.pain.min_lockout",
        "ziconotide.pain.starting_range.any",
        "ziconotide.pain.titration.max_increase",
        "ziconotide.pain.titration.max_increase_percent",
        "ziconotide.pain.titration.max_increases",
    ]
    assert z.max_bolus is not None and z.max_bolus.value == 1000
    assert z.min_lockout is not None and z.min_lockout.value == 3600
    assert z.titration is not None and z.titration.max_increase_percent is not None
    assert z.titration.max_increase_percent.value == 1000


def test_entry_and_pump_queries() -> None:
    """REQ-LIB-007, REQ-LIB-009: starting ranges, product strengths and pump flags from data."""
    lib = load_library()
    morphine = lib.drug("morphine", "pain")
    naive = morphine.starting_range("opioid-naive")
    assert naive is not None and naive.id == "morphine.pain.starting_range.opioid-naive"
    tolerant = morphine.starting_range("opioid-tolerant")
    assert tolerant is not None and tolerant.id.endswith("opioid-tolerant")
    assert morphine.starting_range("any") is None
    z = lib.drug("ziconotide", "pain")
    anyr = z.starting_range("opioid-naive")
    assert anyr is not None and anyr.id == "ziconotide.pain.starting_range.any"
    assert morphine.is_product_concentration(10_000_000)
    assert morphine.is_product_concentration(25_000_000)
    assert not morphine.is_product_concentration(20_000_000)
    assert not lib.drug("baclofen", "spasticity-spinal").is_product_concentration(50_000)
    pump = lib.pump("prometra-ii-20")
    assert pump.is_approved_for("baclofen")
    assert not pump.is_approved_for("ziconotide")
    assert pump.allows_patient_bolus("morphine")
    assert not pump.allows_patient_bolus("baclofen")
    narrowing = pump.concentration_range("baclofen")
    assert narrowing is not None and narrowing.drug == "baclofen"
    assert pump.concentration_range("morphine") is None
    assert narrowing.contains(500_000)
    assert narrowing.contains(2_000_000)
    assert not narrowing.contains(499_999)
    assert not narrowing.contains(2_000_001)
    assert [v.id for v in lib.pump("prometra-20").values()] == [
        "prometra-20.reservoir_volume",
        "prometra-20.low_reservoir_threshold",
        "prometra-20.empty_threshold",
        "prometra-20.over_infusion_tolerance",
        "prometra-20.under_infusion_tolerance",
    ]
    assert [v.id.split(".")[1] for v in lib.pump("synchromed-ii-20").values()] == [
        "reservoir_volume",
        "min_rate",
        "low_reservoir_threshold",
        "empty_threshold",
        "over_infusion_tolerance",
        "under_infusion_tolerance",
        "eri_to_eos",
    ]
    assert [v.id.split(".")[1] for v in pump.values()][3] == "tubing_volume"


def test_texts_and_range_bounds() -> None:
    """REQ-LIB-001: limits shown in display units; ranges are inclusive."""
    lib = load_library()
    assert lib.limit("morphine.pain.max_daily").text() == "20 mg/day"
    naive = lib.limit("morphine.pain.starting_range.opioid-naive")
    assert isinstance(naive, RangeLimit)
    assert naive.text() == "200 mcg/day - 1 mg/day"
    assert naive.contains(200_000)
    assert naive.contains(1_000_000)
    assert not naive.contains(199_999)
    assert not naive.contains(1_000_001)
    count = lib.limit("ziconotide.pain.titration.max_increases")
    assert isinstance(count, CountLimit)
    assert count.text() == "3 per 7 d"
    assert lib.pump("synchromed-ii-20").reservoir_volume.text() == "20 mL"
