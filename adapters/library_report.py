"""Plain-text rendering of the library with its sources (for ``itdose drugs``).

Pure: returns a string. Every row shows the value, its level (hard/soft, for dosing limits), its
tag and its source, so that a reviewer can trace each number back to docs/clinical-basis.md or
docs/dosing-rules.md.
Unknown values are printed as ``unknown`` rather than left out, so a gap is visible.

All amounts of one drug entry are shown in ONE mass unit (mg when the entry's hard daily maximum
is at least 10 mg/day, else mcg), never mixed: "500 mcg/mL, 1 mg/mL" next to each other invites
the mg/mcg misreading that is a classic programming error (docs/clinical-basis.md#h2).
"""

from __future__ import annotations

from collections.abc import Sequence

from itdose.core.library import (
    CatheterModel,
    Concentrations,
    CountLimit,
    DrugEntry,
    Library,
    Limit,
    PumpModel,
    RangeLimit,
    SourcedValue,
)
from itdose.core.units import Dimension, format_quantity

__all__ = ["drugs_table"]

_HEADER = ("item", "value", "level", "tag", "source")
_UNKNOWN = ("unknown", "-", "-", "gap: not in the stored sources")
_LEGEND = (
    "Levels: hard = never exceeded, no override; soft = exceeded only with a clinician override "
    "and a reason.",
    "Tags: V verified, S secondary, U unverified (docs/clinical-basis.md); D design value "
    "(docs/dosing-rules.md).",
    "Sources: numbers refer to docs/clinical-basis.md#sources; 'PACC 2017' is the unretrieved "
    "PACC table "
    "(docs/clinical-basis.md#pacc).",
)

Row = tuple[str, str, str, str, str]


_MASS: dict[str, int] = {"mg": 10**6, "mcg": 10**3}
_MG_THRESHOLD_NG_PER_DAY = 10 * 10**6


def _exact(value: int, per: int) -> str:
    """``value / per`` as exact decimal text (``per`` a power of ten); no floats."""
    whole, frac = divmod(value, per)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(per)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def _entry_unit(entry: DrugEntry) -> str:
    return "mg" if entry.max_daily.value >= _MG_THRESHOLD_NG_PER_DAY else "mcg"


def _mass(value: int, dim: Dimension, unit: str) -> str:
    """A value of an amount-based dimension in the entry's mass unit."""
    suffix = {
        Dimension.AMOUNT: "",
        Dimension.CONCENTRATION: "/mL",
        Dimension.DOSE_RATE: "/day",
    }.get(dim)
    if suffix is None:
        return format_quantity(value, dim)
    return f"{_exact(value, _MASS[unit])} {unit}{suffix}"


def _limit_text(limit: Limit | RangeLimit | CountLimit, unit: str) -> str:
    if isinstance(limit, Limit):
        return _mass(limit.value, limit.unit, unit)
    if isinstance(limit, RangeLimit):
        return f"{_mass(limit.low, limit.unit, unit)} - {_mass(limit.high, limit.unit, unit)}"
    return limit.text()


def _table(rows: Sequence[Row], indent: str = "  ") -> list[str]:
    all_rows = [_HEADER, *rows]
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(_HEADER) - 1)]
    lines = []
    for row in all_rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append((indent + "  ".join([*cells, row[-1]])).rstrip())
    return lines


def _limit_row(
    item: str, limit: Limit | RangeLimit | CountLimit | None, notes: list[str], unit: str
) -> Row | None:
    if limit is None:
        return None
    if limit.note:
        notes.append(f"{item}: {limit.note}")
    return (item, _limit_text(limit, unit), limit.level.value, limit.tag.value, limit.source)


def _concentrations_row(
    item: str, conc: Concentrations | None, notes: list[str], unit: str
) -> Row | None:
    if conc is None:
        return None
    if conc.note:
        notes.append(f"{item}: {conc.note}")
    text = ", ".join(_mass(v, Dimension.CONCENTRATION, unit) for v in conc.values_ng_per_ml)
    return (item, text or "none", "-", conc.tag.value, conc.source)


def _entry_lines(entry: DrugEntry) -> list[str]:
    notes: list[str] = []
    unit = _entry_unit(entry)
    approved = entry.approved_for_intrathecal_pump
    rows: list[Row | None] = [
        (
            "approved for IT pump",
            "yes" if approved.value else "NO (override required)",
            "-",
            approved.tag.value,
            approved.source,
        ),
        _concentrations_row("product concentrations", entry.product_concentrations, notes, unit),
        _concentrations_row("screening only", entry.screening_concentrations, notes, unit),
        _limit_row("max concentration", entry.max_concentration, notes, unit),
        _limit_row("max daily", entry.max_daily, notes, unit),
        _limit_row("soft max daily", entry.soft_max_daily, notes, unit),
    ]
    for status, start in entry.starting_ranges:
        rows.append(_limit_row(f"starting range ({status})", start, notes, unit))
    rows.append(_limit_row("trial bolus", entry.trial_bolus_range, notes, unit))
    rows.append(_limit_row("max bolus", entry.max_bolus, notes, unit))
    rows.append(_limit_row("min lockout", entry.min_lockout, notes, unit))
    if entry.titration is not None:
        rows.append(_limit_row("titration step", entry.titration.max_increase, notes, unit))
        rows.append(
            _limit_row("titration step %", entry.titration.max_increase_percent, notes, unit)
        )
        rows.append(_limit_row("titration count", entry.titration.max_increases, notes, unit))
    if entry.screening is not None:
        screening = entry.screening
        doses = ", ".join(_mass(d, Dimension.AMOUNT, unit) for d in screening.doses_ng)
        gap = format_quantity(screening.min_interval_s, Dimension.DURATION)
        rows.append(
            (
                "screening doses",
                f"{doses} (>= {gap} apart)",
                "-",
                screening.tag.value,
                screening.source,
            )
        )
        if screening.note:
            notes.append(f"screening: {screening.note}")
    risk = entry.withdrawal_risk
    rows.append(
        ("withdrawal risk", "YES" if risk.value else "no", "-", risk.tag.value, risk.source)
    )
    if risk.note and risk.value:
        notes.append(f"withdrawal risk: {risk.note}")
    title = f"{entry.drug} / {entry.indication}: {entry.name}"
    lines = [title, *_table([r for r in rows if r is not None])]
    if entry.warning is not None:
        lines.append(f"  WARNING [{entry.warning.tag.value}; {entry.warning.source}]:")
        lines.append("    " + entry.warning.text)
    lines += [f"  note - {note}" for note in notes]
    return lines


def _value_row(item: str, value: SourcedValue | None, notes: list[str]) -> Row:
    if value is None:
        return (item, *_UNKNOWN)
    if value.note:
        notes.append(f"{item}: {value.note}")
    return (item, value.text(), "-", value.tag.value, value.source)


def _pump_lines(pump: PumpModel) -> list[str]:
    notes: list[str] = []
    rows: list[Row] = [
        _value_row("reservoir volume", pump.reservoir_volume, notes),
        _value_row("min programmable rate", pump.min_rate, notes),
        _value_row("low-reservoir threshold", pump.low_reservoir_threshold, notes),
        _value_row("empty threshold", pump.empty_threshold, notes),
        _value_row("tubing (dead) volume", pump.tubing_volume, notes),
        _value_row("over-infusion tolerance", pump.over_infusion_tolerance, notes),
        _value_row("under-infusion tolerance", pump.under_infusion_tolerance, notes),
        _value_row("ERI -> EOS", pump.eri_to_eos, notes),
    ]
    for item, names in (
        ("approved drugs", pump.approved_drugs),
        ("patient bolus", pump.patient_bolus),
    ):
        rows.append((item, ", ".join(names.names) or "none", "-", names.tag.value, names.source))
        if names.note:
            notes.append(f"{item}: {names.note}")
    for narrowing in pump.concentration_ranges:
        unit = "mcg" if narrowing.low_ng_per_ml < _MASS["mg"] else "mg"
        low = _mass(narrowing.low_ng_per_ml, Dimension.CONCENTRATION, unit)
        high = _mass(narrowing.high_ng_per_ml, Dimension.CONCENTRATION, unit)
        rows.append(
            (
                f"{narrowing.drug} concentration",
                f"{low} - {high}",
                "-",
                narrowing.tag.value,
                narrowing.source,
            )
        )
    rows.append(("MRI policy", pump.mri.policy.value, "-", pump.mri.tag.value, pump.mri.source))
    if pump.mri.note:
        notes.append(f"MRI policy: {pump.mri.note}")
    return [
        f"{pump.id}: {pump.name}",
        *_table(rows),
        *(f"  note - {note}" for note in notes),
    ]


def _catheter_lines(catheter: CatheterModel) -> list[str]:
    notes: list[str] = []
    pumps = catheter.compatible_pumps
    rows: list[Row] = [
        ("for pumps", ", ".join(pumps.names), "-", pumps.tag.value, pumps.source),
        _value_row("reference length", catheter.reference_length, notes),
        _value_row("volume per length", catheter.volume_per_length, notes),
    ]
    if catheter.note:
        notes.append(catheter.note)
    return [
        f"{catheter.id}: {catheter.name}",
        *_table(rows),
        *(f"  note - {note}" for note in notes),
    ]


def drugs_table(library: Library) -> str:
    """The whole library as plain text: drugs per indication, then pumps, then catheters."""
    lines = [
        f"itdose library {library.version} ({library.drugs_file}, {library.pumps_file})",
        *_LEGEND,
        "",
        "DRUGS",
        "",
    ]
    for entry in library.entries:
        lines += [*_entry_lines(entry), ""]
    lines += ["PUMPS", ""]
    for pump in library.pumps:
        lines += [*_pump_lines(pump), ""]
    lines += ["CATHETERS", ""]
    for catheter in library.catheters:
        lines += [*_catheter_lines(catheter), ""]
    return "\n".join(lines).rstrip() + "\n"
