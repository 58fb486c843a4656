"""Z3 proof obligations over the live code, each with a seeded broken variant.

See docs/architecture.md#evidence.

Every :class:`Obligation` builds its claims from the code the runtime runs: the governor
functions of :mod:`itdose.core.governor` evaluated on z3 terms
(:class:`~itdose.proofs.z3ops.Z3Ops`), the fluid path and the dosing functions executed
symbolically (:mod:`itdose.proofs.path_z3`), the ledger's peak and bookkeeping
(:mod:`itdose.proofs.ledger_z3`), the live
``basal_daily_ng``, the live drug and pump library, the live lifecycle table. Functions are
looked up at call time (``governor.grant_amount``, not a copy bound at import), so a change in
the core is what the proof sees. Where a line of the runtime
cannot be evaluated symbolically (it branches in Python), the obligation's
:attr:`Obligation.model` says exactly what is hand-modelled, and a differential test in
``tests/proofs/test_obligations.py`` ties the model to the runtime on generated inputs.

A claim is *valid* (``assumptions -> goal`` for all values: the negation is unsatisfiable) or a
*witness* (``assumptions and goal`` is satisfiable: a bounded trace exists). Each claim's
assumptions are checked satisfiable on their own, so no proof holds vacuously; each obligation
also runs its seeded broken variants, which must fail (a counterexample, or no witness).
Unbounded claims are stated inductively (an invariant before a step implies it after); bounded
traces are used only for witnesses and for the small symbolic instances named as such.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import z3  # type: ignore[import-untyped]

from itdose.core import governor, program
from itdose.core import ledger as ledger_mod
from itdose.core.arith import Ops
from itdose.core.library import Level, Library
from itdose.core.units import (
    format_amount_ng,
    format_concentration_ng_per_ml,
    format_dose_rate_ng_per_day,
    format_duration_s,
    format_volume_nl,
    format_volume_rate_nl_per_day,
)
from itdose.proofs.z3ops import Z3Ops, ZBool, ZInt

__all__ = [
    "OBLIGATIONS",
    "Broken",
    "BrokenResult",
    "Case",
    "Claim",
    "ClaimResult",
    "Obligation",
    "ObligationResult",
    "check_claims",
    "run_obligation",
]

TIMEOUT_MS = 20_000
"""Per solver call; an ``unknown`` answer is a failure, never a pass."""

Shown = tuple[tuple[str, Any, str], ...]


@dataclass(frozen=True)
class Claim:
    """One formula: ``valid`` (assumptions imply goal) or ``witness`` (both satisfiable).

    ``shown`` lists (label, term, unit) rendered in a counterexample or witness; units are
    ``ng``, ``nL``, ``s``, ``ng/mL``, ``ng/day``, ``nL/day`` or ``""``. ``render`` may turn a
    witness model into text (e.g. a trace of triggers).
    """

    name: str
    assumptions: tuple[ZBool, ...]
    goal: ZBool
    shown: Shown = ()
    kind: str = "valid"
    render: Callable[[Any], str] | None = field(default=None, compare=False)
    cases: tuple[Case, ...] = ()
    """For a ``valid`` claim: more goals, each under its own condition, decided one by one
    (the claim is ``assumptions -> goal and (condition_i -> goal_i for every i)``). At least one
    case's condition must be satisfiable with the assumptions, or the claim is vacuous. A case
    whose condition is unsatisfiable is a branch the symbolic execution kept because the solver
    could not rule it out in time (it explores more, never less): it holds vacuously."""


@dataclass(frozen=True)
class Case:
    """One case of a :class:`Claim`: ``condition -> goal``, with its own rendered terms."""

    condition: ZBool
    goal: ZBool
    shown: Shown = ()


@dataclass(frozen=True)
class Broken:
    """A seeded defect: ``build`` returns the obligation's claims over the broken code."""

    id: str
    title: str
    build: Callable[[], list[Claim]]


@dataclass(frozen=True)
class Obligation:
    """A named proof obligation with its requirement IDs and seeded broken variants."""

    id: str
    title: str
    requirements: tuple[str, ...]
    proves: str
    model: str
    build: Callable[[], list[Claim]]
    broken: tuple[Broken, ...]


@dataclass(frozen=True)
class ClaimResult:
    name: str
    kind: str
    status: str
    """``proved`` / ``counterexample`` (valid), ``witness`` / ``no witness``, or ``unknown``."""
    precondition: str
    """``sat`` when the assumptions alone are satisfiable; ``unsat`` means vacuous."""
    seconds: float
    counterexample: dict[str, str] | None = None
    witness: str = ""

    @property
    def ok(self) -> bool:
        return self.precondition == "sat" and self.status in ("proved", "witness")


@dataclass(frozen=True)
class BrokenResult:
    id: str
    title: str
    status: str
    """``caught`` when some claim fails on the broken code, ``missed`` when none does,
    ``error`` when the variant could not be built (e.g. its snippet is no longer in the code)."""
    seconds: float
    failed_claim: str = ""
    counterexample: dict[str, str] | None = None


@dataclass(frozen=True)
class ObligationResult:
    id: str
    title: str
    requirements: tuple[str, ...]
    status: str
    seconds: float
    claims: tuple[ClaimResult, ...]
    broken: tuple[BrokenResult, ...]
    proves: str
    model: str
    detail: str = ""


# --- solving ---------------------------------------------------------------------------------


def _fmt(value: int, unit: str) -> str:
    formatters: dict[str, Callable[[int], str]] = {
        "ng": format_amount_ng,
        "nL": format_volume_nl,
        "s": format_duration_s,
        "ng/mL": format_concentration_ng_per_ml,
        "ng/day": format_dose_rate_ng_per_day,
        "nL/day": format_volume_rate_nl_per_day,
    }
    fmt = formatters.get(unit)
    if fmt is None:
        return str(value) if not unit else f"{value} {unit}"
    plain = f"{value} {unit}"
    human = fmt(value)
    return plain if value == 0 or human == plain else f"{plain} ({human})"


def _render(model: Any, shown: Shown) -> dict[str, str]:
    out: dict[str, str] = {}
    for label, term, unit in shown:
        value = model.eval(term, model_completion=True)
        if z3.is_int_value(value):
            out[label] = _fmt(value.as_long(), unit)
        elif z3.is_true(value) or z3.is_false(value):
            out[label] = "true" if z3.is_true(value) else "false"
        else:
            out[label] = str(value)
    return out


def _solver() -> Any:
    solver = z3.Solver()
    solver.set("timeout", TIMEOUT_MS)
    return solver


_SAT_MEMO: dict[tuple[int, ...], tuple[tuple[Any, ...], bool]] = {}
"""Case conditions (with the claim's assumptions) already decided: z3 terms are hash-consed, so
equal terms have equal ids; the terms are kept so that their ids are not reused."""


def _satisfiable(solver: Any, assumptions: tuple[ZBool, ...], condition: ZBool) -> bool:
    """Whether ``solver`` (holding exactly ``assumptions`` and ``condition``) is satisfiable;
    memoised for a condition shared by several claims (one per property of a path)."""
    terms = (*assumptions, condition)
    key = tuple(t.get_id() for t in terms)
    hit = _SAT_MEMO.get(key)
    if hit is not None and all(a.eq(b) for a, b in zip(hit[0], terms, strict=True)):
        return hit[1]
    ok = bool(solver.check() == z3.sat)
    if len(_SAT_MEMO) > 20_000:
        _SAT_MEMO.clear()
    _SAT_MEMO[key] = (terms, ok)
    return ok


def check_claim(claim: Claim) -> ClaimResult:
    """Decide one claim and check that its assumptions are satisfiable."""
    start = time.perf_counter()
    pre = _solver()
    pre.add(*claim.assumptions)
    precondition = str(pre.check())
    solver = _solver()
    solver.add(*claim.assumptions)
    solver.add(z3.Not(claim.goal) if claim.kind == "valid" else claim.goal)
    answer = solver.check()
    cex: dict[str, str] | None = None
    witness = ""
    shown = claim.shown
    if answer == z3.unsat and claim.kind == "valid" and claim.cases:
        solver = _solver()
        solver.add(*claim.assumptions)
        feasible = 0
        for case in claim.cases:
            solver.push()
            solver.add(case.condition)
            if _satisfiable(solver, claim.assumptions, case.condition):
                feasible += 1
            solver.add(z3.Not(case.goal))
            answer = solver.check()
            if answer != z3.unsat:
                shown = case.shown or claim.shown
                break
            solver.pop()
        if feasible == 0:
            precondition = "unsat"
    if answer == z3.unsat:
        status = "proved" if claim.kind == "valid" else "no witness"
    elif answer == z3.sat:
        model = solver.model()
        if claim.kind == "valid":
            status = "counterexample"
            cex = _render(model, shown)
        else:
            status = "witness"
            witness = claim.render(model) if claim.render else str(_render(model, claim.shown))
    else:
        status = "unknown"
    return ClaimResult(
        name=claim.name,
        kind=claim.kind,
        status=status,
        precondition=precondition,
        seconds=time.perf_counter() - start,
        counterexample=cex,
        witness=witness,
    )


def check_claims(claims: Sequence[Claim]) -> list[ClaimResult]:
    """Decide every claim (see :func:`check_claim`)."""
    return [check_claim(c) for c in claims]


def _broken_result(broken: Broken) -> BrokenResult:
    start = time.perf_counter()
    try:
        claims = broken.build()
    except Exception as exc:  # the variant no longer applies to the code: not caught
        return BrokenResult(
            broken.id,
            f"{broken.title} (could not be built: {type(exc).__name__}: {exc})",
            "error",
            time.perf_counter() - start,
        )
    for claim in claims:
        result = check_claim(claim)
        if result.status in ("counterexample", "no witness"):
            return BrokenResult(
                id=broken.id,
                title=broken.title,
                status="caught",
                seconds=time.perf_counter() - start,
                failed_claim=claim.name,
                counterexample=result.counterexample,
            )
    return BrokenResult(broken.id, broken.title, "missed", time.perf_counter() - start)


def run_obligation(obligation: Obligation) -> ObligationResult:
    """Prove ``obligation`` on the live code and run each seeded broken variant."""
    start = time.perf_counter()
    try:
        claims = tuple(check_claims(obligation.build()))
    except Exception as exc:  # a core change the proof cannot evaluate is a failure
        return ObligationResult(
            obligation.id,
            obligation.title,
            obligation.requirements,
            "fail",
            time.perf_counter() - start,
            (),
            (),
            obligation.proves,
            obligation.model,
            detail=f"could not build the claims: {type(exc).__name__}: {exc}",
        )
    broken = tuple(_broken_result(b) for b in obligation.broken)
    problems = [
        f"{c.name}: {c.status}" + ("" if c.precondition == "sat" else ", assumptions unsat")
        for c in claims
        if not c.ok
    ]
    problems += [
        f"broken variant {b.id} {'missed' if b.status == 'missed' else 'could not be built'}"
        for b in broken
        if b.status != "caught"
    ]
    return ObligationResult(
        id=obligation.id,
        title=obligation.title,
        requirements=obligation.requirements,
        status="fail" if problems else "pass",
        seconds=time.perf_counter() - start,
        claims=claims,
        broken=broken,
        proves=obligation.proves,
        model=obligation.model,
        detail="; ".join(problems),
    )


def _nonneg(*terms: ZInt) -> list[ZBool]:
    return [t >= 0 for t in terms]


def _divisions(ops: Z3Ops, assumptions: Sequence[ZBool], shown: Shown) -> Claim:
    """Every division evaluated had a non-negative dividend and a positive divisor."""
    return Claim(
        "division operands in the Ops domain (dividend >= 0, divisor > 0)",
        tuple(assumptions),
        z3.And(*ops.side_conditions) if ops.side_conditions else z3.BoolVal(True),
        shown,
    )


# --- GOV: the governor, inductive ------------------------------------------------------------

GrantFn = Callable[..., Any]


def governor_claims(
    grant_amount: GrantFn | None = None, grant_all_or_nothing: GrantFn | None = None
) -> list[Claim]:
    """The governor claims over ``grant_amount`` / ``grant_all_or_nothing`` (live by default).

    Every amount is drug leaving the catheter tip. ``cap room`` is the most of the delivery that
    keeps every 24 h window within the hard maximum (``dosing.cap_room_ng``, from the ledger's
    exact peak); ``reservoir room`` is what the usable reservoir volume pushes out of the tip,
    rounded down (``dosing.reservoir_room_ng``; PATH-Z3-PLAN proves it at the tip)."""
    grant_fn = grant_amount or governor.grant_amount
    aon_fn = grant_all_or_nothing or governor.grant_all_or_nothing
    ops = Z3Ops()
    req, cap, room = z3.Ints("requested cap_room reservoir_room")
    d = z3.Bool("delivering")
    base = _nonneg(req, cap, room)
    request = governor.Request(req, cap, room, d)
    grant = grant_fn(ops, request)
    bolus = aon_fn(ops, request)
    shown: Shown = (
        ("requested", req, "ng"),
        ("cap room", cap, "ng"),
        ("reservoir room", room, "ng"),
        ("delivering", d, ""),
        ("grant (divisible)", grant, "ng"),
        ("grant (bolus)", bolus, "ng"),
    )
    return [
        Claim(
            "grant <= request and grant >= 0 (REQ-GOV-001)",
            tuple(base),
            z3.And(grant <= req, grant >= 0, bolus <= req, bolus >= 0),
            shown,
        ),
        Claim(
            "grant == 0 when not delivering (REQ-GOV-001)",
            tuple(base),
            z3.Implies(z3.Not(d), z3.And(grant == 0, bolus == 0)),
            shown,
        ),
        Claim(
            "a grant never exceeds the cap room, so every 24 h window stays within the hard "
            "maximum (REQ-GOV-002)",
            tuple(base),
            z3.And(grant <= cap, bolus <= cap),
            shown,
        ),
        Claim(
            "a grant never exceeds what the usable reservoir volume pushes out of the tip: "
            "grant <= reservoir room (REQ-GOV-003)",
            tuple(base),
            z3.And(grant <= room, bolus <= room),
            shown,
        ),
        Claim(
            "the whole request is granted when it fits: delivering, request <= cap room and "
            "<= reservoir room => grant == request, up to exactly the cap (REQ-GOV-001, "
            "REQ-TIP-004)",
            tuple(base),
            z3.Implies(z3.And(d, req <= cap, req <= room), z3.And(grant == req, bolus == req)),
            shown,
        ),
        Claim(
            "a divisible delivery is cut, never denied: grant == min(request, cap room, "
            "reservoir room) while delivering (REQ-GOV-001)",
            tuple(base),
            z3.Implies(d, z3.Or(grant == req, grant == cap, grant == room)),
            shown,
        ),
        Claim(
            "bolus is all or nothing: grant in {0, request} (REQ-GOV-008)",
            tuple(base),
            z3.Or(bolus == 0, bolus == req),
            shown,
        ),
        _divisions(ops, base, shown),
    ]


def _grant_without_cap(ops: Ops[Any, Any], request: governor.Request[Any, Any]) -> Any:
    room = request.reservoir_room_ng
    allowed = request.requested_ng if room is None else ops.min_(request.requested_ng, room)
    return ops.ite(request.delivering, allowed, ops.lit(0))


def _grant_ignoring_reservoir(ops: Ops[Any, Any], request: governor.Request[Any, Any]) -> Any:
    return governor.grant_amount(ops, dataclasses.replace(request, reservoir_room_ng=None))


def _bolus_partial(ops: Ops[Any, Any], request: governor.Request[Any, Any]) -> Any:
    return governor.grant_amount(ops, request)


def _grant_one_short(ops: Ops[Any, Any], request: governor.Request[Any, Any]) -> Any:
    """A conservative over-count: the cap room taken one ng smaller than it is."""
    smaller = ops.max_(ops.lit(0), ops.sub(request.cap_room_ng, ops.lit(1)))
    return governor.grant_amount(ops, dataclasses.replace(request, cap_room_ng=smaller))


# --- BOLUS: lockout and count ----------------------------------------------------------------


def bolus_claims(
    lockout_elapsed: GrantFn | None = None, bolus_permitted: GrantFn | None = None
) -> list[Claim]:
    """Patient bolus claims over the live ``lockout_elapsed`` and ``bolus_permitted``."""
    elapsed_fn = lockout_elapsed or governor.lockout_elapsed
    permitted_fn = bolus_permitted or governor.bolus_permitted
    ops = Z3Ops()
    now, last, lockout, count, mx = z3.Ints("now last_start lockout count max_per_24h")
    over = elapsed_fn(ops, now_s=now, last_start_s=last, lockout_s=lockout)
    permitted = permitted_fn(ops, lockout_over=over, starts_in_window=count, max_per_24h=mx)
    base = (*_nonneg(now, last, lockout, count, mx), now >= last)
    shown: Shown = (
        ("now", now, "s"),
        ("last start", last, "s"),
        ("lockout", lockout, "s"),
        ("boluses in window", count, ""),
        ("max per 24 h", mx, ""),
        ("permitted", permitted, ""),
    )
    req, cap, room = z3.Ints("requested cap_room reservoir_room")
    d = z3.Bool("delivering")
    grant = governor.grant_all_or_nothing(ops, governor.Request(req, cap, room, d), permitted)
    claims = [
        Claim(
            "a permitted bolus is never inside the lockout (REQ-GOV-009, REQ-BOL-001)",
            base,
            z3.Implies(permitted, now - last >= lockout),
            shown,
        ),
        Claim(
            "a request exactly at the end of the lockout passes it; one second earlier not "
            "(REQ-BOL-001)",
            (*base, lockout >= 1),
            z3.And(
                z3.Implies(now == last + lockout, over),
                z3.Implies(now == last + lockout - 1, z3.Not(over)),
            ),
            shown,
        ),
        Claim(
            "count is inductive: a permitted bolus leaves count + 1 <= max (REQ-BOL-003)",
            (*base, count <= mx),
            z3.Implies(permitted, count + 1 <= mx),
            shown,
        ),
        Claim(
            "a granted patient bolus passed lockout and count (REQ-GOV-009)",
            (*base, *_nonneg(req, cap, room)),
            z3.Implies(grant > 0, z3.And(now - last >= lockout, count < mx)),
            (*shown, ("grant", grant, "ng")),
        ),
    ]
    # Bounded symbolic history: five granted starts; count in every window <= max.
    n = 5
    starts = z3.Ints(" ".join(f"start{i}" for i in range(n)))
    window = ledger_mod.WINDOW_S
    assumptions: list[ZBool] = [*_nonneg(*starts, lockout), mx >= 1]
    for i in range(n):
        prior = (
            z3.Sum(*[z3.If(starts[j] > starts[i] - window, 1, 0) for j in range(i)])
            if i
            else z3.IntVal(0)
        )
        was_over = (
            elapsed_fn(ops, now_s=starts[i], last_start_s=starts[i - 1], lockout_s=lockout)
            if i
            else z3.BoolVal(True)
        )
        if i:
            assumptions.append(starts[i] >= starts[i - 1])
        assumptions.append(
            permitted_fn(ops, lockout_over=was_over, starts_in_window=prior, max_per_24h=mx)
        )
    t = z3.Int("t")
    in_window = z3.Sum(*[z3.If(z3.And(s > t - window, s <= t), 1, 0) for s in starts])
    claims.append(
        Claim(
            "five granted starts: at most max_per_24h in every rolling window (t - 86400, t] "
            "(REQ-BOL-003; bounded instance)",
            (*assumptions, t >= 0),
            in_window <= mx,
            (
                ("t", t, "s"),
                ("max per 24 h", mx, ""),
                ("lockout", lockout, "s"),
                *((f"start {i}", s, "s") for i, s in enumerate(starts)),
                ("starts in window", in_window, ""),
            ),
        )
    )
    return claims


def _lockout_one_second_early(
    ops: Ops[Any, Any], *, now_s: Any, last_start_s: Any, lockout_s: Any
) -> Any:
    return ops.ge(ops.add(ops.sub(now_s, last_start_s), ops.lit(1)), lockout_s)


def _count_off_by_one(
    ops: Ops[Any, Any], *, lockout_over: Any, starts_in_window: Any, max_per_24h: Any
) -> Any:
    return ops.and_(lockout_over, ops.le(starts_in_window, max_per_24h))


# --- PROGRAM: worst-case daily total ---------------------------------------------------------

WorstFn = Callable[[ZInt, ZInt, ZInt], ZInt]
"""(basal daily total, bolus dose, boluses per 24 h) -> the worst case the program check uses."""


def _basal_daily(steps: Sequence[tuple[ZInt, ZInt]], assumptions: Sequence[ZBool]) -> Any:
    """The live ``program.basal_daily_ng`` executed symbolically on a schedule of ``steps``
    (start, dose) under ``assumptions``: one term over every feasible path, and the coverage
    of those paths (itdose.proofs.explore; the code may use any integer helper of the core)."""
    from itdose.proofs.explore import Explorer, SymInt, covered, fold, term

    def run() -> Any:
        basal = program.Basal(
            steps=tuple(
                program.FlexStep(start if isinstance(start, int) else SymInt(start), SymInt(dose))
                for start, dose in steps
            )
        )
        return program.basal_daily_ng(basal)

    leaves = Explorer(assumptions).run(run)
    return fold(leaves, term), covered(leaves)


def _live_worst(basal: ZInt, dose: ZInt, count: ZInt) -> ZInt:
    return basal + dose * count


def _worst_without_bolus(basal: ZInt, dose: ZInt, count: ZInt) -> ZInt:
    return basal


def program_claims(library: Library | None = None, worst: WorstFn | None = None) -> list[Claim]:
    """For every library entry and pump: an accepted program's real daily total <= hard max."""
    from itdose.specs import load_library

    lib = library or load_library()
    worst_fn = worst or _live_worst
    day = program.DAY_S
    s1, s2, d0, d1, d2, dose, count = z3.Ints("start1 start2 dose0 dose1 dose2 bolus n")
    schedule = (s1 > 0, s1 < s2, s2 < day, *_nonneg(d0, d1, d2))
    basal_term, cover = _basal_daily(((0, d0), (s1, d1), (s2, d2)), schedule)
    worst_term = worst_fn(basal_term, dose, count)
    real = d0 * s1 + d1 * (s2 - s1) + d2 * (day - s2) + day * dose * count
    claims = [
        Claim(
            "the explored paths of the live basal_daily_ng cover every schedule of three steps "
            "(REQ-DOSE-002)",
            schedule,
            cover,
            (("step 1 start", s1, "s"), ("step 2 start", s2, "s")),
        )
    ]
    for entry in lib.entries:
        for pump in lib.pumps:
            limit = entry.max_daily
            accepted = (
                z3.Not(worst_term > limit.value) if limit.level is Level.HARD else z3.BoolVal(True)
            )
            bolus_ok = pump.allows_patient_bolus(entry.drug)
            assumptions = (
                s1 > 0,
                s1 < s2,
                s2 < day,
                *_nonneg(d0, d1, d2, dose, count),
                z3.BoolVal(True) if bolus_ok else count == 0,
                accepted,
            )
            claims.append(
                Claim(
                    f"{entry.id} in {pump.id}: accepted => basal schedule + n x bolus <= "
                    f"{limit.text()} per 24 h (REQ-DOSE-002)",
                    assumptions,
                    real <= day * limit.value,
                    (
                        ("step 1 start", s1, "s"),
                        ("step 2 start", s2, "s"),
                        ("dose 0", d0, "ng/day"),
                        ("dose 1", d1, "ng/day"),
                        ("dose 2", d2, "ng/day"),
                        ("bolus dose", dose, "ng"),
                        ("boluses per 24 h", count, ""),
                        ("worst case checked", worst_term, "ng/day"),
                        ("hard max", z3.IntVal(limit.value), "ng/day"),
                    ),
                )
            )
    return claims


# --- RESERVOIR: low alarm before empty -------------------------------------------------------


def reservoir_claims(library: Library | None = None, lower_low: bool = False) -> list[Claim]:
    """With the live pump thresholds: the low alarm comes first, by at least
    (low - empty) / worst-case daily volume. ``lower_low`` seeds a pump with low == empty."""
    from itdose.specs import load_library

    lib = library or load_library()
    day = program.DAY_S
    # the gap claim once for every pair of thresholds low > empty (the per-pump constants make
    # the non-linear claim seconds slower each); each pump's thresholds are checked below
    a, b, va, vb, rate, low_t, empty_t = z3.Ints("a b volume_a volume_b rate low empty")
    claims = [
        Claim(
            "every pump with low > empty: no low alarm at a, empty at b, drawing at most the "
            "worst-case rate => b - a > (low - empty) / rate (REQ-RES-003)",
            (
                low_t > empty_t,
                empty_t >= 0,
                a >= 0,
                b >= a,
                rate > 0,
                va > low_t,
                vb <= empty_t,
                vb >= 0,
                (va - vb) * day <= rate * (b - a),
            ),
            (b - a) * rate > (low_t - empty_t) * day,
            (
                ("instant a", a, "s"),
                ("instant b", b, "s"),
                ("volume at a", va, "nL"),
                ("volume at b", vb, "nL"),
                ("worst-case volume rate", rate, "nL/day"),
                ("low threshold", low_t, "nL"),
                ("empty threshold", empty_t, "nL"),
            ),
        )
    ]
    for pump in lib.pumps:
        empty = pump.empty_threshold.value
        low = empty if lower_low else pump.low_reservoir_threshold.value
        rate, vol, now = z3.Ints("rate volume now")
        shown: Shown = (
            ("low threshold", z3.IntVal(low), "nL"),
            ("empty threshold", z3.IntVal(empty), "nL"),
        )
        claims.append(
            Claim(
                f"{pump.id}: a volume band raises LOW and not EMPTY (low > empty >= 0), so the "
                "gap claim above holds for it (REQ-RES-001, REQ-RES-003)",
                (),
                z3.And(z3.IntVal(low) > z3.IntVal(empty), z3.IntVal(empty) >= 0),
                shown,
            )
        )

        def at(threshold: int, vol: ZInt = vol, now: ZInt = now, rate: ZInt = rate) -> ZInt:
            over = z3.If(vol - threshold >= 0, vol - threshold, 0)
            return now + (over * day) / rate

        claims.append(
            Claim(
                f"{pump.id}: projected low-reservoir date precedes empty by >= "
                "(low - empty) / rate (REQ-RES-003; dosing.projection arithmetic)",
                (now >= 0, vol >= low, rate > 0),
                at(empty) - at(low) >= ((low - empty) * day) / rate,
                (
                    ("volume", vol, "nL"),
                    ("rate", rate, "nL/day"),
                    ("low at", at(low), "s"),
                    ("empty at", at(empty), "s"),
                ),
            )
        )
    return claims


# --- the registry ----------------------------------------------------------------------------


def _lifecycle_obligations() -> tuple[Obligation, ...]:
    from itdose.proofs import lifecycle_z3

    return lifecycle_z3.OBLIGATIONS


def _ledger_obligations() -> tuple[Obligation, ...]:
    from itdose.proofs import ledger_z3

    return ledger_z3.obligations()


def _decision_obligations() -> tuple[Obligation, ...]:
    from itdose.proofs import decisions_z3

    return decisions_z3.obligations()


def _path_obligations() -> tuple[Obligation, ...]:
    from itdose.proofs import path_z3

    return path_z3.obligations()


_CORE: tuple[Obligation, ...] = (
    Obligation(
        "GOV-Z3",
        "dose governor is inductive: cap, reservoir, request, phase, all-or-nothing",
        (
            "REQ-GOV-001",
            "REQ-GOV-002",
            "REQ-GOV-003",
            "REQ-GOV-007",
            "REQ-GOV-008",
            "REQ-UNIT-004",
            "REQ-TIP-004",
        ),
        "For all non-negative integers (any request, cap room and reservoir room, all amounts "
        "leaving the catheter tip) the live grant_amount and grant_all_or_nothing, evaluated "
        "on z3 terms, never exceed the request, grant 0 when not delivering, never exceed the "
        "cap room (what keeps every 24 h window within the hard maximum) nor the reservoir "
        "room (what the usable volume pushes out of the tip), cut a divisible delivery to "
        "exactly the smallest of the three, grant the whole request whenever it fits, up to "
        "exactly the cap (no conservative margin: REQ-TIP-004's bolus that brings the window "
        "exactly to the maximum), and grant a bolus whole or not at all.",
        "No hand model: the live functions are evaluated. Not covered: that callers pass the "
        "true cap room and reservoir room (the reservoir room: PATH-Z3-PLAN; the ledger's exact "
        "peak the cap room comes from: LEDGER-Z3; dosing.cap_room_ng's search over it: "
        "PATH-Z3-CAP, on enumerated requests).",
        lambda: governor_claims(),
        (
            Broken(
                "no-cap",
                "grant_amount without the daily-cap term",
                lambda: governor_claims(grant_amount=_grant_without_cap),
            ),
            Broken(
                "reservoir-ignored",
                "grant_amount ignores the reservoir room",
                lambda: governor_claims(grant_amount=_grant_ignoring_reservoir),
            ),
            Broken(
                "over-count",
                "a conservative margin: the cap room taken 1 ng smaller",
                lambda: governor_claims(grant_amount=_grant_one_short),
            ),
            Broken(
                "partial-bolus",
                "bolus cut to fit (not all or nothing)",
                lambda: governor_claims(grant_all_or_nothing=_bolus_partial),
            ),
        ),
    ),
    Obligation(
        "BOLUS-Z3",
        "patient bolus lockout and count can never be violated",
        ("REQ-GOV-009", "REQ-BOL-001", "REQ-BOL-003", "REQ-GOV-008"),
        "With the live lockout_elapsed, bolus_permitted and grant_all_or_nothing: a permitted or "
        "granted bolus starts at least lockout_s after the previous start and with fewer than "
        "max_per_24h starts in the window; the lockout ends exactly at last + lockout; the "
        "count bound is inductive; and for five symbolic granted starts every rolling window "
        "holds at most max_per_24h.",
        "Hand model: starts_in_window as the count of starts > t - 86400 (tied to "
        "BolusHistory.count_in_window by a differential test). Five starts is a bounded "
        "instance; the inductive count claim is unbounded.",
        lambda: bolus_claims(),
        (
            Broken(
                "lockout-one-second-early",
                "lockout ends one second early",
                lambda: bolus_claims(lockout_elapsed=_lockout_one_second_early),
            ),
            Broken(
                "count-off-by-one",
                "count limit compared with <=",
                lambda: bolus_claims(bolus_permitted=_count_off_by_one),
            ),
        ),
    ),
    Obligation(
        "PROGRAM-Z3",
        "accepted programs stay under the hard daily maximum (every drug x pump)",
        ("REQ-DOSE-002", "REQ-LIB-002", "REQ-UNIT-004"),
        "For every drug/indication entry and pump model of the live library, and every flex "
        "schedule of up to three steps and patient bolus (dose x count, none where the pump "
        "allows none): if the worst-case daily check passes against the live hard maximum, the "
        "schedule's exact drug over 24 h plus every allowed bolus is <= that maximum. The basal "
        "daily total is the live program.basal_daily_ng executed symbolically on every "
        "feasible path (itdose.proofs.explore), with a claim that the paths cover every "
        "schedule.",
        "Hand model: worst = basal_daily_ng + dose x max_per_24h and the rejection "
        "'worst > max_daily (hard)' as in check_program (tied to check_program by a differential "
        "test). Schedules of more than three steps are not covered symbolically.",
        lambda: program_claims(),
        (
            Broken(
                "no-bolus-term",
                "worst case without the patient boluses",
                lambda: program_claims(worst=_worst_without_bolus),
            ),
        ),
    ),
    Obligation(
        "RESERVOIR-Z3",
        "low-reservoir alarm precedes empty by (low - empty) / worst-case daily volume",
        ("REQ-RES-001", "REQ-RES-002", "REQ-RES-003"),
        "For every pump of the live library: low threshold > empty threshold, so a band of "
        "volumes raises LOW and not EMPTY; if the volume drawn in any interval is at most the "
        "worst-case daily volume rate, the last instant without a low alarm and the first empty "
        "instant are more than (low - empty) / rate apart; the projection's low date precedes "
        "its empty date by at least that (floored to seconds).",
        "Hand model: the projection arithmetic of dosing.projection (tied by a differential "
        "test) and the rate bound on consumption, which is exact for basal but an average for "
        "boluses (a bolus drawn at once can shorten the gap).",
        lambda: reservoir_claims(),
        (
            Broken(
                "low-equals-empty",
                "a pump whose low threshold equals its empty threshold",
                lambda: reservoir_claims(lower_low=True),
            ),
        ),
    ),
)


def all_obligations() -> tuple[Obligation, ...]:
    """The governor, ledger, bolus, arithmetic, decision, conversion, program, reservoir, fluid path
    and lifecycle obligations."""
    return (
        *_CORE,
        *_ledger_obligations(),
        *_decision_obligations(),
        *_path_obligations(),
        *_lifecycle_obligations(),
    )


OBLIGATIONS = _CORE
"""The arithmetic obligations; :func:`all_obligations` adds the fluid path and lifecycle ones."""
