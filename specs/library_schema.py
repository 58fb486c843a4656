"""The schema of the drug and pump library files: a parsed TOML mapping in, a typed
:class:`~itdose.core.library.Library` out.

Outside the pure core on purpose (docs/architecture.md#drug-library): the core holds the
library's value types and lookups, and an integrator embedding :mod:`itdose.core` builds a
:class:`~itdose.core.library.Library` however it likes; this module is how the project builds one
from ``drugs.toml`` and ``pumps.toml``. It does no I/O itself (:mod:`itdose.specs` reads the
files). The rules it enforces are those of :mod:`itdose.core.library`'s header (levels, tags,
sources; docs/dosing-rules.md#limits). Every defect raises
:class:`~itdose.core.errors.LibraryError` naming the file, the entry and the field, in one line.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import NoReturn

from itdose.core.errors import InvalidInput, LibraryError
from itdose.core.library import (
    INDICATIONS,
    OPIOID_STATUSES,
    CatheterModel,
    ConcentrationRange,
    Concentrations,
    CountLimit,
    DrugEntry,
    Level,
    Library,
    Limit,
    MriPolicy,
    PumpModel,
    RangeLimit,
    Screening,
    SourcedFlag,
    SourcedNames,
    SourcedPolicy,
    SourcedValue,
    Tag,
    Titration,
    Warning,
)
from itdose.core.units import Dimension, format_quantity, parse_quantity

__all__ = ["library_from_mapping"]


_ENTRY_TOP = "<top level>"
_PERCENT_MAX_BP = 10_000


class _Ctx:
    """Where we are (file and entry) so that every error names them."""

    def __init__(self, file: str, entry: str) -> None:
        self.file = file
        self.entry = entry

    def sub(self, entry: str) -> _Ctx:
        return _Ctx(self.file, entry)

    def fail(self, field: str, message: str, value: object = None) -> NoReturn:
        raise LibraryError(self.file, self.entry, field, message, value=value)

    def table(self, value: object, field: str) -> Mapping[str, object]:
        if not isinstance(value, Mapping):
            self.fail(field, f"must be a table, got {type(value).__name__}", value)
        if not all(isinstance(k, str) for k in value):
            self.fail(field, "must be a table with text keys", value)
        return value

    def keys(
        self,
        table: Mapping[str, object],
        prefix: str,
        required: tuple[str, ...],
        optional: tuple[str, ...] = (),
    ) -> None:
        allowed = required + optional
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.fail(
                    prefix + key,
                    f"unknown key (allowed: {', '.join(allowed)}){hint}",
                    key,
                )
        for key in required:
            if key not in table:
                self.fail(prefix + key, "is missing (required)")

    def string(self, table: Mapping[str, object], key: str, prefix: str) -> str:
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            self.fail(prefix + key, "must be a non-empty string", value)
        return value

    def optional_string(self, table: Mapping[str, object], key: str, prefix: str) -> str:
        return self.string(table, key, prefix) if key in table else ""

    def boolean(self, table: Mapping[str, object], key: str, prefix: str) -> bool:
        value = table[key]
        if not isinstance(value, bool):
            self.fail(prefix + key, "must be true or false", value)
        return value

    def count(self, table: Mapping[str, object], key: str, prefix: str) -> int:
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.fail(prefix + key, "must be a whole number of at least 1", value)
        return value

    def quantity(self, value: object, field: str, dim: Dimension) -> int:
        try:
            return parse_quantity(value, field, dim)
        except InvalidInput as exc:
            message = exc.message if exc.limit is None else f"{exc.message} (limit {exc.limit})"
            raise LibraryError(self.file, self.entry, field, message, value=value) from None

    def names(self, table: Mapping[str, object], key: str, prefix: str) -> tuple[str, ...]:
        value = table[key]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(prefix + key, "must be a list of non-empty strings", value)
        if len(set(value)) != len(value):
            self.fail(prefix + key, "lists a name twice", value)
        return tuple(value)

    def source_tag(self, table: Mapping[str, object], prefix: str) -> tuple[str, Tag]:
        source = self.string(table, "source", prefix)
        raw_tag = table["tag"]
        tags = [t.value for t in Tag]
        if raw_tag not in tags:
            self.fail(prefix + "tag", f"must be one of {', '.join(tags)}", raw_tag)
        return source.strip(), Tag(raw_tag)


_SOURCED = ("source", "tag")


def _level(ctx: _Ctx, table: Mapping[str, object], prefix: str, tag: Tag) -> Level:
    raw = table["level"]
    if raw not in ("hard", "soft"):
        ctx.fail(prefix + "level", "must be 'hard' or 'soft'", raw)
    level = Level(raw)
    if level is Level.HARD and tag not in (Tag.V, Tag.D, Tag.U):
        ctx.fail(
            prefix + "level",
            f"a [{tag.value}] value cannot be a hard limit: hard limits must be verified [V] or "
            "design [D] values (docs/dosing-rules.md)",
            raw,
        )
    return level


def _limit(
    ctx: _Ctx,
    raw: object,
    field: str,
    limit_id: str,
    dim: Dimension,
    *,
    daily_max: bool = False,
) -> Limit:
    table = ctx.table(raw, field)
    prefix = field + "."
    ctx.keys(table, prefix, ("value", "level", *_SOURCED), ("note",))
    source, tag = ctx.source_tag(table, prefix)
    level = _level(ctx, table, prefix, tag)
    note = ctx.optional_string(table, "note", prefix)
    if level is Level.HARD and tag is Tag.U:
        if not daily_max:
            ctx.fail(
                prefix + "level",
                "an unverified [U] value may be hard only as the daily maximum of a drug with no "
                "verified ceiling (docs/dosing-rules.md)",
                "hard",
            )
        if not note:
            ctx.fail(
                prefix + "note",
                "a hard daily maximum taken from an unverified [U] value must say so in a note "
                "(docs/dosing-rules.md)",
            )
    value = ctx.quantity(table["value"], prefix + "value", dim)
    if value <= 0:
        ctx.fail(prefix + "value", "must be greater than zero", table["value"])
    return Limit(limit_id, level, value, dim, source, tag, note)


def _range(ctx: _Ctx, raw: object, field: str, limit_id: str, dim: Dimension) -> RangeLimit:
    table = ctx.table(raw, field)
    prefix = field + "."
    ctx.keys(table, prefix, ("min", "max", "level", *_SOURCED), ("note",))
    source, tag = ctx.source_tag(table, prefix)
    level = _level(ctx, table, prefix, tag)
    if level is Level.HARD and tag is Tag.U:
        ctx.fail(
            prefix + "level", "an unverified [U] range must be soft (docs/dosing-rules.md)", "hard"
        )
    low = ctx.quantity(table["min"], prefix + "min", dim)
    high = ctx.quantity(table["max"], prefix + "max", dim)
    if high <= 0:
        ctx.fail(prefix + "max", "must be greater than zero", table["max"])
    if low > high:
        ctx.fail(prefix + "min", f"is above max ({table['max']})", table["min"])
    note = ctx.optional_string(table, "note", prefix)
    return RangeLimit(limit_id, level, low, high, dim, source, tag, note)


def _count_limit(ctx: _Ctx, raw: object, field: str, limit_id: str) -> CountLimit:
    table = ctx.table(raw, field)
    prefix = field + "."
    ctx.keys(table, prefix, ("count", "window", "level", *_SOURCED), ("note",))
    source, tag = ctx.source_tag(table, prefix)
    level = _level(ctx, table, prefix, tag)
    if level is Level.HARD and tag is Tag.U:
        ctx.fail(
            prefix + "level", "an unverified [U] limit must be soft (docs/dosing-rules.md)", "hard"
        )
    count = ctx.count(table, "count", prefix)
    window_s = ctx.quantity(table["window"], prefix + "window", Dimension.DURATION)
    if window_s <= 0:
        ctx.fail(prefix + "window", "must be greater than zero", table["window"])
    note = ctx.optional_string(table, "note", prefix)
    return CountLimit(limit_id, level, count, window_s, source, tag, note)


def _value(
    ctx: _Ctx, raw: object, field: str, value_id: str, dim: Dimension, *, positive: bool = True
) -> SourcedValue:
    table = ctx.table(raw, field)
    prefix = field + "."
    ctx.keys(table, prefix, ("value", *_SOURCED), ("note",))
    source, tag = ctx.source_tag(table, prefix)
    value = ctx.quantity(table["value"], prefix + "value", dim)
    if positive and value <= 0:
        ctx.fail(prefix + "value", "must be greater than zero", table["value"])
    if dim is Dimension.PERCENT and value > _PERCENT_MAX_BP:
        ctx.fail(prefix + "value", "must not exceed 100 %", table["value"])
    return SourcedValue(
        value_id, value, dim, source, tag, ctx.optional_string(table, "note", prefix)
    )


def _flag(ctx: _Ctx, raw: object, field: str, flag_id: str) -> SourcedFlag:
    table = ctx.table(raw, field)
    prefix = field + "."
    ctx.keys(table, prefix, ("value", *_SOURCED), ("note",))
    source, tag = ctx.source_tag(table, prefix)
    value = ctx.boolean(table, "value", prefix)
    return SourcedFlag(flag_id, value, source, tag, ctx.optional_string(table, "note", prefix))


def _sourced_names(
    ctx: _Ctx, raw: object, field: str, names_id: str, key: str, known: tuple[str, ...], what: str
) -> SourcedNames:
    table = ctx.table(raw, field)
    prefix = field + "."
    ctx.keys(table, prefix, (key, *_SOURCED), ("note",))
    source, tag = ctx.source_tag(table, prefix)
    names = ctx.names(table, key, prefix)
    for name in names:
        if name not in known:
            ctx.fail(prefix + key, f"{name!r} is not a {what} in the library", name)
    return SourcedNames(names_id, names, source, tag, ctx.optional_string(table, "note", prefix))


def _concentrations(
    ctx: _Ctx, raw: object, field: str, values_id: str, *, allow_empty: bool
) -> Concentrations:
    table = ctx.table(raw, field)
    prefix = field + "."
    ctx.keys(table, prefix, ("values", *_SOURCED), ("note",))
    source, tag = ctx.source_tag(table, prefix)
    raw_values = table["values"]
    if not isinstance(raw_values, list):
        ctx.fail(prefix + "values", "must be a list of concentrations", raw_values)
    if not raw_values and not allow_empty:
        ctx.fail(prefix + "values", "must list at least one concentration", raw_values)
    values: list[int] = []
    for index, item in enumerate(raw_values):
        value = ctx.quantity(item, f"{prefix}values[{index}]", Dimension.CONCENTRATION)
        if value <= 0:
            ctx.fail(f"{prefix}values[{index}]", "must be greater than zero", item)
        if value in values:
            ctx.fail(f"{prefix}values[{index}]", "lists a concentration twice", item)
        values.append(value)
    note = ctx.optional_string(table, "note", prefix)
    return Concentrations(values_id, tuple(values), source, tag, note)


def _check_version(ctx: _Ctx, top: Mapping[str, object]) -> str:
    version = top["version"]
    if not isinstance(version, str) or not version.strip():
        ctx.fail("version", "must be a non-empty string", version)
    return version


# --- drugs -------------------------------------------------------------------------------------

_DRUG_KEYS = ("name", "opioid", "withdrawal_risk", "indications")
_ENTRY_REQUIRED = ("approved_for_intrathecal_pump", "product_concentrations", "max_daily")
_ENTRY_OPTIONAL = (
    "warning",
    "screening_concentrations",
    "max_concentration",
    "soft_max_daily",
    "starting_range",
    "trial_bolus_range",
    "max_bolus",
    "min_lockout",
    "titration",
    "screening",
    "note",
)


def _warnings(ctx: _Ctx, raw: object) -> tuple[Warning, ...]:
    table = ctx.table(raw, "warnings")
    result: list[Warning] = []
    for warning_id, body in table.items():
        wctx = ctx.sub(f"warnings.{warning_id}")
        wtable = wctx.table(body, "warnings." + warning_id)
        wctx.keys(wtable, "", ("text", *_SOURCED))
        source, tag = wctx.source_tag(wtable, "")
        result.append(Warning(warning_id, wctx.string(wtable, "text", ""), source, tag))
    return tuple(result)


def _screening(ctx: _Ctx, raw: object, entry_id: str) -> Screening:
    table = ctx.table(raw, "screening")
    prefix = "screening."
    ctx.keys(table, prefix, ("doses", "min_interval", "start_dose_multiple", *_SOURCED), ("note",))
    source, tag = ctx.source_tag(table, prefix)
    raw_doses = table["doses"]
    if not isinstance(raw_doses, list) or not raw_doses:
        ctx.fail(prefix + "doses", "must be a non-empty list of amounts", raw_doses)
    doses: list[int] = []
    for index, item in enumerate(raw_doses):
        dose = ctx.quantity(item, f"{prefix}doses[{index}]", Dimension.AMOUNT)
        if dose <= 0:
            ctx.fail(f"{prefix}doses[{index}]", "must be greater than zero", item)
        if doses and dose <= doses[-1]:
            ctx.fail(f"{prefix}doses[{index}]", "must be larger than the previous dose", item)
        doses.append(dose)
    interval = ctx.quantity(table["min_interval"], prefix + "min_interval", Dimension.DURATION)
    if interval <= 0:
        ctx.fail(prefix + "min_interval", "must be greater than zero", table["min_interval"])
    multiple = ctx.count(table, "start_dose_multiple", prefix)
    note = ctx.optional_string(table, "note", prefix)
    return Screening(f"{entry_id}.screening", tuple(doses), interval, multiple, source, tag, note)


def _titration(ctx: _Ctx, raw: object, entry_id: str) -> Titration:
    table = ctx.table(raw, "titration")
    prefix = "titration."
    ctx.keys(table, prefix, (), ("max_increase", "max_increase_percent", "max_increases"))
    if not table:
        ctx.fail("titration", "is empty: omit it or give at least one rule")
    base = f"{entry_id}.titration."
    step = (
        _limit(
            ctx,
            table["max_increase"],
            prefix + "max_increase",
            base + "max_increase",
            Dimension.DOSE_RATE,
        )
        if "max_increase" in table
        else None
    )
    percent = (
        _limit(
            ctx,
            table["max_increase_percent"],
            prefix + "max_increase_percent",
            base + "max_increase_percent",
            Dimension.PERCENT,
        )
        if "max_increase_percent" in table
        else None
    )
    if percent is not None and percent.value > _PERCENT_MAX_BP:
        raw = ctx.table(table["max_increase_percent"], prefix + "max_increase_percent")["value"]
        ctx.fail(prefix + "max_increase_percent.value", "must not exceed 100 %", raw)
    count = (
        _count_limit(ctx, table["max_increases"], prefix + "max_increases", base + "max_increases")
        if "max_increases" in table
        else None
    )
    return Titration(step, percent, count)


def _starting_ranges(
    ctx: _Ctx, raw: object, entry_id: str, opioid: bool
) -> tuple[tuple[str, RangeLimit], ...]:
    table = ctx.table(raw, "starting_range")
    prefix = "starting_range."
    ctx.keys(table, prefix, (), OPIOID_STATUSES)
    if not table:
        ctx.fail("starting_range", "is empty: omit it or give at least one range")
    if "any" in table and len(table) > 1:
        ctx.fail(prefix + "any", "'any' cannot be combined with opioid-naive/opioid-tolerant")
    if not opioid and "any" not in table:
        ctx.fail(prefix + next(iter(table)), "a non-opioid drug takes only an 'any' range")
    return tuple(
        (
            status,
            _range(
                ctx,
                body,
                prefix + status,
                f"{entry_id}.starting_range.{status}",
                Dimension.DOSE_RATE,
            ),
        )
        for status, body in table.items()
    )


def _drug_entry(
    ctx: _Ctx,
    raw: object,
    drug: str,
    indication: str,
    common: tuple[str, bool, SourcedFlag],
    warnings: tuple[Warning, ...],
) -> DrugEntry:
    name, opioid, withdrawal = common
    table = ctx.table(raw, f"indications.{indication}")
    ctx.keys(table, "", _ENTRY_REQUIRED, _ENTRY_OPTIONAL)
    entry_id = f"{drug}.{indication}"

    def opt_limit(key: str, dim: Dimension) -> Limit | None:
        if key not in table:
            return None
        return _limit(ctx, table[key], key, f"{entry_id}.{key}", dim)

    approved = _flag(
        ctx,
        table["approved_for_intrathecal_pump"],
        "approved_for_intrathecal_pump",
        f"{entry_id}.approved_for_intrathecal_pump",
    )
    warning: Warning | None = None
    if "warning" in table:
        ref = ctx.string(table, "warning", "")
        if approved.value:
            ctx.fail("warning", "an approved drug carries no unapproved-drug warning", ref)
        found = [w for w in warnings if w.id == ref]
        if not found:
            ctx.fail("warning", "names no table under [warnings]", ref)
        warning = found[0]
    elif not approved.value:
        ctx.fail(
            "warning",
            "is missing: a drug not approved for intrathecal pumps must carry the FDA 2018 "
            "warning (docs/dosing-rules.md)",
        )
    products = _concentrations(
        ctx,
        table["product_concentrations"],
        "product_concentrations",
        f"{entry_id}.product_concentrations",
        allow_empty=not approved.value,
    )
    screening_c = None
    if "screening_concentrations" in table:
        screening_c = _concentrations(
            ctx,
            table["screening_concentrations"],
            "screening_concentrations",
            f"{entry_id}.screening_concentrations",
            allow_empty=False,
        )
        for value in screening_c.values_ng_per_ml:
            if value in products.values_ng_per_ml:
                ctx.fail(
                    "screening_concentrations.values",
                    "a screening-only strength cannot also be a pump-fill product strength",
                    format_quantity(value, Dimension.CONCENTRATION),
                )
    max_conc = opt_limit("max_concentration", Dimension.CONCENTRATION)
    if max_conc is not None and max_conc.level is Level.HARD:
        for value in products.values_ng_per_ml:
            if value > max_conc.value:
                ctx.fail(
                    "product_concentrations.values",
                    f"a product strength is above the hard max_concentration {max_conc.text()}",
                    format_quantity(value, Dimension.CONCENTRATION),
                )
    max_daily = _limit(
        ctx,
        table["max_daily"],
        "max_daily",
        f"{entry_id}.max_daily",
        Dimension.DOSE_RATE,
        daily_max=True,
    )
    if max_daily.level is not Level.HARD:
        ctx.fail("max_daily.level", "the daily maximum must be a hard limit", "soft")
    soft_max = opt_limit("soft_max_daily", Dimension.DOSE_RATE)
    if soft_max is not None:
        if soft_max.level is not Level.SOFT:
            ctx.fail("soft_max_daily.level", "must be 'soft'", soft_max.level.value)
        if soft_max.value > max_daily.value:
            ctx.fail(
                "soft_max_daily.value",
                f"soft limit is above the hard daily maximum {max_daily.text()}",
                soft_max.text(),
            )
    starts = (
        _starting_ranges(ctx, table["starting_range"], entry_id, opioid)
        if "starting_range" in table
        else ()
    )
    for status, start in starts:
        if start.high > max_daily.value:
            ctx.fail(
                f"starting_range.{status}.max",
                f"is above the hard daily maximum {max_daily.text()}",
                format_quantity(start.high, Dimension.DOSE_RATE),
            )
    trial = None
    if "trial_bolus_range" in table:
        trial = _range(
            ctx,
            table["trial_bolus_range"],
            "trial_bolus_range",
            f"{entry_id}.trial_bolus_range",
            Dimension.AMOUNT,
        )
        if trial.high > max_daily.value:
            ctx.fail(
                "trial_bolus_range.max",
                f"a single trial dose above the hard daily maximum {max_daily.text()}",
                format_quantity(trial.high, Dimension.AMOUNT),
            )
    max_bolus = opt_limit("max_bolus", Dimension.AMOUNT)
    if max_bolus is not None and max_bolus.value > max_daily.value:
        ctx.fail(
            "max_bolus.value",
            f"a bolus above the hard daily maximum {max_daily.text()}",
            max_bolus.text(),
        )
    min_lockout = opt_limit("min_lockout", Dimension.DURATION)
    titration = _titration(ctx, table["titration"], entry_id) if "titration" in table else None
    if (
        titration is not None
        and titration.max_increase is not None
        and titration.max_increase.value > max_daily.value
    ):
        ctx.fail(
            "titration.max_increase.value",
            f"is above the hard daily maximum {max_daily.text()}",
            titration.max_increase.text(),
        )
    screening = _screening(ctx, table["screening"], entry_id) if "screening" in table else None
    if screening is not None and screening.doses_ng[-1] > max_daily.value:
        ctx.fail(
            "screening.doses",
            f"a screening dose is above the hard daily maximum {max_daily.text()}",
            format_quantity(screening.doses_ng[-1], Dimension.AMOUNT),
        )
    if "note" in table:
        ctx.string(table, "note", "")
    return DrugEntry(
        drug=drug,
        indication=indication,
        name=name,
        opioid=opioid,
        withdrawal_risk=withdrawal,
        approved_for_intrathecal_pump=approved,
        warning=warning,
        product_concentrations=products,
        screening_concentrations=screening_c,
        max_concentration=max_conc,
        max_daily=max_daily,
        soft_max_daily=soft_max,
        starting_ranges=starts,
        trial_bolus_range=trial,
        max_bolus=max_bolus,
        min_lockout=min_lockout,
        titration=titration,
        screening=screening,
    )


def _drug_entries(
    file: str, top: Mapping[str, object]
) -> tuple[str, tuple[DrugEntry, ...], tuple[Warning, ...]]:
    ctx = _Ctx(file, _ENTRY_TOP)
    ctx.keys(top, "", ("version", "drugs"), ("warnings",))
    version = _check_version(ctx, top)
    warnings = _warnings(ctx, top["warnings"]) if "warnings" in top else ()
    drugs = ctx.table(top["drugs"], "drugs")
    if not drugs:
        ctx.fail("drugs", "lists no drug")
    entries: list[DrugEntry] = []
    for drug, body in drugs.items():
        dctx = ctx.sub(f"drugs.{drug}")
        table = dctx.table(body, "drugs." + drug)
        dctx.keys(table, "", _DRUG_KEYS)
        name = dctx.string(table, "name", "")
        opioid = dctx.boolean(table, "opioid", "")
        withdrawal = _flag(
            dctx, table["withdrawal_risk"], "withdrawal_risk", f"{drug}.withdrawal_risk"
        )
        indications = dctx.table(table["indications"], "indications")
        if not indications:
            dctx.fail("indications", "lists no indication")
        for indication, entry_body in indications.items():
            if indication not in INDICATIONS:
                dctx.fail(
                    f"indications.{indication}",
                    f"is not a known indication (one of {', '.join(INDICATIONS)})",
                    indication,
                )
            ectx = ctx.sub(f"drugs.{drug}.indications.{indication}")
            entries.append(
                _drug_entry(
                    ectx, entry_body, drug, indication, (name, opioid, withdrawal), warnings
                )
            )
    return version, tuple(entries), warnings


# --- pumps and catheters -----------------------------------------------------------------------

_PUMP_REQUIRED = (
    "name",
    "manufacturer",
    "reservoir_volume",
    "low_reservoir_threshold",
    "empty_threshold",
    "over_infusion_tolerance",
    "under_infusion_tolerance",
    "approved_drugs",
    "patient_bolus",
    "mri_policy",
)
_PUMP_OPTIONAL = ("min_rate", "tubing_volume", "eri_to_eos", "concentration_ranges", "note")


def _pump(ctx: _Ctx, pump_id: str, raw: object, entries: tuple[DrugEntry, ...]) -> PumpModel:
    table = ctx.table(raw, "pumps." + pump_id)
    ctx.keys(table, "", _PUMP_REQUIRED, _PUMP_OPTIONAL)
    drugs = tuple(dict.fromkeys(e.drug for e in entries))

    def value(key: str, dim: Dimension, *, positive: bool = True) -> SourcedValue:
        return _value(ctx, table[key], key, f"{pump_id}.{key}", dim, positive=positive)

    def opt(key: str, dim: Dimension, *, positive: bool = True) -> SourcedValue | None:
        return value(key, dim, positive=positive) if key in table else None

    reservoir = value("reservoir_volume", Dimension.VOLUME)
    min_rate = opt("min_rate", Dimension.VOLUME_RATE)
    low = value("low_reservoir_threshold", Dimension.VOLUME)
    empty = value("empty_threshold", Dimension.VOLUME, positive=False)
    tubing = opt("tubing_volume", Dimension.VOLUME, positive=False)
    if low.value >= reservoir.value:
        ctx.fail(
            "low_reservoir_threshold.value",
            f"must be below the reservoir volume {reservoir.text()}",
            low.text(),
        )
    if empty.value >= low.value:
        ctx.fail(
            "empty_threshold.value",
            f"must be below the low-reservoir threshold {low.text()}",
            empty.text(),
        )
    over = value("over_infusion_tolerance", Dimension.PERCENT)
    under = value("under_infusion_tolerance", Dimension.PERCENT)
    eri = opt("eri_to_eos", Dimension.DURATION)
    approved = _sourced_names(
        ctx,
        table["approved_drugs"],
        "approved_drugs",
        f"{pump_id}.approved_drugs",
        "drugs",
        drugs,
        "drug",
    )
    bolus = _sourced_names(
        ctx,
        table["patient_bolus"],
        "patient_bolus",
        f"{pump_id}.patient_bolus",
        "drugs",
        drugs,
        "drug",
    )
    ranges: list[ConcentrationRange] = []
    if "concentration_ranges" in table:
        narrowing = ctx.table(table["concentration_ranges"], "concentration_ranges")
        for drug, body in narrowing.items():
            field = f"concentration_ranges.{drug}"
            if drug not in drugs:
                ctx.fail(field, f"{drug!r} is not a drug in the library", drug)
            rtable = ctx.table(body, field)
            prefix = field + "."
            ctx.keys(rtable, prefix, ("min", "max", *_SOURCED), ("note",))
            source, tag = ctx.source_tag(rtable, prefix)
            low_c = ctx.quantity(rtable["min"], prefix + "min", Dimension.CONCENTRATION)
            high_c = ctx.quantity(rtable["max"], prefix + "max", Dimension.CONCENTRATION)
            if low_c > high_c:
                ctx.fail(prefix + "min", f"is above max ({rtable['max']})", rtable["min"])
            products = {
                c
                for e in entries
                if e.drug == drug
                for c in e.product_concentrations.values_ng_per_ml
            }
            if products and not any(low_c <= c <= high_c for c in products):
                ctx.fail(field, "admits none of the drug's product strengths", body)
            note = ctx.optional_string(rtable, "note", prefix)
            ranges.append(
                ConcentrationRange(f"{pump_id}.{field}", drug, low_c, high_c, source, tag, note)
            )
    mri = ctx.table(table["mri_policy"], "mri_policy")
    ctx.keys(mri, "mri_policy.", ("value", *_SOURCED), ("note",))
    mri_source, mri_tag = ctx.source_tag(mri, "mri_policy.")
    policies = [p.value for p in MriPolicy]
    if mri["value"] not in policies:
        ctx.fail("mri_policy.value", f"must be one of {', '.join(policies)}", mri["value"])
    policy = MriPolicy(mri["value"])
    mri_note = ctx.optional_string(mri, "note", "mri_policy.")
    mri_sourced = SourcedPolicy(f"{pump_id}.mri_policy", policy, mri_source, mri_tag, mri_note)
    if "note" in table:
        ctx.string(table, "note", "")
    return PumpModel(
        id=pump_id,
        name=ctx.string(table, "name", ""),
        manufacturer=ctx.string(table, "manufacturer", ""),
        reservoir_volume=reservoir,
        min_rate=min_rate,
        low_reservoir_threshold=low,
        empty_threshold=empty,
        tubing_volume=tubing,
        over_infusion_tolerance=over,
        under_infusion_tolerance=under,
        eri_to_eos=eri,
        approved_drugs=approved,
        patient_bolus=bolus,
        concentration_ranges=tuple(ranges),
        mri=mri_sourced,
    )


def _catheter(ctx: _Ctx, catheter_id: str, raw: object, pump_ids: tuple[str, ...]) -> CatheterModel:
    table = ctx.table(raw, "catheters." + catheter_id)
    ctx.keys(
        table,
        "",
        ("name", "manufacturer", "compatible_pumps"),
        ("reference_length", "volume_per_length", "note"),
    )
    pumps = _sourced_names(
        ctx,
        table["compatible_pumps"],
        "compatible_pumps",
        f"{catheter_id}.compatible_pumps",
        "pumps",
        pump_ids,
        "pump model",
    )
    if not pumps.names:
        ctx.fail("compatible_pumps.pumps", "must list at least one pump model")
    length = (
        _value(
            ctx,
            table["reference_length"],
            "reference_length",
            f"{catheter_id}.reference_length",
            Dimension.LENGTH,
        )
        if "reference_length" in table
        else None
    )
    per_length = (
        _value(
            ctx,
            table["volume_per_length"],
            "volume_per_length",
            f"{catheter_id}.volume_per_length",
            Dimension.VOLUME_PER_LENGTH,
        )
        if "volume_per_length" in table
        else None
    )
    return CatheterModel(
        id=catheter_id,
        name=ctx.string(table, "name", ""),
        manufacturer=ctx.string(table, "manufacturer", ""),
        compatible_pumps=pumps,
        reference_length=length,
        volume_per_length=per_length,
        note=ctx.optional_string(table, "note", ""),
    )


def library_from_mapping(
    drugs: Mapping[str, object],
    pumps: Mapping[str, object],
    *,
    drugs_file: str,
    pumps_file: str,
) -> Library:
    """Validate the two parsed library files and build the :class:`Library`.

    Raises :class:`LibraryError` (file, entry, field) on the first defect: unknown or missing
    keys, wrong types, bad units, a level not hard/soft, a tag not V/S/U/D, a missing source, a
    soft limit above the hard one, a range with min > max, dangling drug or pump references.
    """
    top_d = _Ctx(drugs_file, _ENTRY_TOP).table(drugs, "<file>")
    top_p = _Ctx(pumps_file, _ENTRY_TOP).table(pumps, "<file>")
    drugs_version, entries, warnings = _drug_entries(drugs_file, top_d)
    ctx = _Ctx(pumps_file, _ENTRY_TOP)
    ctx.keys(top_p, "", ("version", "pumps"), ("catheters",))
    pumps_version = _check_version(ctx, top_p)
    pump_table = ctx.table(top_p["pumps"], "pumps")
    if not pump_table:
        ctx.fail("pumps", "lists no pump model")
    models = tuple(
        _pump(ctx.sub(f"pumps.{pump_id}"), pump_id, body, entries)
        for pump_id, body in pump_table.items()
    )
    pump_ids = tuple(m.id for m in models)
    catheter_table = ctx.table(top_p.get("catheters", {}), "catheters")
    catheters = tuple(
        _catheter(ctx.sub(f"catheters.{cid}"), cid, body, pump_ids)
        for cid, body in catheter_table.items()
    )
    return Library(
        drugs_version=drugs_version,
        pumps_version=pumps_version,
        drugs_file=drugs_file,
        pumps_file=pumps_file,
        entries=entries,
        pumps=models,
        catheters=catheters,
        warnings=warnings,
    )
