"""The library schema's errors (specs/library_schema.py): the full error contract of every
library defect (file, entry, field, message, value of the LibraryError), the boundaries of each
rule (equal values, zero, 100 %) and the values a valid file builds (REQ-LIB-001, REQ-LIB-002,
REQ-LIB-004, REQ-LIB-009, REQ-LIB-010, REQ-CORE-004)."""

from __future__ import annotations

import copy
import tomllib
from importlib import resources
from typing import Any

import pytest

from itdose.core.errors import InvalidInput, LibraryError
from itdose.core.library import (
    ConcentrationRange,
    CountLimit,
    Level,
    Library,
    Limit,
    MriPolicy,
    SourcedNames,
    SourcedValue,
    Tag,
)
from itdose.core.units import Dimension
from itdose.specs.library_schema import library_from_mapping

DRUGS = "drugs.toml"
PUMPS = "pumps.toml"
TOP = "<top level>"
MORPHINE = "drugs.morphine.indications.pain"
HYDROMORPHONE = "drugs.hydromorphone.indications.pain"
ZICONOTIDE = "drugs.ziconotide.indications.pain"
BACLOFEN = "drugs.baclofen.indications.spasticity-spinal"
DEL = object()
M = ("drugs", "morphine", "indications", "pain")
H = ("drugs", "hydromorphone", "indications", "pain")
Z = ("drugs", "ziconotide", "indications", "pain")
B = ("drugs", "baclofen", "indications", "spasticity-spinal")
P2 = ("pumps", "prometra-ii-20")
S2 = ("pumps", "synchromed-ii-20")
CAT = ("catheters", "prometra-catheter")
SRC = {"source": "x", "tag": "V"}


def _raw(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("itdose.specs").joinpath(name).read_text("utf-8"))


_DRUGS_RAW = _raw(DRUGS)
_PUMPS_RAW = _raw(PUMPS)

Op = tuple[str, tuple[str, ...], object]


def _mapped(ops: list[Op]) -> tuple[dict[str, Any], dict[str, Any]]:
    drugs, pumps = copy.deepcopy(_DRUGS_RAW), copy.deepcopy(_PUMPS_RAW)
    for target, path, value in ops:
        node = drugs if target == "d" else pumps
        for key in path[:-1]:
            node = node[key]
        if value is DEL:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return drugs, pumps


def _build(ops: list[Op]) -> Library:
    drugs, pumps = _mapped(ops)
    return library_from_mapping(drugs, pumps, drugs_file=DRUGS, pumps_file=PUMPS)


def _lib_error(ops: list[Op]) -> LibraryError:
    with pytest.raises(LibraryError) as exc:
        _build(ops)
    return exc.value


# (case id, changes, file, entry, field, message, value)
DEFECTS: list[tuple[str, list[Op], str, str, str, str, object]] = [
    (
        "drugs top not a table-key",
        [("d", ("drugs",), {1: {}})],
        "drugs.toml",
        TOP,
        "drugs",
        "must be a table with text keys",
        {1: {}},
    ),
    (
        "drugs mixed keys",
        [("d", ("drugs",), {"morphine": {}, 2: {}})],
        "drugs.toml",
        TOP,
        "drugs",
        "must be a table with text keys",
        {"morphine": {}, 2: {}},
    ),
    (
        "drugs not a table",
        [("d", ("drugs",), "x")],
        "drugs.toml",
        TOP,
        "drugs",
        "must be a table, got str",
        "x",
    ),
    ("drugs empty", [("d", ("drugs",), {})], "drugs.toml", TOP, "drugs", "lists no drug", None),
    (
        "top unknown key close",
        [("d", ("versoin",), "1")],
        "drugs.toml",
        TOP,
        "versoin",
        "unknown key (allowed: version, drugs, warnings); did you mean 'version'?",
        "versoin",
    ),
    (
        "top unknown key far",
        [("d", ("zzz",), "1")],
        "drugs.toml",
        TOP,
        "zzz",
        "unknown key (allowed: version, drugs, warnings)",
        "zzz",
    ),
    (
        "version missing",
        [("d", ("version",), DEL)],
        "drugs.toml",
        TOP,
        "version",
        "is missing (required)",
        None,
    ),
    (
        "version not str",
        [("d", ("version",), 1)],
        "drugs.toml",
        TOP,
        "version",
        "must be a non-empty string",
        1,
    ),
    (
        "version blank",
        [("d", ("version",), "  ")],
        "drugs.toml",
        TOP,
        "version",
        "must be a non-empty string",
        "  ",
    ),
    (
        "pumps version blank",
        [("p", ("version",), "")],
        "pumps.toml",
        TOP,
        "version",
        "must be a non-empty string",
        "",
    ),
    (
        "warnings not table",
        [("d", ("warnings",), [])],
        "drugs.toml",
        TOP,
        "warnings",
        "must be a table, got list",
        [],
    ),
    (
        "warning unknown key",
        [("d", ("warnings", "fda-2018", "txt"), "a")],
        "drugs.toml",
        "warnings.fda-2018",
        "txt",
        "unknown key (allowed: text, source, tag); did you mean 'text'?",
        "txt",
    ),
    (
        "warning text empty",
        [("d", ("warnings", "fda-2018", "text"), "")],
        "drugs.toml",
        "warnings.fda-2018",
        "text",
        "must be a non-empty string",
        "",
    ),
    (
        "warning tag",
        [("d", ("warnings", "fda-2018", "tag"), "Q")],
        "drugs.toml",
        "warnings.fda-2018",
        "tag",
        "must be one of V, S, U, D",
        "Q",
    ),
    (
        "drug body not table",
        [("d", ("drugs", "morphine"), 5)],
        "drugs.toml",
        "drugs.morphine",
        "drugs.morphine",
        "must be a table, got int",
        5,
    ),
    (
        "drug name not str",
        [("d", ("drugs", "morphine", "name"), 5)],
        "drugs.toml",
        "drugs.morphine",
        "name",
        "must be a non-empty string",
        5,
    ),
    (
        "drug opioid not bool",
        [("d", ("drugs", "morphine", "opioid"), 1)],
        "drugs.toml",
        "drugs.morphine",
        "opioid",
        "must be true or false",
        1,
    ),
    (
        "withdrawal value not bool",
        [("d", ("drugs", "morphine", "withdrawal_risk", "value"), "no")],
        "drugs.toml",
        "drugs.morphine",
        "withdrawal_risk.value",
        "must be true or false",
        "no",
    ),
    (
        "withdrawal note blank",
        [("d", ("drugs", "morphine", "withdrawal_risk", "note"), " ")],
        "drugs.toml",
        "drugs.morphine",
        "withdrawal_risk.note",
        "must be a non-empty string",
        " ",
    ),
    (
        "indications empty",
        [("d", ("drugs", "morphine", "indications"), {})],
        "drugs.toml",
        "drugs.morphine",
        "indications",
        "lists no indication",
        None,
    ),
    (
        "indication unknown",
        [("d", ("drugs", "morphine", "indications", "itch"), {})],
        "drugs.toml",
        "drugs.morphine",
        "indications.itch",
        "is not a known indication (one of pain, spasticity-spinal, spasticity-cerebral)",
        "itch",
    ),
    (
        "entry not table",
        [("d", (*M,), [])],
        "drugs.toml",
        MORPHINE,
        "indications.pain",
        "must be a table, got list",
        [],
    ),
    (
        "entry note not str",
        [("d", (*M, "note"), 3)],
        "drugs.toml",
        MORPHINE,
        "note",
        "must be a non-empty string",
        3,
    ),
    (
        "max_daily unknown key close",
        [("d", (*M, "max_daily", "levl"), "hard")],
        "drugs.toml",
        MORPHINE,
        "max_daily.levl",
        "unknown key (allowed: value, level, source, tag, note); did you mean 'level'?",
        "levl",
    ),
    (
        "max_daily missing value",
        [("d", (*M, "max_daily", "value"), DEL)],
        "drugs.toml",
        MORPHINE,
        "max_daily.value",
        "is missing (required)",
        None,
    ),
    (
        "max_daily zero",
        [("d", (*M, "max_daily", "value"), "0 mg/day")],
        "drugs.toml",
        MORPHINE,
        "max_daily.value",
        "must be greater than zero",
        "0 mg/day",
    ),
    (
        "max_daily soft",
        [("d", (*M, "max_daily", "level"), "soft")],
        "drugs.toml",
        MORPHINE,
        "max_daily.level",
        "the daily maximum must be a hard limit",
        "soft",
    ),
    (
        "max_daily level bad",
        [("d", (*M, "max_daily", "level"), "firm")],
        "drugs.toml",
        MORPHINE,
        "max_daily.level",
        "must be 'hard' or 'soft'",
        "firm",
    ),
    (
        "max_daily level S hard",
        [("d", (*M, "max_daily", "tag"), "S")],
        "drugs.toml",
        MORPHINE,
        "max_daily.level",
        (
            "a [S] value cannot be a hard limit: hard limits must be verified [V] or design [D] "
            "values "
            "(docs/dosing-rules.md)"
        ),
        "hard",
    ),
    (
        "max_daily U hard no note",
        [("d", (*M, "max_daily", "tag"), "U"), ("d", (*M, "max_daily", "note"), DEL)],
        "drugs.toml",
        MORPHINE,
        "max_daily.note",
        (
            "a hard daily maximum taken from an unverified [U] value must say so in a note "
            "(docs/dosing-rules.md)"
        ),
        None,
    ),
    (
        "max_daily source blank",
        [("d", (*M, "max_daily", "source"), " ")],
        "drugs.toml",
        MORPHINE,
        "max_daily.source",
        "must be a non-empty string",
        " ",
    ),
    (
        "max_daily source missing",
        [("d", (*M, "max_daily", "source"), DEL)],
        "drugs.toml",
        MORPHINE,
        "max_daily.source",
        "is missing (required)",
        None,
    ),
    (
        "max_daily tag bad",
        [("d", (*M, "max_daily", "tag"), "v")],
        "drugs.toml",
        MORPHINE,
        "max_daily.tag",
        "must be one of V, S, U, D",
        "v",
    ),
    (
        "max_daily value int",
        [("d", (*M, "max_daily", "value"), 20)],
        "drugs.toml",
        MORPHINE,
        "max_daily.value",
        "expected a string with a unit (e.g. '1 mg/day'), got int",
        20,
    ),
    (
        "max_daily value no unit",
        [("d", (*M, "max_daily", "value"), "20")],
        "drugs.toml",
        MORPHINE,
        "max_daily.value",
        "has no unit (expected mg/day)",
        "20",
    ),
    (
        "max_daily value wrong dim",
        [("d", (*M, "max_daily", "value"), "20 mg")],
        "drugs.toml",
        MORPHINE,
        "max_daily.value",
        "is a amount, expected a dose rate",
        "20 mg",
    ),
    (
        "max_daily value inexact",
        [("d", (*M, "max_daily", "value"), "0.0000001 mg/day")],
        "drugs.toml",
        MORPHINE,
        "max_daily.value",
        "cannot be represented exactly in ng/day",
        "0.0000001 mg/day",
    ),
    (
        "max_daily value negative",
        [("d", (*M, "max_daily", "value"), "-1 mg/day")],
        "drugs.toml",
        MORPHINE,
        "max_daily.value",
        "must not be negative",
        "-1 mg/day",
    ),
    (
        "max_daily value huge",
        [("d", (*M, "max_daily", "value"), "1000000000000000000000000000000 mg/day")],
        "drugs.toml",
        MORPHINE,
        "max_daily.value",
        "is beyond the physical bound (limit 10000 mg/day)",
        "1000000000000000000000000000000 mg/day",
    ),
    (
        "max_concentration hard U",
        [("d", (*M, "max_concentration", "level"), "hard")],
        "drugs.toml",
        MORPHINE,
        "max_concentration.level",
        (
            "an unverified [U] value may be hard only as the daily maximum of a drug with no "
            "verified "
            "ceiling (docs/dosing-rules.md)"
        ),
        "hard",
    ),
    (
        "max_concentration hard V below product",
        [
            ("d", (*M, "max_concentration", "level"), "hard"),
            ("d", (*M, "max_concentration", "tag"), "V"),
        ],
        "drugs.toml",
        MORPHINE,
        "product_concentrations.values",
        "a product strength is above the hard max_concentration 20 mg/mL",
        "25 mg/mL",
    ),
    (
        "soft_max hard",
        [("d", (*M, "soft_max_daily", "level"), "hard"), ("d", (*M, "soft_max_daily", "tag"), "V")],
        "drugs.toml",
        MORPHINE,
        "soft_max_daily.level",
        "must be 'soft'",
        "hard",
    ),
    (
        "soft_max above",
        [("d", (*M, "soft_max_daily", "value"), "20.001 mg/day")],
        "drugs.toml",
        MORPHINE,
        "soft_max_daily.value",
        "soft limit is above the hard daily maximum 20 mg/day",
        "20.001 mg/day",
    ),
    (
        "soft_max not table",
        [("d", (*M, "soft_max_daily"), "15 mg/day")],
        "drugs.toml",
        MORPHINE,
        "soft_max_daily",
        "must be a table, got str",
        "15 mg/day",
    ),
    (
        "starting range empty",
        [("d", (*M, "starting_range"), {})],
        "drugs.toml",
        MORPHINE,
        "starting_range",
        "is empty: omit it or give at least one range",
        None,
    ),
    (
        "starting range not table",
        [("d", (*M, "starting_range"), [])],
        "drugs.toml",
        MORPHINE,
        "starting_range",
        "must be a table, got list",
        [],
    ),
    (
        "starting range any combined",
        [
            (
                "d",
                (*M, "starting_range", "any"),
                {"min": "1 mg/day", "max": "2 mg/day", "level": "soft", "source": "x", "tag": "V"},
            )
        ],
        "drugs.toml",
        MORPHINE,
        "starting_range.any",
        "'any' cannot be combined with opioid-naive/opioid-tolerant",
        None,
    ),
    (
        "starting range unknown status",
        [("d", (*M, "starting_range", "naive"), {})],
        "drugs.toml",
        MORPHINE,
        "starting_range.naive",
        "unknown key (allowed: opioid-naive, opioid-tolerant, any)",
        "naive",
    ),
    (
        "non-opioid without any",
        [
            (
                "d",
                (*Z, "starting_range"),
                {
                    "opioid-tolerant": {
                        "min": "1 mcg/day",
                        "max": "2 mcg/day",
                        "level": "soft",
                        "source": "x",
                        "tag": "V",
                    },
                    "opioid-naive": {},
                },
            )
        ],
        "drugs.toml",
        ZICONOTIDE,
        "starting_range.opioid-tolerant",
        "a non-opioid drug takes only an 'any' range",
        None,
    ),
    (
        "range hard U",
        [("d", (*M, "trial_bolus_range", "level"), "hard")],
        "drugs.toml",
        MORPHINE,
        "trial_bolus_range.level",
        "an unverified [U] range must be soft (docs/dosing-rules.md)",
        "hard",
    ),
    (
        "range hard S",
        [
            ("d", (*M, "trial_bolus_range", "level"), "hard"),
            ("d", (*M, "trial_bolus_range", "tag"), "S"),
        ],
        "drugs.toml",
        MORPHINE,
        "trial_bolus_range.level",
        (
            "a [S] value cannot be a hard limit: hard limits must be verified [V] or design [D] "
            "values "
            "(docs/dosing-rules.md)"
        ),
        "hard",
    ),
    (
        "range max zero",
        [
            ("d", (*M, "trial_bolus_range", "min"), "0 mg"),
            ("d", (*M, "trial_bolus_range", "max"), "0 mg"),
        ],
        "drugs.toml",
        MORPHINE,
        "trial_bolus_range.max",
        "must be greater than zero",
        "0 mg",
    ),
    (
        "range min above",
        [("d", (*M, "trial_bolus_range", "min"), "0.6 mg")],
        "drugs.toml",
        MORPHINE,
        "trial_bolus_range.min",
        "is above max (0.5 mg)",
        "0.6 mg",
    ),
    (
        "range note blank",
        [("d", (*M, "trial_bolus_range", "note"), "")],
        "drugs.toml",
        MORPHINE,
        "trial_bolus_range.note",
        "must be a non-empty string",
        "",
    ),
    (
        "range min missing",
        [("d", (*M, "trial_bolus_range", "min"), DEL)],
        "drugs.toml",
        MORPHINE,
        "trial_bolus_range.min",
        "is missing (required)",
        None,
    ),
    (
        "range min bad unit",
        [("d", (*M, "trial_bolus_range", "min"), "0.1 mL")],
        "drugs.toml",
        MORPHINE,
        "trial_bolus_range.min",
        "is a volume, expected a amount",
        "0.1 mL",
    ),
    (
        "trial above max daily",
        [("d", (*M, "trial_bolus_range", "max"), "20.001 mg")],
        "drugs.toml",
        MORPHINE,
        "trial_bolus_range.max",
        "a single trial dose above the hard daily maximum 20 mg/day",
        "20.001 mg",
    ),
    (
        "starting above max daily",
        [("d", (*M, "starting_range", "opioid-tolerant", "max"), "20.001 mg/day")],
        "drugs.toml",
        MORPHINE,
        "starting_range.opioid-tolerant.max",
        "is above the hard daily maximum 20 mg/day",
        "20.001 mg/day",
    ),
    (
        "max_bolus above",
        [
            (
                "d",
                (*M, "max_bolus"),
                {"value": "20.001 mg", "level": "soft", "source": "x", "tag": "V"},
            )
        ],
        "drugs.toml",
        MORPHINE,
        "max_bolus.value",
        "a bolus above the hard daily maximum 20 mg/day",
        "20.001 mg",
    ),
    (
        "min_lockout zero",
        [
            (
                "d",
                (*M, "min_lockout"),
                {"value": "0 min", "level": "soft", "source": "x", "tag": "V"},
            )
        ],
        "drugs.toml",
        MORPHINE,
        "min_lockout.value",
        "must be greater than zero",
        "0 min",
    ),
    (
        "min_lockout bad unit",
        [
            (
                "d",
                (*M, "min_lockout"),
                {"value": "10 mg", "level": "soft", "source": "x", "tag": "V"},
            )
        ],
        "drugs.toml",
        MORPHINE,
        "min_lockout.value",
        "is a amount, expected a duration",
        "10 mg",
    ),
    (
        "warning on approved",
        [("d", (*M, "warning"), "fda-2018")],
        "drugs.toml",
        MORPHINE,
        "warning",
        "an approved drug carries no unapproved-drug warning",
        "fda-2018",
    ),
    (
        "warning unknown ref",
        [("d", (*H, "warning"), "fda-2019")],
        "drugs.toml",
        HYDROMORPHONE,
        "warning",
        "names no table under [warnings]",
        "fda-2019",
    ),
    (
        "warning blank",
        [("d", (*H, "warning"), " ")],
        "drugs.toml",
        HYDROMORPHONE,
        "warning",
        "must be a non-empty string",
        " ",
    ),
    (
        "unapproved without warning",
        [("d", (*H, "warning"), DEL)],
        "drugs.toml",
        HYDROMORPHONE,
        "warning",
        (
            "is missing: a drug not approved for intrathecal pumps must carry the FDA 2018 warning "
            "(docs/dosing-rules.md)"
        ),
        None,
    ),
    (
        "approved not bool",
        [("d", (*M, "approved_for_intrathecal_pump", "value"), 1)],
        "drugs.toml",
        MORPHINE,
        "approved_for_intrathecal_pump.value",
        "must be true or false",
        1,
    ),
    (
        "approved empty products",
        [("d", (*M, "product_concentrations", "values"), [])],
        "drugs.toml",
        MORPHINE,
        "product_concentrations.values",
        "must list at least one concentration",
        [],
    ),
    (
        "products not list",
        [("d", (*M, "product_concentrations", "values"), "10 mg/mL")],
        "drugs.toml",
        MORPHINE,
        "product_concentrations.values",
        "must be a list of concentrations",
        "10 mg/mL",
    ),
    (
        "products zero",
        [("d", (*M, "product_concentrations", "values"), ["10 mg/mL", "0 mg/mL"])],
        "drugs.toml",
        MORPHINE,
        "product_concentrations.values[1]",
        "must be greater than zero",
        "0 mg/mL",
    ),
    (
        "products twice",
        [("d", (*M, "product_concentrations", "values"), ["10 mg/mL", "25 mg/mL", "10000 mcg/mL"])],
        "drugs.toml",
        MORPHINE,
        "product_concentrations.values[2]",
        "lists a concentration twice",
        "10000 mcg/mL",
    ),
    (
        "products bad unit",
        [("d", (*M, "product_concentrations", "values"), ["10 mg/mL", "10 mg"])],
        "drugs.toml",
        MORPHINE,
        "product_concentrations.values[1]",
        "is a amount, expected a concentration",
        "10 mg",
    ),
    (
        "products note int",
        [("d", (*M, "product_concentrations", "note"), 1)],
        "drugs.toml",
        MORPHINE,
        "product_concentrations.note",
        "must be a non-empty string",
        1,
    ),
    (
        "screening conc empty",
        [("d", (*B, "screening_concentrations", "values"), [])],
        "drugs.toml",
        BACLOFEN,
        "screening_concentrations.values",
        "must list at least one concentration",
        [],
    ),
    (
        "screening conc is product",
        [("d", (*B, "screening_concentrations", "values"), ["50 mcg/mL", "1 mg/mL"])],
        "drugs.toml",
        BACLOFEN,
        "screening_concentrations.values",
        "a screening-only strength cannot also be a pump-fill product strength",
        "1 mg/mL",
    ),
    (
        "screening doses empty",
        [("d", (*B, "screening", "doses"), [])],
        "drugs.toml",
        BACLOFEN,
        "screening.doses",
        "must be a non-empty list of amounts",
        [],
    ),
    (
        "screening doses not list",
        [("d", (*B, "screening", "doses"), "50 mcg")],
        "drugs.toml",
        BACLOFEN,
        "screening.doses",
        "must be a non-empty list of amounts",
        "50 mcg",
    ),
    (
        "screening dose zero",
        [("d", (*B, "screening", "doses"), ["0 mcg", "75 mcg"])],
        "drugs.toml",
        BACLOFEN,
        "screening.doses[0]",
        "must be greater than zero",
        "0 mcg",
    ),
    (
        "screening dose equal",
        [("d", (*B, "screening", "doses"), ["50 mcg", "75 mcg", "75 mcg"])],
        "drugs.toml",
        BACLOFEN,
        "screening.doses[2]",
        "must be larger than the previous dose",
        "75 mcg",
    ),
    (
        "screening dose smaller",
        [("d", (*B, "screening", "doses"), ["50 mcg", "40 mcg"])],
        "drugs.toml",
        BACLOFEN,
        "screening.doses[1]",
        "must be larger than the previous dose",
        "40 mcg",
    ),
    (
        "screening interval zero",
        [("d", (*B, "screening", "min_interval"), "0 h")],
        "drugs.toml",
        BACLOFEN,
        "screening.min_interval",
        "must be greater than zero",
        "0 h",
    ),
    (
        "screening interval unit",
        [("d", (*B, "screening", "min_interval"), "24 mg")],
        "drugs.toml",
        BACLOFEN,
        "screening.min_interval",
        "is a amount, expected a duration",
        "24 mg",
    ),
    (
        "screening multiple zero",
        [("d", (*B, "screening", "start_dose_multiple"), 0)],
        "drugs.toml",
        BACLOFEN,
        "screening.start_dose_multiple",
        "must be a whole number of at least 1",
        0,
    ),
    (
        "screening multiple bool",
        [("d", (*B, "screening", "start_dose_multiple"), True)],
        "drugs.toml",
        BACLOFEN,
        "screening.start_dose_multiple",
        "must be a whole number of at least 1",
        True,
    ),
    (
        "screening multiple str",
        [("d", (*B, "screening", "start_dose_multiple"), "2")],
        "drugs.toml",
        BACLOFEN,
        "screening.start_dose_multiple",
        "must be a whole number of at least 1",
        "2",
    ),
    (
        "screening note blank",
        [("d", (*B, "screening", "note"), "")],
        "drugs.toml",
        BACLOFEN,
        "screening.note",
        "must be a non-empty string",
        "",
    ),
    (
        "screening unknown key",
        [("d", (*B, "screening", "dose"), [])],
        "drugs.toml",
        BACLOFEN,
        "screening.dose",
        (
            "unknown key (allowed: doses, min_interval, start_dose_multiple, source, tag, note); "
            "did you "
            "mean 'doses'?"
        ),
        "dose",
    ),
    (
        "screening above max daily",
        [("d", (*B, "screening", "doses"), ["50 mcg", "2001 mcg"])],
        "drugs.toml",
        BACLOFEN,
        "screening.doses",
        "a screening dose is above the hard daily maximum 2 mg/day",
        "2.001 mg",
    ),
    (
        "screening not table",
        [("d", (*B, "screening"), 1)],
        "drugs.toml",
        BACLOFEN,
        "screening",
        "must be a table, got int",
        1,
    ),
    (
        "titration empty",
        [("d", (*B, "titration"), {})],
        "drugs.toml",
        BACLOFEN,
        "titration",
        "is empty: omit it or give at least one rule",
        None,
    ),
    (
        "titration unknown",
        [("d", (*B, "titration", "max_increse"), {})],
        "drugs.toml",
        BACLOFEN,
        "titration.max_increse",
        (
            "unknown key (allowed: max_increase, max_increase_percent, max_increases); did you "
            "mean "
            "'max_increase'?"
        ),
        "max_increse",
    ),
    (
        "titration percent above 100",
        [("d", (*B, "titration", "max_increase_percent", "value"), "100.01 %")],
        "drugs.toml",
        BACLOFEN,
        "titration.max_increase_percent.value",
        "must not exceed 100 %",
        "100.01 %",
    ),
    (
        "titration percent zero",
        [("d", (*B, "titration", "max_increase_percent", "value"), "0 %")],
        "drugs.toml",
        BACLOFEN,
        "titration.max_increase_percent.value",
        "must be greater than zero",
        "0 %",
    ),
    (
        "titration count zero",
        [("d", (*B, "titration", "max_increases", "count"), 0)],
        "drugs.toml",
        BACLOFEN,
        "titration.max_increases.count",
        "must be a whole number of at least 1",
        0,
    ),
    (
        "titration window zero",
        [("d", (*B, "titration", "max_increases", "window"), "0 h")],
        "drugs.toml",
        BACLOFEN,
        "titration.max_increases.window",
        "must be greater than zero",
        "0 h",
    ),
    (
        "titration window unit",
        [("d", (*B, "titration", "max_increases", "window"), "1 mg")],
        "drugs.toml",
        BACLOFEN,
        "titration.max_increases.window",
        "is a amount, expected a duration",
        "1 mg",
    ),
    (
        "titration count hard U",
        [("d", (*B, "titration", "max_increases", "tag"), "U")],
        "drugs.toml",
        BACLOFEN,
        "titration.max_increases.level",
        "an unverified [U] limit must be soft (docs/dosing-rules.md)",
        "hard",
    ),
    (
        "titration count hard S",
        [("d", (*B, "titration", "max_increases", "tag"), "S")],
        "drugs.toml",
        BACLOFEN,
        "titration.max_increases.level",
        (
            "a [S] value cannot be a hard limit: hard limits must be verified [V] or design [D] "
            "values "
            "(docs/dosing-rules.md)"
        ),
        "hard",
    ),
    (
        "titration count level bad",
        [("d", (*B, "titration", "max_increases", "level"), "x")],
        "drugs.toml",
        BACLOFEN,
        "titration.max_increases.level",
        "must be 'hard' or 'soft'",
        "x",
    ),
    (
        "titration count note",
        [("d", (*B, "titration", "max_increases", "note"), "")],
        "drugs.toml",
        BACLOFEN,
        "titration.max_increases.note",
        "must be a non-empty string",
        "",
    ),
    (
        "titration increase above max",
        [("d", (*Z, "titration", "max_increase", "value"), "19.201 mcg/day")],
        "drugs.toml",
        ZICONOTIDE,
        "titration.max_increase.value",
        "is above the hard daily maximum 19.2 mcg/day",
        "19.201 mcg/day",
    ),
    (
        "titration increase hard U",
        [("d", (*Z, "titration", "max_increase", "tag"), "U")],
        "drugs.toml",
        ZICONOTIDE,
        "titration.max_increase.level",
        (
            "an unverified [U] value may be hard only as the daily maximum of a drug with no "
            "verified "
            "ceiling (docs/dosing-rules.md)"
        ),
        "hard",
    ),
    (
        "pumps not table",
        [("p", ("pumps",), 1)],
        "pumps.toml",
        TOP,
        "pumps",
        "must be a table, got int",
        1,
    ),
    (
        "pumps empty",
        [("p", ("pumps",), {})],
        "pumps.toml",
        TOP,
        "pumps",
        "lists no pump model",
        None,
    ),
    (
        "pumps top unknown",
        [("p", ("pump",), {})],
        "pumps.toml",
        TOP,
        "pump",
        "unknown key (allowed: version, pumps, catheters); did you mean 'pumps'?",
        "pump",
    ),
    (
        "catheters not table",
        [("p", ("catheters",), [])],
        "pumps.toml",
        TOP,
        "catheters",
        "must be a table, got list",
        [],
    ),
    (
        "pump not table",
        [("p", (*S2,), "x")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "pumps.synchromed-ii-20",
        "must be a table, got str",
        "x",
    ),
    (
        "pump unknown key",
        [("p", (*S2, "tubing"), {})],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "tubing",
        (
            "unknown key (allowed: name, manufacturer, reservoir_volume, low_reservoir_threshold, "
            "empty_threshold, over_infusion_tolerance, under_infusion_tolerance, approved_drugs, "
            "patient_bolus, mri_policy, min_rate, tubing_volume, eri_to_eos, concentration_ranges, "
            "note); did you mean 'tubing_volume'?"
        ),
        "tubing",
    ),
    (
        "pump missing key",
        [("p", (*S2, "mri_policy"), DEL)],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "mri_policy",
        "is missing (required)",
        None,
    ),
    (
        "pump name blank",
        [("p", (*S2, "name"), "")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "name",
        "must be a non-empty string",
        "",
    ),
    (
        "pump manufacturer int",
        [("p", (*S2, "manufacturer"), 3)],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "manufacturer",
        "must be a non-empty string",
        3,
    ),
    (
        "pump note blank",
        [("p", (*S2, "note"), " ")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "note",
        "must be a non-empty string",
        " ",
    ),
    (
        "reservoir zero",
        [("p", (*S2, "reservoir_volume", "value"), "0 mL")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "reservoir_volume.value",
        "must be greater than zero",
        "0 mL",
    ),
    (
        "reservoir unit",
        [("p", (*S2, "reservoir_volume", "value"), "20 mg")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "reservoir_volume.value",
        "is a amount, expected a volume",
        "20 mg",
    ),
    (
        "reservoir note",
        [("p", (*S2, "reservoir_volume", "note"), "")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "reservoir_volume.note",
        "must be a non-empty string",
        "",
    ),
    (
        "reservoir unknown key",
        [("p", (*S2, "reservoir_volume", "level"), "hard")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "reservoir_volume.level",
        "unknown key (allowed: value, source, tag, note)",
        "level",
    ),
    (
        "min rate zero",
        [("p", (*S2, "min_rate", "value"), "0 mL/day")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "min_rate.value",
        "must be greater than zero",
        "0 mL/day",
    ),
    (
        "low equal reservoir",
        [("p", (*S2, "low_reservoir_threshold", "value"), "20 mL")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "low_reservoir_threshold.value",
        "must be below the reservoir volume 20 mL",
        "20 mL",
    ),
    (
        "empty equal low",
        [("p", (*S2, "empty_threshold", "value"), "2 mL")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "empty_threshold.value",
        "must be below the low-reservoir threshold 2 mL",
        "2 mL",
    ),
    (
        "empty negative",
        [("p", (*S2, "empty_threshold", "value"), "-1 mL")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "empty_threshold.value",
        "must not be negative",
        "-1 mL",
    ),
    (
        "tubing negative",
        [("p", (*P2, "tubing_volume", "value"), "-1 mL")],
        "pumps.toml",
        "pumps.prometra-ii-20",
        "tubing_volume.value",
        "must not be negative",
        "-1 mL",
    ),
    (
        "over tolerance above 100",
        [("p", (*S2, "over_infusion_tolerance", "value"), "100.01 %")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "over_infusion_tolerance.value",
        "must not exceed 100 %",
        "100.01 %",
    ),
    (
        "under tolerance zero",
        [("p", (*S2, "under_infusion_tolerance", "value"), "0 %")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "under_infusion_tolerance.value",
        "must be greater than zero",
        "0 %",
    ),
    (
        "eri zero",
        [("p", (*S2, "eri_to_eos", "value"), "0 days")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "eri_to_eos.value",
        "must be greater than zero",
        "0 days",
    ),
    (
        "approved unknown drug",
        [("p", (*S2, "approved_drugs", "drugs"), ["morphine", "aspirin"])],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "approved_drugs.drugs",
        "'aspirin' is not a drug in the library",
        "aspirin",
    ),
    (
        "approved not list",
        [("p", (*S2, "approved_drugs", "drugs"), "morphine")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "approved_drugs.drugs",
        "must be a list of non-empty strings",
        "morphine",
    ),
    (
        "approved empty name",
        [("p", (*S2, "approved_drugs", "drugs"), ["morphine", ""])],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "approved_drugs.drugs",
        "must be a list of non-empty strings",
        ["morphine", ""],
    ),
    (
        "approved int name",
        [("p", (*S2, "approved_drugs", "drugs"), ["morphine", 3])],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "approved_drugs.drugs",
        "must be a list of non-empty strings",
        ["morphine", 3],
    ),
    (
        "approved twice",
        [("p", (*S2, "approved_drugs", "drugs"), ["morphine", "baclofen", "morphine"])],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "approved_drugs.drugs",
        "lists a name twice",
        ["morphine", "baclofen", "morphine"],
    ),
    (
        "approved note blank",
        [("p", (*S2, "approved_drugs", "note"), "")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "approved_drugs.note",
        "must be a non-empty string",
        "",
    ),
    (
        "approved key missing",
        [("p", (*S2, "approved_drugs", "drugs"), DEL)],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "approved_drugs.drugs",
        "is missing (required)",
        None,
    ),
    (
        "bolus unknown drug",
        [("p", (*S2, "patient_bolus", "drugs"), ["opium"])],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "patient_bolus.drugs",
        "'opium' is not a drug in the library",
        "opium",
    ),
    (
        "ranges not table",
        [("p", (*P2, "concentration_ranges"), [])],
        "pumps.toml",
        "pumps.prometra-ii-20",
        "concentration_ranges",
        "must be a table, got list",
        [],
    ),
    (
        "ranges unknown drug",
        [("p", (*P2, "concentration_ranges", "aspirin"), {})],
        "pumps.toml",
        "pumps.prometra-ii-20",
        "concentration_ranges.aspirin",
        "'aspirin' is not a drug in the library",
        "aspirin",
    ),
    (
        "range body not table",
        [("p", (*P2, "concentration_ranges", "baclofen"), 1)],
        "pumps.toml",
        "pumps.prometra-ii-20",
        "concentration_ranges.baclofen",
        "must be a table, got int",
        1,
    ),
    (
        "range unknown key",
        [("p", (*P2, "concentration_ranges", "baclofen", "level"), "hard")],
        "pumps.toml",
        "pumps.prometra-ii-20",
        "concentration_ranges.baclofen.level",
        "unknown key (allowed: min, max, source, tag, note)",
        "level",
    ),
    (
        "range min above max",
        [("p", (*P2, "concentration_ranges", "baclofen", "min"), "2001 mcg/mL")],
        "pumps.toml",
        "pumps.prometra-ii-20",
        "concentration_ranges.baclofen.min",
        "is above max (2000 mcg/mL)",
        "2001 mcg/mL",
    ),
    (
        "range admits none",
        [
            ("p", (*P2, "concentration_ranges", "baclofen", "min"), "600 mcg/mL"),
            ("p", (*P2, "concentration_ranges", "baclofen", "max"), "900 mcg/mL"),
        ],
        "pumps.toml",
        "pumps.prometra-ii-20",
        "concentration_ranges.baclofen",
        "admits none of the drug's product strengths",
        {
            "min": "600 mcg/mL",
            "max": "900 mcg/mL",
            "source": "12; docs/dosing-rules.md#r-lim-5",
            "tag": "V",
        },
    ),
    (
        "range note blank",
        [("p", (*P2, "concentration_ranges", "baclofen", "note"), "")],
        "pumps.toml",
        "pumps.prometra-ii-20",
        "concentration_ranges.baclofen.note",
        "must be a non-empty string",
        "",
    ),
    (
        "range max unit",
        [("p", (*P2, "concentration_ranges", "baclofen", "max"), "2000 mcg")],
        "pumps.toml",
        "pumps.prometra-ii-20",
        "concentration_ranges.baclofen.max",
        "is a amount, expected a concentration",
        "2000 mcg",
    ),
    (
        "range tag",
        [("p", (*P2, "concentration_ranges", "baclofen", "tag"), "Z")],
        "pumps.toml",
        "pumps.prometra-ii-20",
        "concentration_ranges.baclofen.tag",
        "must be one of V, S, U, D",
        "Z",
    ),
    (
        "mri not table",
        [("p", (*S2, "mri_policy"), "refuse")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "mri_policy",
        "must be a table, got str",
        "refuse",
    ),
    (
        "mri value bad",
        [("p", (*S2, "mri_policy", "value"), "ignore")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "mri_policy.value",
        "must be one of suspend-verify, empty-and-reset, refuse",
        "ignore",
    ),
    (
        "mri unknown key",
        [("p", (*S2, "mri_policy", "level"), "x")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "mri_policy.level",
        "unknown key (allowed: value, source, tag, note)",
        "level",
    ),
    (
        "mri note blank",
        [("p", (*S2, "mri_policy", "note"), "")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "mri_policy.note",
        "must be a non-empty string",
        "",
    ),
    (
        "mri tag",
        [("p", (*S2, "mri_policy", "tag"), "W")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "mri_policy.tag",
        "must be one of V, S, U, D",
        "W",
    ),
    (
        "catheter not table",
        [("p", (*CAT,), 1)],
        "pumps.toml",
        "catheters.prometra-catheter",
        "catheters.prometra-catheter",
        "must be a table, got int",
        1,
    ),
    (
        "catheter unknown key",
        [("p", (*CAT, "length"), "1 cm")],
        "pumps.toml",
        "catheters.prometra-catheter",
        "length",
        (
            "unknown key (allowed: name, manufacturer, compatible_pumps, reference_length, "
            "volume_per_length, note)"
        ),
        "length",
    ),
    (
        "catheter missing key",
        [("p", (*CAT, "compatible_pumps"), DEL)],
        "pumps.toml",
        "catheters.prometra-catheter",
        "compatible_pumps",
        "is missing (required)",
        None,
    ),
    (
        "catheter no pumps",
        [("p", (*CAT, "compatible_pumps", "pumps"), [])],
        "pumps.toml",
        "catheters.prometra-catheter",
        "compatible_pumps.pumps",
        "must list at least one pump model",
        None,
    ),
    (
        "catheter unknown pump",
        [("p", (*CAT, "compatible_pumps", "pumps"), ["prometra-ii-20", "prometra-iii"])],
        "pumps.toml",
        "catheters.prometra-catheter",
        "compatible_pumps.pumps",
        "'prometra-iii' is not a pump model in the library",
        "prometra-iii",
    ),
    (
        "catheter length zero",
        [("p", (*CAT, "reference_length", "value"), "0 cm")],
        "pumps.toml",
        "catheters.prometra-catheter",
        "reference_length.value",
        "must be greater than zero",
        "0 cm",
    ),
    (
        "catheter per length zero",
        [("p", (*CAT, "volume_per_length", "value"), "0 mL/cm")],
        "pumps.toml",
        "catheters.prometra-catheter",
        "volume_per_length.value",
        "must be greater than zero",
        "0 mL/cm",
    ),
    (
        "catheter per length unit",
        [("p", (*CAT, "volume_per_length", "value"), "1 mL")],
        "pumps.toml",
        "catheters.prometra-catheter",
        "volume_per_length.value",
        "is a volume, expected a volume per length",
        "1 mL",
    ),
    (
        "catheter name blank",
        [("p", (*CAT, "name"), "")],
        "pumps.toml",
        "catheters.prometra-catheter",
        "name",
        "must be a non-empty string",
        "",
    ),
    (
        "catheter manufacturer int",
        [("p", (*CAT, "manufacturer"), 1)],
        "pumps.toml",
        "catheters.prometra-catheter",
        "manufacturer",
        "must be a non-empty string",
        1,
    ),
    (
        "catheter note blank",
        [("p", (*CAT, "note"), "")],
        "pumps.toml",
        "catheters.prometra-catheter",
        "note",
        "must be a non-empty string",
        "",
    ),
    (
        "reservoir not table",
        [("p", (*S2, "reservoir_volume"), "20 mL")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "reservoir_volume",
        "must be a table, got str",
        "20 mL",
    ),
    (
        "approved not table",
        [("p", (*S2, "approved_drugs"), ["morphine"])],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "approved_drugs",
        "must be a table, got list",
        ["morphine"],
    ),
    (
        "approved source blank",
        [("p", (*S2, "approved_drugs", "source"), " ")],
        "pumps.toml",
        "pumps.synchromed-ii-20",
        "approved_drugs.source",
        "must be a non-empty string",
        " ",
    ),
    (
        "range min unit",
        [("p", (*P2, "concentration_ranges", "baclofen", "min"), "500 mcg")],
        "pumps.toml",
        "pumps.prometra-ii-20",
        "concentration_ranges.baclofen.min",
        "is a amount, expected a concentration",
        "500 mcg",
    ),
    (
        "any with one other status",
        [
            (
                "d",
                (*M, "starting_range"),
                {
                    "any": {
                        "min": "1 mg/day",
                        "max": "2 mg/day",
                        "level": "soft",
                        "source": "x",
                        "tag": "V",
                    },
                    "opioid-naive": {
                        "min": "1 mg/day",
                        "max": "2 mg/day",
                        "level": "soft",
                        "source": "x",
                        "tag": "V",
                    },
                },
            )
        ],
        "drugs.toml",
        MORPHINE,
        "starting_range.any",
        "'any' cannot be combined with opioid-naive/opioid-tolerant",
        None,
    ),
    (
        "limit note blank",
        [("d", (*M, "max_daily", "note"), "")],
        "drugs.toml",
        MORPHINE,
        "max_daily.note",
        "must be a non-empty string",
        "",
    ),
    (
        "range not table",
        [("d", (*M, "trial_bolus_range"), "x")],
        "drugs.toml",
        MORPHINE,
        "trial_bolus_range",
        "must be a table, got str",
        "x",
    ),
    (
        "range source blank",
        [("d", (*M, "trial_bolus_range", "source"), "")],
        "drugs.toml",
        MORPHINE,
        "trial_bolus_range.source",
        "must be a non-empty string",
        "",
    ),
    (
        "range max unit",
        [("d", (*M, "trial_bolus_range", "max"), "0.5 mL")],
        "drugs.toml",
        MORPHINE,
        "trial_bolus_range.max",
        "is a volume, expected a amount",
        "0.5 mL",
    ),
    (
        "count limit not table",
        [("d", (*B, "titration", "max_increases"), 1)],
        "drugs.toml",
        BACLOFEN,
        "titration.max_increases",
        "must be a table, got int",
        1,
    ),
    (
        "count limit unknown key",
        [("d", (*B, "titration", "max_increases", "cnt"), 1)],
        "drugs.toml",
        BACLOFEN,
        "titration.max_increases.cnt",
        "unknown key (allowed: count, window, level, source, tag, note); did you mean 'count'?",
        "cnt",
    ),
    (
        "count limit source blank",
        [("d", (*B, "titration", "max_increases", "source"), "")],
        "drugs.toml",
        BACLOFEN,
        "titration.max_increases.source",
        "must be a non-empty string",
        "",
    ),
    (
        "flag not table",
        [("d", ("drugs", "morphine", "withdrawal_risk"), False)],
        "drugs.toml",
        "drugs.morphine",
        "withdrawal_risk",
        "must be a table, got bool",
        False,
    ),
    (
        "flag unknown key",
        [("d", ("drugs", "morphine", "withdrawal_risk", "level"), "hard")],
        "drugs.toml",
        "drugs.morphine",
        "withdrawal_risk.level",
        "unknown key (allowed: value, source, tag, note)",
        "level",
    ),
    (
        "flag source blank",
        [("d", ("drugs", "morphine", "withdrawal_risk", "source"), "")],
        "drugs.toml",
        "drugs.morphine",
        "withdrawal_risk.source",
        "must be a non-empty string",
        "",
    ),
    (
        "products not table",
        [("d", (*M, "product_concentrations"), ["10 mg/mL"])],
        "drugs.toml",
        MORPHINE,
        "product_concentrations",
        "must be a table, got list",
        ["10 mg/mL"],
    ),
    (
        "products unknown key",
        [("d", (*M, "product_concentrations", "value"), ["10 mg/mL"])],
        "drugs.toml",
        MORPHINE,
        "product_concentrations.value",
        "unknown key (allowed: values, source, tag, note); did you mean 'values'?",
        "value",
    ),
    (
        "products source blank",
        [("d", (*M, "product_concentrations", "source"), "")],
        "drugs.toml",
        MORPHINE,
        "product_concentrations.source",
        "must be a non-empty string",
        "",
    ),
    (
        "warning body not table",
        [("d", ("warnings", "fda-2018"), "text")],
        "drugs.toml",
        "warnings.fda-2018",
        "warnings.fda-2018",
        "must be a table, got str",
        "text",
    ),
    (
        "screening source blank",
        [("d", (*B, "screening", "source"), "")],
        "drugs.toml",
        BACLOFEN,
        "screening.source",
        "must be a non-empty string",
        "",
    ),
    (
        "screening dose unit",
        [("d", (*B, "screening", "doses"), ["50 mcg", "75 mL"])],
        "drugs.toml",
        BACLOFEN,
        "screening.doses[1]",
        "is a volume, expected a amount",
        "75 mL",
    ),
    (
        "titration not table",
        [("d", (*B, "titration"), "30 %")],
        "drugs.toml",
        BACLOFEN,
        "titration",
        "must be a table, got str",
        "30 %",
    ),
    (
        "screening middle dose below max",
        [("d", (*B, "screening", "doses"), ["50 mcg", "75 mcg", "2001 mcg"])],
        "drugs.toml",
        BACLOFEN,
        "screening.doses",
        "a screening dose is above the hard daily maximum 2 mg/day",
        "2.001 mg",
    ),
    (
        "screening last dose named",
        [("d", (*B, "screening", "doses"), ["50 mcg", "2001 mcg", "2002 mcg"])],
        "drugs.toml",
        BACLOFEN,
        "screening.doses",
        "a screening dose is above the hard daily maximum 2 mg/day",
        "2.002 mg",
    ),
    (
        "drug unknown key",
        [("d", ("drugs", "morphine", "nmae"), "x")],
        "drugs.toml",
        "drugs.morphine",
        "nmae",
        "unknown key (allowed: name, opioid, withdrawal_risk, indications); did you mean 'name'?",
        "nmae",
    ),
    (
        "indications not table",
        [("d", ("drugs", "morphine", "indications"), "pain")],
        "drugs.toml",
        "drugs.morphine",
        "indications",
        "must be a table, got str",
        "pain",
    ),
]


@pytest.mark.parametrize(
    ("ops", "file", "entry", "field", "message", "value"),
    [case[1:] for case in DEFECTS],
    ids=[case[0] for case in DEFECTS],
)
def test_library_defect_error_contract(
    ops: list[Op], file: str, entry: str, field: str, message: str, value: object
) -> None:
    """REQ-LIB-010: each defect is rejected naming the file, the entry and the field, with the
    exact message and offending value; REQ-LIB-002, REQ-LIB-004: level and tag rules."""
    err = _lib_error(ops)
    assert (err.file, err.entry, err.field, err.message, err.value, err.limit) == (
        file,
        entry,
        f"{file}: {entry}: {field}",
        message,
        value,
        None,
    )
    assert isinstance(err, InvalidInput)


def test_top_level_not_a_table() -> None:
    """REQ-LIB-010: a file that is not a table names the file."""
    with pytest.raises(LibraryError) as exc:
        library_from_mapping([], {}, drugs_file=DRUGS, pumps_file=PUMPS)  # type: ignore[arg-type]
    assert (exc.value.field, exc.value.message) == (
        "drugs.toml: <top level>: <file>",
        "must be a table, got list",
    )
    with pytest.raises(LibraryError) as exc:
        library_from_mapping(
            _DRUGS_RAW,
            "x",  # type: ignore[arg-type]
            drugs_file=DRUGS,
            pumps_file=PUMPS,
        )
    assert (exc.value.field, exc.value.message, exc.value.value) == (
        "pumps.toml: <top level>: <file>",
        "must be a table, got str",
        "x",
    )


# --- boundaries a valid library may sit on -----------------------------------------------------


@pytest.mark.parametrize(
    "ops",
    [
        [("d", (*M, "soft_max_daily", "value"), "20 mg/day")],
        [("d", (*M, "trial_bolus_range", "min"), "0.5 mg")],
        [("d", (*M, "starting_range", "opioid-tolerant", "max"), "20 mg/day")],
        [("d", (*M, "trial_bolus_range", "max"), "20 mg")],
        [("d", (*M, "max_bolus"), {"value": "20 mg", "level": "soft", **SRC})],
        [("d", (*Z, "titration", "max_increase", "value"), "19.2 mcg/day")],
        [("d", (*B, "screening", "doses"), ["50 mcg", "50.001 mcg", "2000 mcg"])],
        [
            ("d", (*M, "max_concentration", "level"), "hard"),
            ("d", (*M, "max_concentration", "tag"), "V"),
            ("d", (*M, "max_concentration", "value"), "25 mg/mL"),
        ],
        [("d", (*B, "titration", "max_increase_percent", "value"), "100 %")],
        [("d", (*B, "titration", "max_increases", "count"), 1)],
        [("p", (*S2, "over_infusion_tolerance", "value"), "100 %")],
        [("p", (*S2, "low_reservoir_threshold", "value"), "19.999 mL")],
        [("p", (*S2, "empty_threshold", "value"), "1.999 mL")],
        [("p", (*S2, "empty_threshold", "value"), "0 mL")],
        [("p", (*S2, "eri_to_eos", "value"), "1 s")],
        [("d", (*M, "min_lockout"), {"value": "1 s", "level": "soft", **SRC})],
        [
            ("d", (*M, "trial_bolus_range", "min"), "0.000001 mg"),
            ("d", (*M, "trial_bolus_range", "max"), "0.000001 mg"),
        ],
        [("d", (*B, "titration", "max_increases", "window"), "1 s")],
        [("d", (*M, "product_concentrations", "values"), ["10 mg/mL", "0.000001 mg/mL"])],
        [("d", (*B, "screening", "doses"), ["0.000001 mg", "75 mcg"])],
        [("d", (*B, "screening", "min_interval"), "1 s")],
        [("p", (*P2, "concentration_ranges", "baclofen", "min"), "1000 mcg/mL")],
        [("p", (*P2, "concentration_ranges", "baclofen", "max"), "500 mcg/mL")],
        [
            ("p", (*P2, "concentration_ranges", "baclofen", "min"), "2000 mcg/mL"),
            ("p", (*P2, "concentration_ranges", "baclofen", "max"), "2000 mcg/mL"),
        ],
        [
            (
                "p",
                (*P2, "concentration_ranges", "hydromorphone"),
                {"min": "1 mg/mL", "max": "2 mg/mL", **SRC},
            )
        ],
        [("d", (*M, "max_daily", "tag"), "U")],
        [("d", (*M, "max_daily", "tag"), "D")],
        [
            ("d", (*M, "trial_bolus_range", "level"), "hard"),
            ("d", (*M, "trial_bolus_range", "tag"), "D"),
        ],
        [("d", (*B, "titration", "max_increases", "tag"), "D")],
        [("p", (*S2, "approved_drugs", "drugs"), [])],
    ],
    ids=lambda ops: "+".join(f"{'/'.join(o[1][-2:])}={o[2]}" for o in ops),
)
def test_values_on_the_boundary_are_accepted(ops: list[Op]) -> None:
    """REQ-LIB-010, REQ-LIB-004: equal to a bound is within it (soft = hard daily maximum,
    min = max, a dose equal to the daily maximum, 100 %, a threshold just below the next)."""
    _build(ops)


def test_optional_parts_may_be_absent() -> None:
    """REQ-LIB-001: absent optional values are unknown (None or empty), never defaulted."""
    lib = _build(
        [
            ("p", ("catheters",), DEL),
            ("d", (*M, "soft_max_daily"), DEL),
            ("d", (*M, "starting_range"), DEL),
            ("d", (*M, "trial_bolus_range"), DEL),
            ("d", (*M, "max_concentration"), DEL),
            ("d", ("warnings",), DEL),
            ("d", ("drugs", "hydromorphone"), DEL),
            ("d", ("drugs", "fentanyl"), DEL),
            ("d", ("drugs", "sufentanil"), DEL),
            ("d", ("drugs", "bupivacaine"), DEL),
            ("d", ("drugs", "clonidine"), DEL),
            ("d", (*B, "screening_concentrations"), DEL),
            ("d", (*B, "screening"), DEL),
            ("d", (*B, "titration", "max_increases"), DEL),
        ]
    )
    assert lib.catheters == ()
    assert lib.warnings == ()
    morphine = lib.drug("morphine", "pain")
    assert morphine.soft_max_daily is None
    assert morphine.starting_ranges == ()
    assert morphine.trial_bolus_range is None
    assert morphine.max_concentration is None
    assert morphine.starting_range("opioid-naive") is None
    baclofen = lib.drug("baclofen", "spasticity-spinal")
    assert baclofen.screening is None
    assert baclofen.screening_concentrations is None
    assert baclofen.titration is not None
    assert baclofen.titration.max_increases is None
    assert baclofen.titration.max_increase is None
    assert [x.id for x in baclofen.limits()] == [
        "baclofen.spasticity-spinal.max_daily",
        "baclofen.spasticity-spinal.soft_max_daily",
        "baclofen.spasticity-spinal.titration.max_increase_percent",
    ]


def test_built_values_are_exact() -> None:
    """REQ-LIB-001: ids, levels, base-unit values, sources (stripped), tags and notes."""
    lib = _build(
        [
            ("d", (*Z, "max_daily", "source"), "  13, 26 "),
            ("d", (*Z, "max_daily", "note"), "n"),
            ("p", (*S2, "min_rate", "source"), " 13 "),
            ("p", (*P2, "concentration_ranges", "baclofen", "note"), "n"),
        ]
    )
    z = lib.drug("ziconotide", "pain")
    assert z.max_daily == Limit(
        "ziconotide.pain.max_daily", Level.HARD, 19_200, Dimension.DOSE_RATE, "13, 26", Tag.V, "n"
    )
    assert z.titration is not None
    assert z.titration.max_increases == CountLimit(
        "ziconotide.pain.titration.max_increases",
        Level.HARD,
        3,
        604_800,
        "13, 27; docs/dosing-rules.md#r-lim-9",
        Tag.D,
        (
            "Label: 'no more than 2-3 times per week'; "
            "docs/dosing-rules.md fixes 3 in any rolling 7 days."
        ),
    )
    assert z.titration.max_increase_percent is None
    assert dict(z.starting_ranges)["any"].id == "ziconotide.pain.starting_range.any"
    assert z.id == "ziconotide.pain"
    assert (z.drug, z.indication, z.name, z.opioid) == (
        "ziconotide",
        "pain",
        "Ziconotide (Prialt)",
        False,
    )
    assert z.withdrawal_risk.id == "ziconotide.withdrawal_risk"
    assert z.withdrawal_risk.value is False
    assert z.approved_for_intrathecal_pump.id == "ziconotide.pain.approved_for_intrathecal_pump"
    assert z.approved_for_intrathecal_pump.value is True
    assert z.warning is None
    assert z.product_concentrations.id == "ziconotide.pain.product_concentrations"
    assert z.product_concentrations.values_ng_per_ml == (25_000, 100_000)
    h = lib.drug("hydromorphone", "pain")
    assert h.warning is not None and h.warning.id == "fda-2018"
    assert h.warning is lib.warnings[0]
    assert h.warning.source == "2, 52, 53"
    assert h.warning.tag is Tag.V
    assert h.warning.text.startswith("FDA Safety Communication, 14 Nov 2018")
    assert h.product_concentrations.values_ng_per_ml == ()
    assert h.max_daily.note.startswith("No [V] ceiling exists")
    b = lib.drug("baclofen", "spasticity-spinal")
    assert b.screening is not None
    assert (b.screening.id, b.screening.doses_ng, b.screening.min_interval_s) == (
        "baclofen.spasticity-spinal.screening",
        (50_000, 75_000, 100_000),
        86_400,
    )
    assert b.screening.start_dose_multiple == 2
    assert b.screening.source == "29; docs/dosing-rules.md#r-bacl-2"
    assert b.screening_concentrations is not None
    assert b.screening_concentrations.id == "baclofen.spasticity-spinal.screening_concentrations"
    assert b.screening_concentrations.values_ng_per_ml == (50_000,)
    assert b.withdrawal_risk.value is True
    pump = lib.pump("synchromed-ii-20")
    assert pump.min_rate == SourcedValue(
        "synchromed-ii-20.min_rate", 48_000, Dimension.VOLUME_RATE, "13", Tag.V
    )
    assert pump.reservoir_volume == SourcedValue(
        "synchromed-ii-20.reservoir_volume", 20_000_000, Dimension.VOLUME, "20", Tag.V
    )
    assert pump.over_infusion_tolerance.value == 1450
    assert pump.eri_to_eos is not None and pump.eri_to_eos.value == 90 * 86_400
    assert pump.approved_drugs == SourcedNames(
        "synchromed-ii-20.approved_drugs", ("morphine", "ziconotide", "baclofen"), "3, 20", Tag.V
    )
    assert pump.patient_bolus.id == "synchromed-ii-20.patient_bolus"
    assert pump.patient_bolus.tag is Tag.S
    assert pump.patient_bolus.note.startswith("The PTM/myPTM sources")
    assert (pump.name, pump.manufacturer) == ("Medtronic SynchroMed II 8637-20", "Medtronic")
    assert pump.tubing_volume is None
    assert pump.concentration_ranges == ()
    assert pump.mri_policy is MriPolicy.SUSPEND_VERIFY
    assert pump.mri.id == "synchromed-ii-20.mri_policy"
    assert pump.mri.source == "6, 7, 9; docs/dosing-rules.md#mri"
    prometra = lib.pump("prometra-ii-20")
    assert prometra.concentration_ranges == (
        ConcentrationRange(
            "prometra-ii-20.concentration_ranges.baclofen",
            "baclofen",
            500_000,
            2_000_000,
            "12; docs/dosing-rules.md#r-lim-5",
            Tag.V,
            "n",
        ),
    )
    assert prometra.mri_policy is MriPolicy.EMPTY_AND_RESET
    assert lib.pump("prometra-20").mri.note == "Relabelled MR Unsafe (FSN 2019)."
    catheter = lib.catheter("prometra-catheter")
    assert catheter.compatible_pumps.id == "prometra-catheter.compatible_pumps"
    assert catheter.compatible_pumps.names == ("prometra-ii-20", "prometra-ii-40")
    assert catheter.reference_length == SourcedValue(
        "prometra-catheter.reference_length",
        1100,
        Dimension.LENGTH,
        "11; docs/dosing-rules.md#r-prime-1",
        Tag.V,
    )
    assert catheter.volume_per_length is not None
    assert catheter.volume_per_length.id == "prometra-catheter.volume_per_length"
    assert catheter.volume_per_length.value == 260_000  # 0.0026 mL/cm in nl/m
    assert catheter.note.startswith("Formula from the Prometra II IFU")
    assert (catheter.name, catheter.manufacturer) == (
        "Flowonix Prometra intrathecal catheter",
        "Flowonix",
    )
    medtronic = lib.catheter("medtronic-8731sc")
    assert (medtronic.reference_length, medtronic.volume_per_length) == (None, None)
    assert (lib.drugs_version, lib.pumps_version, lib.drugs_file, lib.pumps_file) == (
        "0.1.0",
        "0.1.0",
        DRUGS,
        PUMPS,
    )


def test_unknown_key_hint_names_one_close_match() -> None:
    """REQ-LIB-010: the hint names the single closest allowed key."""
    err = _lib_error([("d", (*M, "max_dail"), {})])
    assert err.message.endswith("; did you mean 'max_daily'?")
    assert err.value == "max_dail"


# Equivalent mutants (mutmut 3.8.1 names, itdose.specs.library_schema.*), not killable by any test:
# - xǁ_Ctxǁkeys__mutmut_10, 11: get_close_matches(..., n=1) -> default n (3) / n=2: the matches
#   come best first and only close[0] is used, so the hint is the same.
# - xǁ_Ctxǁquantity__mutmut_2: parse_quantity(value, None, dim): the InvalidInput it raises is
#   caught and re-raised as a LibraryError naming `field` itself; parse_quantity's messages and
#   limits do not contain the field name, so nothing of it reaches the caller.
# - x__titration__mutmut_88, 94, 95: the field of the ctx.table call that re-reads
#   max_increase_percent: _limit has already accepted that table, so the call cannot fail.
# - x__drug_entry__mutmut_117 (118 before the split): allow_empty=False -> None, and
#   x__pump__mutmut_68, 78: positive=False -> None: the flag is only tested for truth, and None
#   is false like False.
