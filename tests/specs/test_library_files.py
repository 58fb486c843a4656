"""The library files: the shipped files build the library; each malformed library (the shipped
files as mappings, exactly one thing broken) is rejected with a LibraryError naming the file, the
entry and the field; the file loaders name the file for a missing, non-UTF-8 or malformed file
(REQ-LIB-010). The schema lives in specs/library_schema.py, outside the core."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from itdose.core.errors import InvalidInput, LibraryError
from itdose.core.library import Library
from itdose.specs import load_library, load_library_from
from itdose.specs.library_schema import library_from_mapping

DRUGS = "drugs.toml"
PUMPS = "pumps.toml"
TOP = "<top level>"
MORPHINE = "drugs.morphine.indications.pain"
HYDROMORPHONE = "drugs.hydromorphone.indications.pain"
ZICONOTIDE = "drugs.ziconotide.indications.pain"
BACLOFEN_SPINAL = "drugs.baclofen.indications.spasticity-spinal"
PROMETRA_II = "pumps.prometra-ii-20"
SYNCHROMED = "pumps.synchromed-ii-20"


def _shipped_text(name: str) -> str:
    return resources.files("itdose.specs").joinpath(name).read_text(encoding="utf-8")


_DRUGS_RAW = tomllib.loads(_shipped_text(DRUGS))
_PUMPS_RAW = tomllib.loads(_shipped_text(PUMPS))


def _build(drugs: dict[str, Any], pumps: dict[str, Any]) -> Library:
    return library_from_mapping(drugs, pumps, drugs_file=DRUGS, pumps_file=PUMPS)


def _entry(d: dict[str, Any], drug: str, indication: str) -> dict[str, Any]:
    result: dict[str, Any] = d["drugs"][drug]["indications"][indication]
    return result


def test_unmodified_mappings_build_the_same_library_as_the_loader() -> None:
    assert _build(copy.deepcopy(_DRUGS_RAW), copy.deepcopy(_PUMPS_RAW)) == load_library()


# --- malformed drug libraries ------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: tuple[str, ...], value: object) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        node = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _delete(path: tuple[str, ...]) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        node = d
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


M = ("drugs", "morphine", "indications", "pain")
H = ("drugs", "hydromorphone", "indications", "pain")
Z = ("drugs", "ziconotide", "indications", "pain")
B = ("drugs", "baclofen", "indications", "spasticity-spinal")

DRUG_DEFECTS: list[tuple[str, Mutation, str, str]] = [
    # (case id, mutation, entry, field)
    ("unknown key", _set((*M, "max_dialy"), {}), MORPHINE, "max_dialy"),
    ("missing key", _delete((*M, "max_daily")), MORPHINE, "max_daily"),
    ("missing nested key", _delete((*M, "max_daily", "value")), MORPHINE, "max_daily.value"),
    ("unknown nested key", _set((*M, "max_daily", "levle"), "hard"), MORPHINE, "max_daily.levle"),
    ("value not a string", _set((*M, "max_daily", "value"), 20), MORPHINE, "max_daily.value"),
    ("value a float", _set((*M, "max_daily", "value"), 20.0), MORPHINE, "max_daily.value"),
    ("limit not a table", _set((*M, "max_daily"), "20 mg/day"), MORPHINE, "max_daily"),
    ("bool not bool", _set(("drugs", "morphine", "opioid"), "yes"), "drugs.morphine", "opioid"),
    ("name empty", _set(("drugs", "morphine", "name"), " "), "drugs.morphine", "name"),
    (
        "wrong dimension",
        _set((*M, "max_daily", "value"), "20 mg/mL"),
        MORPHINE,
        "max_daily.value",
    ),
    ("unknown unit", _set((*M, "max_daily", "value"), "20 mgs/day"), MORPHINE, "max_daily.value"),
    (
        "inexact value",
        _set((*M, "max_daily", "value"), "0.0000001 mg/day"),
        MORPHINE,
        "max_daily.value",
    ),
    ("zero daily max", _set((*M, "max_daily", "value"), "0 mg/day"), MORPHINE, "max_daily.value"),
    (
        "level not hard/soft",
        _set((*M, "soft_max_daily", "level"), "medium"),
        MORPHINE,
        "soft_max_daily.level",
    ),
    ("daily max soft", _set((*M, "max_daily", "level"), "soft"), MORPHINE, "max_daily.level"),
    (
        "soft max marked hard",
        _set((*M, "soft_max_daily", "level"), "hard"),
        MORPHINE,
        "soft_max_daily.level",
    ),
    (
        "soft above hard",
        _set((*M, "soft_max_daily", "value"), "25 mg/day"),
        MORPHINE,
        "soft_max_daily.value",
    ),
    (
        "range min above max",
        _set((*M, "starting_range", "opioid-naive", "min"), "2 mg/day"),
        MORPHINE,
        "starting_range.opioid-naive.min",
    ),
    (
        "trial range min above max",
        _set((*M, "trial_bolus_range", "min"), "1 mg"),
        MORPHINE,
        "trial_bolus_range.min",
    ),
    (
        "starting range above hard max",
        _set((*M, "starting_range", "opioid-tolerant", "max"), "30 mg/day"),
        MORPHINE,
        "starting_range.opioid-tolerant.max",
    ),
    (
        "unknown opioid status",
        _set((*M, "starting_range", "naive"), {}),
        MORPHINE,
        "starting_range.naive",
    ),
    (
        "non-opioid with opioid status",
        _set((*Z, "starting_range"), {"opioid-naive": _DRUGS_RAW["drugs"]["ziconotide"][
            "indications"]["pain"]["starting_range"]["any"]}),
        ZICONOTIDE,
        "starting_range.opioid-naive",
    ),
    ("tag not V/S/U/D", _set((*M, "max_daily", "tag"), "X"), MORPHINE, "max_daily.tag"),
    ("tag lower case", _set((*M, "max_daily", "tag"), "v"), MORPHINE, "max_daily.tag"),
    ("missing source", _delete((*M, "max_daily", "source")), MORPHINE, "max_daily.source"),
    ("empty source", _set((*M, "max_daily", "source"), ""), MORPHINE, "max_daily.source"),
    ("missing tag", _delete((*M, "max_daily", "tag")), MORPHINE, "max_daily.tag"),
    (
        "secondary value as hard limit",
        _set((*M, "max_daily", "tag"), "S"),
        MORPHINE,
        "max_daily.level",
    ),
    (
        "unverified hard max without note",
        _delete((*H, "max_daily", "note")),
        HYDROMORPHONE,
        "max_daily.note",
    ),
    (
        "unverified value hard outside daily max",
        _set((*M, "max_concentration", "level"), "hard"),
        MORPHINE,
        "max_concentration.level",
    ),
    ("unapproved without warning", _delete((*H, "warning")), HYDROMORPHONE, "warning"),
    ("approved with warning", _set((*M, "warning"), "fda-2018"), MORPHINE, "warning"),
    ("dangling warning", _set((*H, "warning"), "fda-2019"), HYDROMORPHONE, "warning"),
    (
        "approved without product",
        _set((*M, "product_concentrations", "values"), []),
        MORPHINE,
        "product_concentrations.values",
    ),
    (
        "duplicate product",
        _set((*M, "product_concentrations", "values"), ["10 mg/mL", "10 mg/mL"]),
        MORPHINE,
        "product_concentrations.values[1]",
    ),
    (
        "product not a concentration",
        _set((*M, "product_concentrations", "values"), ["10 mg"]),
        MORPHINE,
        "product_concentrations.values[0]",
    ),
    (
        "screening strength reused as product",
        _set((*B, "screening_concentrations", "values"), ["500 mcg/mL"]),
        BACLOFEN_SPINAL,
        "screening_concentrations.values",
    ),
    (
        "product above hard max concentration",
        _set(
            (*Z, "max_concentration"),
            {"value": "50 mcg/mL", "level": "hard", "source": "x", "tag": "V"},
        ),
        ZICONOTIDE,
        "product_concentrations.values",
    ),
    (
        "titration count zero",
        _set((*Z, "titration", "max_increases", "count"), 0),
        ZICONOTIDE,
        "titration.max_increases.count",
    ),
    (
        "titration count bool",
        _set((*Z, "titration", "max_increases", "count"), True),
        ZICONOTIDE,
        "titration.max_increases.count",
    ),
    (
        "titration window bad unit",
        _set((*Z, "titration", "max_increases", "window"), "7 weeks"),
        ZICONOTIDE,
        "titration.max_increases.window",
    ),
    (
        "titration step above hard max",
        _set((*Z, "titration", "max_increase", "value"), "20 mcg/day"),
        ZICONOTIDE,
        "titration.max_increase.value",
    ),
    (
        "percent over 100",
        _set((*B, "titration", "max_increase_percent", "value"), "150 %"),
        BACLOFEN_SPINAL,
        "titration.max_increase_percent.value",
    ),
    (
        "screening doses not increasing",
        _set((*B, "screening", "doses"), ["50 mcg", "50 mcg"]),
        BACLOFEN_SPINAL,
        "screening.doses[1]",
    ),
    (
        "screening interval wrong dimension",
        _set((*B, "screening", "min_interval"), "24 mL"),
        BACLOFEN_SPINAL,
        "screening.min_interval",
    ),
    (
        "unknown indication",
        _set(("drugs", "baclofen", "indications", "headache"), {}),
        "drugs.baclofen",
        "indications.headache",
    ),
    (
        "withdrawal flag not bool",
        _set(("drugs", "baclofen", "withdrawal_risk", "value"), "true"),
        "drugs.baclofen",
        "withdrawal_risk.value",
    ),
    ("missing version", _delete(("version",)), TOP, "version"),
    ("version not a string", _set(("version",), 1), TOP, "version"),
    ("unknown top-level key", _set(("drug",), {}), TOP, "drug"),
    ("warning without source", _delete(("warnings", "fda-2018", "source")),
     "warnings.fda-2018", "source"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "entry", "field"),
    [pytest.param(m, e, f, id=case) for case, m, e, f in DRUG_DEFECTS],
)
def test_malformed_drug_library_names_file_entry_field(
    mutate: Mutation, entry: str, field: str
) -> None:
    """A malformed drug library is rejected naming file, entry and field (REQ-LIB-010)."""
    drugs = copy.deepcopy(_DRUGS_RAW)
    mutate(drugs)
    with pytest.raises(LibraryError) as info:
        _build(drugs, copy.deepcopy(_PUMPS_RAW))
    err = info.value
    assert (err.file, err.entry) == (DRUGS, entry)
    assert err.field == f"{DRUGS}: {entry}: {field}"
    assert DRUGS in str(err) and entry in str(err) and field in str(err)


def test_unknown_key_suggests_the_close_match() -> None:
    drugs = copy.deepcopy(_DRUGS_RAW)
    _set((*M, "max_dialy"), {})(drugs)
    with pytest.raises(LibraryError, match="did you mean 'max_daily'"):
        _build(drugs, copy.deepcopy(_PUMPS_RAW))


def test_bad_unit_error_keeps_the_offending_text() -> None:
    drugs = copy.deepcopy(_DRUGS_RAW)
    _set((*M, "max_daily", "value"), "20 mg/mL")(drugs)
    with pytest.raises(LibraryError) as info:
        _build(drugs, copy.deepcopy(_PUMPS_RAW))
    assert info.value.value == "20 mg/mL"
    assert "dose rate" in info.value.message


# --- malformed pump libraries ------------------------------------------------------------------

P = ("pumps", "prometra-ii-20")
S = ("pumps", "synchromed-ii-20")
CATH = ("catheters", "prometra-catheter")

PUMP_DEFECTS: list[tuple[str, Mutation, str, str]] = [
    ("missing reservoir", _delete((*P, "reservoir_volume")), PROMETRA_II, "reservoir_volume"),
    ("unknown key", _set((*P, "tubing_volumes"), {}), PROMETRA_II, "tubing_volumes"),
    (
        "reservoir wrong dimension",
        _set((*P, "reservoir_volume", "value"), "20 mg"),
        PROMETRA_II,
        "reservoir_volume.value",
    ),
    (
        "low threshold not below reservoir",
        _set((*P, "low_reservoir_threshold", "value"), "20 mL"),
        PROMETRA_II,
        "low_reservoir_threshold.value",
    ),
    (
        "empty not below low",
        _set((*P, "empty_threshold", "value"), "3 mL"),
        PROMETRA_II,
        "empty_threshold.value",
    ),
    (
        "min rate zero",
        _set((*S, "min_rate", "value"), "0 mL/day"),
        SYNCHROMED,
        "min_rate.value",
    ),
    (
        "tolerance over 100 %",
        _set((*S, "over_infusion_tolerance", "value"), "145 %"),
        SYNCHROMED,
        "over_infusion_tolerance.value",
    ),
    ("tolerance tag bad", _set((*S, "over_infusion_tolerance", "tag"), "verified"), SYNCHROMED,
     "over_infusion_tolerance.tag"),
    ("tolerance no source", _delete((*S, "over_infusion_tolerance", "source")), SYNCHROMED,
     "over_infusion_tolerance.source"),
    (
        "unknown approved drug",
        _set((*P, "approved_drugs", "drugs"), ["morphine", "heroin"]),
        PROMETRA_II,
        "approved_drugs.drugs",
    ),
    (
        "patient bolus list not strings",
        _set((*P, "patient_bolus", "drugs"), "morphine"),
        PROMETRA_II,
        "patient_bolus.drugs",
    ),
    (
        "duplicate drug",
        _set((*P, "patient_bolus", "drugs"), ["morphine", "morphine"]),
        PROMETRA_II,
        "patient_bolus.drugs",
    ),
    (
        "mri policy unknown",
        _set((*P, "mri_policy", "value"), "pray"),
        PROMETRA_II,
        "mri_policy.value",
    ),
    (
        "narrowing min above max",
        _set((*P, "concentration_ranges", "baclofen", "min"), "3000 mcg/mL"),
        PROMETRA_II,
        "concentration_ranges.baclofen.min",
    ),
    (
        "narrowing admits no product",
        _set((*P, "concentration_ranges", "baclofen"), {
            "min": "600 mcg/mL", "max": "900 mcg/mL", "source": "x", "tag": "V"}),
        PROMETRA_II,
        "concentration_ranges.baclofen",
    ),
    (
        "narrowing for unknown drug",
        _set((*P, "concentration_ranges", "heroin"), {}),
        PROMETRA_II,
        "concentration_ranges.heroin",
    ),
    (
        "catheter for unknown pump",
        _set((*CATH, "compatible_pumps", "pumps"), ["prometra-iii-20"]),
        "catheters.prometra-catheter",
        "compatible_pumps.pumps",
    ),
    (
        "catheter volume per length wrong unit",
        _set((*CATH, "volume_per_length", "value"), "0.0026 mL"),
        "catheters.prometra-catheter",
        "volume_per_length.value",
    ),
    (
        "catheter length zero",
        _set((*CATH, "reference_length", "value"), "0 cm"),
        "catheters.prometra-catheter",
        "reference_length.value",
    ),
    ("pumps missing", _delete(("pumps",)), TOP, "pumps"),
    ("pumps empty", _set(("pumps",), {}), TOP, "pumps"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "entry", "field"),
    [pytest.param(m, e, f, id=case) for case, m, e, f in PUMP_DEFECTS],
)
def test_malformed_pump_library_names_file_entry_field(
    mutate: Mutation, entry: str, field: str
) -> None:
    """A malformed pump library is rejected naming file, entry and field (REQ-LIB-010)."""
    pumps = copy.deepcopy(_PUMPS_RAW)
    mutate(pumps)
    with pytest.raises(LibraryError) as info:
        _build(copy.deepcopy(_DRUGS_RAW), pumps)
    err = info.value
    assert (err.file, err.entry) == (PUMPS, entry)
    assert err.field == f"{PUMPS}: {entry}: {field}"


def test_library_error_is_invalid_input() -> None:
    drugs = copy.deepcopy(_DRUGS_RAW)
    _delete((*M, "max_daily"))(drugs)
    with pytest.raises(InvalidInput):
        _build(drugs, copy.deepcopy(_PUMPS_RAW))


# --- file loaders ------------------------------------------------------------------------------


def _write_shipped(tmp_path: Path) -> tuple[Path, Path]:
    drugs, pumps = tmp_path / "inst-drugs.toml", tmp_path / "inst-pumps.toml"
    drugs.write_text(_shipped_text(DRUGS), encoding="utf-8")
    pumps.write_text(_shipped_text(PUMPS), encoding="utf-8")
    return drugs, pumps


def test_load_library_from_files(tmp_path: Path) -> None:
    drugs, pumps = _write_shipped(tmp_path)
    lib = load_library_from(drugs, pumps)
    assert lib.drugs_file == str(drugs) and lib.pumps_file == str(pumps)
    assert lib.entries == load_library().entries
    assert lib.pumps == load_library().pumps


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    """Malformed TOML is rejected naming the file (REQ-LIB-010)."""
    drugs, pumps = _write_shipped(tmp_path)
    pumps.write_text('version = "1"\n[pumps.x\n', encoding="utf-8")
    with pytest.raises(LibraryError) as info:
        load_library_from(drugs, pumps)
    assert (info.value.file, info.value.entry) == (str(pumps), "<file>")
    assert info.value.field.endswith(": toml")
    assert "not valid TOML" in info.value.message


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    drugs, _ = _write_shipped(tmp_path)
    missing = tmp_path / "absent.toml"
    with pytest.raises(LibraryError) as info:
        load_library_from(drugs, missing)
    assert info.value.file == str(missing)
    assert info.value.field.endswith(": file")


def test_non_utf8_file_names_the_file(tmp_path: Path) -> None:
    drugs, pumps = _write_shipped(tmp_path)
    drugs.write_bytes(b'version = "\xff"\n')
    with pytest.raises(LibraryError) as info:
        load_library_from(drugs, pumps)
    assert info.value.file == str(drugs)
    assert info.value.field.endswith(": encoding")


def test_defect_in_institution_file_names_path_entry_field(tmp_path: Path) -> None:
    """A defective institution file is rejected naming path, entry and field (REQ-LIB-010)."""
    drugs, pumps = _write_shipped(tmp_path)
    text = drugs.read_text(encoding="utf-8").replace(
        'max_daily = { value = "19.2 mcg/day", level = "hard"',
        'max_daily = { value = "19.2 mcg/day", level = "firm"',
    )
    drugs.write_text(text, encoding="utf-8")
    with pytest.raises(LibraryError) as info:
        load_library_from(drugs, pumps)
    assert info.value.file == str(drugs)
    assert info.value.entry == ZICONOTIDE
    assert info.value.field == f"{drugs}: {ZICONOTIDE}: max_daily.level"


@pytest.mark.parametrize(
    ("special", "message"),
    [("/dev/zero", "is a device, not a regular file"), ("folder", "is a folder, not a file")],
)
def test_special_library_file_is_refused_unread(tmp_path: Path, special: str, message: str) -> None:
    """A device or a folder given as a library file is refused by its kind through the shared TOML
    file reader (never read, so /dev/zero cannot exhaust the memory), naming the file
    (REQ-LIB-010, REQ-EVID-003)."""
    drugs, _ = _write_shipped(tmp_path)
    path = str(tmp_path) if special == "folder" else special
    with pytest.raises(LibraryError) as info:
        load_library_from(drugs, path)
    assert (info.value.file, info.value.entry, info.value.message) == (path, "<file>", message)
    assert info.value.field == f"{path}: <file>: file"


def test_oversized_library_file_is_refused(tmp_path: Path) -> None:
    drugs, pumps = _write_shipped(tmp_path)
    with drugs.open("ab") as f:
        f.truncate(5 * 1024 * 1024)
    with pytest.raises(LibraryError) as info:
        load_library_from(drugs, pumps)
    assert info.value.field == f"{drugs}: <file>: file"
    assert "larger than the 4194304 bytes accepted" in info.value.message
