"""The drug, pump and catheter library: validated, sourced limits as integer base units.

Every limit is ``hard`` or ``soft`` and every value carries its ``source`` and confidence ``tag``
(docs/dosing-rules.md#r-lim-1, docs/dosing-rules.md#r-lim-2). An absent value is unknown and never
guessed: a computation that needs it raises :class:`~itdose.core.errors.RejectedCommand`. This
module holds the value types and lookups only; the files are read and validated outside the core
(:mod:`itdose.specs.library_schema`, docs/architecture.md#outside-the-core).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from typing import TypeVar

from itdose.core.errors import InvalidInput, RejectedCommand
from itdose.core.units import Dimension, format_quantity
from itdose.core.value import Value

INDICATIONS: tuple[str, ...] = ("pain", "spasticity-spinal", "spasticity-cerebral")
"""Indications a drug entry may be keyed by."""

OPIOID_STATUSES: tuple[str, ...] = ("opioid-naive", "opioid-tolerant", "any")
"""Keys of a starting range; ``any`` stands alone and is the only one a non-opioid may use."""


class Level(enum.Enum):
    """How a limit yields (docs/dosing-rules.md#limits)."""

    HARD = "hard"
    """Never exceeded; no override."""
    SOFT = "soft"
    """Exceeded only with a clinician override carrying a reason."""


class Tag(enum.Enum):
    """Confidence of a value (docs/clinical-basis.md tags plus ``D`` for docs/dosing-rules.md
    design values)."""

    V = "V"
    S = "S"
    U = "U"
    D = "D"


class MriPolicy(enum.Enum):
    """Per-pump MRI workflow (docs/dosing-rules.md#mri)."""

    SUSPEND_VERIFY = "suspend-verify"
    """SynchroMed II: delivery suspends; post-MRI verification by a clinician before resuming."""
    EMPTY_AND_RESET = "empty-and-reset"
    """Prometra II: empty reservoir and zero rate first; zero until the valve reset is recorded."""
    REFUSE = "refuse"
    """Prometra (I): MR unsafe; an MRI is refused."""


# --- value types -------------------------------------------------------------------------------


class Limit(Value):
    """One dosing limit: ``value`` in the base unit of ``unit`` (e.g. ng/day for a dose rate)."""

    id: str
    level: Level
    value: int
    unit: Dimension
    source: str
    tag: Tag
    note: str = ""

    def text(self) -> str:
        """The value as human text, e.g. ``'20 mg/day'``."""
        return format_quantity(self.value, self.unit)


class RangeLimit(Value):
    """An inclusive range ``low..high`` (starting dose, trial bolus) in base units of ``unit``."""

    id: str
    level: Level
    low: int
    high: int
    unit: Dimension
    source: str
    tag: Tag
    note: str = ""

    def contains(self, value: int) -> bool:
        return self.low <= value <= self.high

    def text(self) -> str:
        return f"{format_quantity(self.low, self.unit)} - {format_quantity(self.high, self.unit)}"


class CountLimit(Value):
    """At most ``count`` events in any rolling window of ``window_s`` seconds."""

    id: str
    level: Level
    count: int
    window_s: int
    source: str
    tag: Tag
    note: str = ""

    def text(self) -> str:
        return f"{self.count} per {format_quantity(self.window_s, Dimension.DURATION)}"


AnyLimit = Limit | RangeLimit | CountLimit
"""A dosing limit of any shape: each has an ``id``, a ``level`` and its ``text()``."""


class SourcedValue(Value):
    """A sourced device or catheter parameter (not a dosing limit) in base units of ``unit``."""

    id: str
    value: int
    unit: Dimension
    source: str
    tag: Tag
    note: str = ""

    def text(self) -> str:
        return format_quantity(self.value, self.unit)


class SourcedFlag(Value):
    id: str
    value: bool
    source: str
    tag: Tag
    note: str = ""


class SourcedNames(Value):
    """A sourced list of drug or pump identifiers."""

    id: str
    names: tuple[str, ...]
    source: str
    tag: Tag
    note: str = ""


class Concentrations(Value):
    """Product strengths (ng/mL) with their source."""

    id: str
    values_ng_per_ml: tuple[int, ...]
    source: str
    tag: Tag
    note: str = ""


class ConcentrationRange(Value):
    """A pump model's narrowing of the concentrations allowed for one drug (inclusive)."""

    id: str
    drug: str
    low_ng_per_ml: int
    high_ng_per_ml: int
    source: str
    tag: Tag
    note: str = ""

    def contains(self, concentration_ng_per_ml: int) -> bool:
        return self.low_ng_per_ml <= concentration_ng_per_ml <= self.high_ng_per_ml


class SourcedPolicy(Value):
    """A pump model's MRI workflow with its source."""

    id: str
    policy: MriPolicy
    source: str
    tag: Tag
    note: str = ""


class Warning(Value):
    """A warning text shown and recorded when an entry is selected (e.g. the FDA 2018 warning)."""

    id: str
    text: str
    source: str
    tag: Tag


class Screening(Value):
    """Baclofen-style screening: escalating single doses, each ``min_interval_s`` after the last.

    The starting pump dose per 24 h is ``start_dose_multiple`` x the effective screening dose.
    """

    id: str
    doses_ng: tuple[int, ...]
    min_interval_s: int
    start_dose_multiple: int
    source: str
    tag: Tag
    note: str = ""


class Titration(Value):
    """Titration limits: an absolute step (ng/day), a relative step (bp) and a count per window."""

    max_increase: Limit | None
    max_increase_percent: Limit | None
    max_increases: CountLimit | None


class DrugEntry(Value):
    """One drug for one indication. ``id`` is ``"<drug>.<indication>"``."""

    drug: str
    indication: str
    name: str
    opioid: bool
    withdrawal_risk: SourcedFlag
    approved_for_intrathecal_pump: SourcedFlag
    warning: Warning | None
    product_concentrations: Concentrations
    screening_concentrations: Concentrations | None
    max_concentration: Limit | None
    max_daily: Limit
    soft_max_daily: Limit | None
    starting_ranges: tuple[tuple[str, RangeLimit], ...]
    trial_bolus_range: RangeLimit | None
    max_bolus: Limit | None
    min_lockout: Limit | None
    titration: Titration | None
    screening: Screening | None

    @property
    def id(self) -> str:
        return f"{self.drug}.{self.indication}"

    def starting_range(self, opioid_status: str) -> RangeLimit | None:
        """The starting range for ``opioid_status``, else the ``any`` range, else ``None``."""
        ranges = dict(self.starting_ranges)
        if opioid_status in ranges:
            return ranges[opioid_status]
        return ranges.get("any")

    def is_product_concentration(self, concentration_ng_per_ml: int) -> bool:
        """True for a library product strength for a pump fill (not a screening strength)."""
        return concentration_ng_per_ml in self.product_concentrations.values_ng_per_ml

    def limits(self) -> Iterator[AnyLimit]:
        """Every limit of the entry."""
        t = self.titration
        yield from _present(
            self.max_concentration,
            self.max_daily,
            self.soft_max_daily,
            self.trial_bolus_range,
            self.max_bolus,
            self.min_lockout,
            *(start for _, start in self.starting_ranges),
            *((t.max_increase, t.max_increase_percent, t.max_increases) if t else ()),
        )


class PumpModel(Value):
    """One pump model. Absent (``None``) parameters are unknown, never defaulted."""

    id: str
    name: str
    manufacturer: str
    reservoir_volume: SourcedValue
    min_rate: SourcedValue | None
    low_reservoir_threshold: SourcedValue
    empty_threshold: SourcedValue
    tubing_volume: SourcedValue | None
    over_infusion_tolerance: SourcedValue
    under_infusion_tolerance: SourcedValue
    eri_to_eos: SourcedValue | None
    approved_drugs: SourcedNames
    patient_bolus: SourcedNames
    concentration_ranges: tuple[ConcentrationRange, ...]
    mri: SourcedPolicy

    @property
    def mri_policy(self) -> MriPolicy:
        return self.mri.policy

    def is_approved_for(self, drug: str) -> bool:
        """True when the pump's labelling names ``drug``; any other drug needs an override."""
        return drug in self.approved_drugs.names

    def allows_patient_bolus(self, drug: str) -> bool:
        return drug in self.patient_bolus.names

    def concentration_range(self, drug: str) -> ConcentrationRange | None:
        return next((n for n in self.concentration_ranges if n.drug == drug), None)

    def values(self) -> Iterator[SourcedValue]:
        """Every sourced parameter the library gives for the pump."""
        yield from _present(
            self.reservoir_volume,
            self.min_rate,
            self.low_reservoir_threshold,
            self.empty_threshold,
            self.tubing_volume,
            self.over_infusion_tolerance,
            self.under_infusion_tolerance,
            self.eri_to_eos,
        )


class CatheterModel(Value):
    """An implanted catheter. Without ``volume_per_length`` no volume can be computed."""

    id: str
    name: str
    manufacturer: str
    compatible_pumps: SourcedNames
    reference_length: SourcedValue | None
    volume_per_length: SourcedValue | None
    note: str = ""


class Library(Value):
    """The validated library. Lookups raise clear errors rather than returning ``None``."""

    drugs_version: str
    pumps_version: str
    drugs_file: str
    pumps_file: str
    entries: tuple[DrugEntry, ...]
    pumps: tuple[PumpModel, ...]
    catheters: tuple[CatheterModel, ...]
    warnings: tuple[Warning, ...]

    @property
    def version(self) -> str:
        """``"<drugs version>/<pumps version>"``, recorded with every program."""
        return f"{self.drugs_version}/{self.pumps_version}"

    def drug_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(entry.drug for entry in self.entries))

    def indications(self, drug: str) -> tuple[str, ...]:
        return tuple(entry.indication for entry in self.entries if entry.drug == drug)

    def drug(self, name: str, indication: str) -> DrugEntry:
        """The entry for ``name`` and ``indication``.

        Raises :class:`InvalidInput` for an unknown drug or indication and
        :class:`RejectedCommand` for a known drug that has no entry for that indication.
        """
        if isinstance(name, str) and isinstance(indication, str) and indication in INDICATIONS:
            for entry in self.entries:  # the lookup of every step: the entry, if there is one
                if entry.drug == name and entry.indication == indication:
                    return entry
        if not isinstance(name, str) or name not in self.drug_names():
            known = one_of(self.drug_names())
            raise InvalidInput("drug", "is not in the drug library", value=name, limit=known)
        if not isinstance(indication, str) or indication not in INDICATIONS:
            why, known = "is not a known indication", one_of(INDICATIONS)
            raise InvalidInput("indication", why, value=indication, limit=known)
        why = f"the drug library has no entry for {name} in {indication}"
        known = one_of(self.indications(name))
        raise RejectedCommand("indication", why, value=indication, limit=known)

    def pump(self, pump_id: str) -> PumpModel:
        """The pump model ``pump_id``; :class:`InvalidInput` if unknown."""
        return _by_id(self.pumps, pump_id, "pump")

    def catheter(self, catheter_id: str) -> CatheterModel:
        """The catheter model ``catheter_id``; :class:`InvalidInput` if unknown."""
        return _by_id(self.catheters, catheter_id, "catheter")

    def limits(self) -> Iterator[AnyLimit]:
        """Every dosing limit of every entry."""
        for entry in self.entries:
            yield from entry.limits()

    def limit(self, limit_id: str) -> AnyLimit:
        """The limit with the stable id ``limit_id`` (e.g. ``"morphine.pain.max_daily"``)."""
        for limit in self.limits():
            if limit.id == limit_id:
                return limit
        raise InvalidInput("limit", "is not a limit id in the library", value=limit_id)


def pump_concentrations(entry: DrugEntry, pump: PumpModel) -> tuple[int, ...]:
    """The drug's product strengths (ng/mL) that ``pump`` accepts (its per-drug narrowing)."""
    narrowing = pump.concentration_range(entry.drug)
    strengths = entry.product_concentrations.values_ng_per_ml
    return tuple(c for c in strengths if narrowing is None or narrowing.contains(c))


def concentration_cap_applies(entry: DrugEntry, concentration_ng_per_ml: int) -> bool:
    """The library's maximum concentration applies to ``concentration_ng_per_ml`` of ``entry``:
    always, except to a labelled product strength of a drug approved for intrathecal pumps (a
    [U] maximum below a labelled strength does not apply to that strength; it still applies to a
    compounded product; docs/dosing-rules.md#r-lim-6)."""
    labelled = entry.is_product_concentration(concentration_ng_per_ml)
    return not (labelled and entry.approved_for_intrathecal_pump.value)


_T = TypeVar("_T")
_M = TypeVar("_M", PumpModel, CatheterModel)


def _present(*items: _T | None) -> Iterator[_T]:
    return (item for item in items if item is not None)


def _by_id(models: tuple[_M, ...], model_id: str, kind: str) -> _M:
    for model in models:
        if model.id == model_id:
            return model
    known = one_of(m.id for m in models)
    raise InvalidInput(kind, f"is not a {kind} model in the library", value=model_id, limit=known)


def one_of(names: Iterable[str]) -> str:
    """``"one of a, b, c"``: the bound of an error that names the values allowed."""
    return "one of " + ", ".join(names)
