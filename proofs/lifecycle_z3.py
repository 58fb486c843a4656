"""The live lifecycle table compiled into a Z3 transition relation, and its obligations.

:func:`compile_rules` turns :data:`itdose.core.lifecycle.RULES` (read at call time) into
``T(source, trigger, role, guard features, dest)``: phases, triggers and roles are z3 enumeration
sorts, and each row contributes ``source == row.source and trigger == row.trigger and role in
row.roles and guard(features) and dest == rule5(row.dest)``, where the one state-triggered rule
(:data:`itdose.core.lifecycle.HIGH_ALARM_STOPS`) is modelled once, in :meth:`Compiled.after`:
``rule5(m) = alarm if the step raised a HIGH alarm and m is one of its sources, else m``. Whether
the step raised a HIGH alarm is a free feature ``R`` of every step, whatever its trigger (the
handlers decide it at run time; leaving it free over-approximates them). A rejected command
changes nothing and is not part of ``T``.

Guards are abstracted to the features they decide on (:data:`GUARD_MODEL`): for example
``high_alarm_active`` is the boolean ``H`` (some HIGH alarm is active) and ``no_high_alarm`` is
``not H``; ``clears_last_high_alarm`` is ``K == 0`` and ``high_alarm_remains`` is ``K > 0`` for the
integer ``K`` of HIGH alarms left after the clear. This abstraction is a hand-written model of
:data:`itdose.core.lifecycle.GUARDS`; ``tests/proofs/test_obligations.py`` evaluates the live
guards on generated devices and commands and checks they agree with it (every complementary pair
is exactly complementary). A guard the model does not know is a fresh free boolean, so an
unmodelled guard can only make the determinism proof fail, never pass.

Obligations: terminal phases absorb; the governor grants nothing outside :data:`DELIVERING`;
every non-terminal phase reaches ``explanted`` (a ranking certificate checked by z3); the guards
of rows sharing a trigger and source are mutually exclusive; a HIGH alarm leads to ``alarm`` (not
delivering) in the same step and every delivering phase can stop in one step; ``alarm`` is left
only by a clinician's recovery; and bounded model checking finds a short witness trace to every
phase from ``screening``.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import z3  # type: ignore[import-untyped]

from itdose.core import governor, lifecycle
from itdose.core.alarms import Priority
from itdose.core.lifecycle import Rule, StateRule
from itdose.core.state import Phase, Role
from itdose.proofs.obligations import Broken, Claim, GrantFn, Obligation
from itdose.proofs.z3ops import Z3Ops, ZBool, ZInt

__all__ = [
    "BMC_STEPS",
    "GUARD_MODEL",
    "OBLIGATIONS",
    "RECOVERY_TRIGGERS",
    "Compiled",
    "Features",
    "compile_rules",
]

BMC_STEPS = 8
"""Bound of the reachability witnesses (every phase is reachable well within it)."""

RECOVERY_TRIGGERS = ("clear_alarm", "begin_refill", "explant")
"""The clinician commands that may leave ``alarm`` (REQ-LIFE-007)."""

_RAISING = ("raise_alarm", "tick", "drive_report")
"""The triggers whose handlers raise HIGH alarms (a raised kind, a clock finding, an
over-delivery report); the claim is that a HIGH alarm they raise ends in alarm."""

_counter = itertools.count()

_LIVE_RULE5: StateRule = StateRule("live", "", Priority.HIGH, frozenset(), Phase.ALARM)
"""Marker default of :func:`compile_rules`: use the live rule 5 (read at call time)."""


@dataclass(frozen=True)
class Features:
    """What the guards decide on, for one step (fresh z3 constants)."""

    high_alarm: ZBool
    resume_after_refill: ZBool
    raised_high: ZBool
    """The handler raised a HIGH alarm (what rule 5 reads)."""
    high_after_clear: ZInt
    mri_resumes: ZBool
    conclusion: ZInt
    """0: the evidence or the clinician says success, 1: failure, 2: nothing yet."""
    free: dict[str, ZBool]

    @staticmethod
    def fresh(prefix: str) -> Features:
        def b(name: str) -> ZBool:
            return z3.Bool(f"{prefix}{name}")

        return Features(
            high_alarm=b("high_alarm_active"),
            resume_after_refill=b("resume_after_refill"),
            raised_high=b("raised_high_alarm"),
            high_after_clear=z3.Int(f"{prefix}high_after_clear"),
            mri_resumes=b("mri_resumes"),
            conclusion=z3.Int(f"{prefix}trial_conclusion"),
            free={},
        )

    def domain(self) -> list[ZBool]:
        return [self.high_after_clear >= 0, self.conclusion >= 0, self.conclusion <= 2]

    def guard(self, name: str) -> ZBool:
        model = GUARD_MODEL.get(name)
        if model is not None:
            return model(self)
        if name not in self.free:
            self.free[name] = z3.Bool(f"{id(self)}_free_{name}")
        return self.free[name]


GUARD_MODEL: dict[str, Callable[[Features], ZBool]] = {
    "screened_candidate": lambda f: f.guard("_screened_candidate"),
    "trial_succeeded": lambda f: f.conclusion == 0,
    "trial_failed": lambda f: f.conclusion == 1,
    "ready_to_prime": lambda f: f.guard("_ready_to_prime"),
    "ready_to_dose": lambda f: f.guard("_ready_to_dose"),
    "high_alarm_active": lambda f: f.high_alarm,
    "no_high_alarm": lambda f: z3.Not(f.high_alarm),
    "refill_resumes_dosing": lambda f: z3.And(f.resume_after_refill, z3.Not(f.high_alarm)),
    "refill_stays_stopped": lambda f: z3.And(z3.Not(f.resume_after_refill), z3.Not(f.high_alarm)),
    "clears_last_high_alarm": lambda f: f.high_after_clear == 0,
    "high_alarm_remains": lambda f: f.high_after_clear > 0,
    "mri_resumes_dosing": lambda f: f.mri_resumes,
    "mri_stays_stopped": lambda f: z3.Not(f.mri_resumes),
}
"""Each guard of :data:`itdose.core.lifecycle.GUARDS` as a formula over :class:`Features`.
Guards alone in their (trigger, source) group are free booleans (their content does not matter
for determinism)."""


@dataclass
class Compiled:
    """A rule table as z3 sorts and a transition relation."""

    rules: tuple[Rule, ...]
    phase_sort: Any
    phase: dict[Phase, Any]
    trigger_sort: Any
    trigger: dict[str, Any]
    role_sort: Any
    role: dict[Role, Any]
    rule5: StateRule | None

    def in_set(self, term: Any, phases: Sequence[Phase] | frozenset[Phase]) -> ZBool:
        return z3.Or(*[term == self.phase[p] for p in phases]) if phases else z3.BoolVal(False)

    def after(self, dest: Phase, f: Features) -> Any:
        """The phase a step whose row ends in ``dest`` ends in: rule 5, modelled once."""
        rule = self.rule5
        if rule is None or dest not in rule.sources:
            return self.phase[dest]
        return z3.If(f.raised_high, self.phase[rule.dest], self.phase[dest])

    def row(self, r: Rule, s: Any, trig: Any, role: Any, f: Features, d: Any) -> ZBool:
        guard = z3.BoolVal(True) if r.guard is None else f.guard(r.guard.name)
        return z3.And(
            s == self.phase[r.source],
            trig == self.trigger[r.trigger],
            z3.Or(*[role == self.role[x] for x in r.roles]) if r.roles else z3.BoolVal(False),
            guard,
            d == self.after(r.dest, f),
        )

    def step(self, s: Any, trig: Any, role: Any, f: Features, d: Any) -> ZBool:
        """``T(s, trigger, role, features, d)``: some row takes ``s`` to ``d``."""
        return z3.Or(*[self.row(r, s, trig, role, f, d) for r in self.rules])

    def phase_name(self, value: Any) -> str:
        for p, const in self.phase.items():
            if z3.eq(value, const):
                return p.value
        return str(value)


def compile_rules(
    rules: Sequence[Rule] | None = None, rule5: StateRule | None = _LIVE_RULE5
) -> Compiled:
    """The live table (default) or ``rules``, with the live rule 5 (default), ``rule5`` or none,
    as z3 sorts and a transition relation."""
    table = tuple(lifecycle.RULES if rules is None else rules)
    if rule5 is _LIVE_RULE5:
        rule5 = lifecycle.HIGH_ALARM_STOPS
    n = next(_counter)
    phases = list(Phase)
    phase_sort, phase_consts = z3.EnumSort(f"Phase{n}", [p.value for p in phases])
    triggers = sorted({r.trigger for r in table})
    trigger_sort, trigger_consts = z3.EnumSort(f"Trigger{n}", triggers)
    roles = list(Role)
    role_sort, role_consts = z3.EnumSort(f"Role{n}", [r.value for r in roles])
    return Compiled(
        rules=table,
        phase_sort=phase_sort,
        phase=dict(zip(phases, phase_consts, strict=True)),
        trigger_sort=trigger_sort,
        trigger=dict(zip(triggers, trigger_consts, strict=True)),
        role_sort=role_sort,
        role=dict(zip(roles, role_consts, strict=True)),
        rule5=rule5,
    )


def _vars(c: Compiled, prefix: str = "") -> tuple[Any, Any, Any, Features, Any]:
    s = z3.Const(f"{prefix}source", c.phase_sort)
    trig = z3.Const(f"{prefix}trigger", c.trigger_sort)
    role = z3.Const(f"{prefix}role", c.role_sort)
    d = z3.Const(f"{prefix}dest", c.phase_sort)
    return s, trig, role, Features.fresh(prefix), d


def _shown(s: Any, trig: Any, role: Any, f: Features, d: Any) -> tuple[tuple[str, Any, str], ...]:
    return (
        ("source", s, ""),
        ("trigger", trig, ""),
        ("role", role, ""),
        ("dest", d, ""),
        ("HIGH alarm active", f.high_alarm, ""),
        ("step raised a HIGH alarm", f.raised_high, ""),
        ("HIGH alarms left after clear", f.high_after_clear, ""),
    )


# --- claims ----------------------------------------------------------------------------------


def terminal_claims(rules: Sequence[Rule] | None = None) -> list[Claim]:
    c = compile_rules(rules)
    s, trig, role, f, d = _vars(c)
    return [
        Claim(
            "every accepted transition from trial_failed or explanted stays there (REQ-LIFE-004)",
            (*f.domain(), c.step(s, trig, role, f, d)),
            z3.Implies(c.in_set(s, lifecycle.TERMINAL), d == s),
            _shown(s, trig, role, f, d),
        )
    ]


def delivery_claims(
    rules: Sequence[Rule] | None = None, grant_amount: GrantFn | None = None
) -> list[Claim]:
    c = compile_rules(rules)
    grant_fn = grant_amount or governor.grant_amount
    s, trig, role, f, d = _vars(c)
    ops = Z3Ops()
    req, cap, room = z3.Ints("requested cap_room reservoir_room")
    delivering = c.in_set(d, lifecycle.DELIVERING)
    grant = grant_fn(ops, governor.Request(req, cap, room, delivering))
    domain = [x >= 0 for x in (req, cap, room)]
    return [
        Claim(
            "after any transition into a phase outside DELIVERING the live governor grants 0 "
            "(REQ-LIFE-005, REQ-GOV-001)",
            (*f.domain(), *domain, c.step(s, trig, role, f, d)),
            z3.Implies(z3.Not(delivering), grant == 0),
            (*_shown(s, trig, role, f, d), ("requested", req, "ng"), ("grant", grant, "ng")),
        )
    ]


def _ranks(rules: Sequence[Rule]) -> dict[Phase, int]:
    """Backward breadth-first distance to explanted (the certificate z3 checks)."""
    rank = {Phase.EXPLANTED: 0}
    frontier = [Phase.EXPLANTED]
    while frontier:
        nxt = []
        for r in rules:
            if r.dest in frontier and r.source not in rank:
                rank[r.source] = rank[r.dest] + 1
                nxt.append(r.source)
        frontier = nxt
    return rank


def _step_renderer(trig: Any, d: Any) -> Callable[[Any], str]:
    def render(model: Any) -> str:
        return f"--{model.eval(trig)}--> {model.eval(d)}"

    return render


def reach_explanted_claims(rules: Sequence[Rule] | None = None) -> list[Claim]:
    c = compile_rules(rules)
    ranks = _ranks(c.rules)
    unreachable = 10_000

    def rank_of(term: Any) -> ZInt:
        out: ZInt = z3.IntVal(unreachable)
        for p in Phase:
            out = z3.If(term == c.phase[p], ranks.get(p, unreachable), out)
        return out

    claims = []
    for p in Phase:
        if p in lifecycle.TERMINAL:
            continue
        s, trig, role, f, d = _vars(c, f"{p.value}_")
        claims.append(
            Claim(
                f"{p.value} has an accepted step that lowers the distance to explanted "
                "(ranking certificate; REQ-LIFE-010)",
                (*f.domain(), s == c.phase[p]),
                z3.And(
                    c.step(s, trig, role, f, d), rank_of(d) < rank_of(s), rank_of(s) < unreachable
                ),
                _shown(s, trig, role, f, d),
                kind="witness",
                render=_step_renderer(trig, d),
            )
        )
    return claims


def determinism_claims(rules: Sequence[Rule] | None = None) -> list[Claim]:
    c = compile_rules(rules)
    groups: dict[tuple[str, Phase], list[Rule]] = {}
    for r in c.rules:
        groups.setdefault((r.trigger, r.source), []).append(r)
    claims = []
    f = Features.fresh("g_")
    for (trigger, source), rows in groups.items():
        if len(rows) < 2:
            continue
        enabled = [z3.BoolVal(True) if r.guard is None else f.guard(r.guard.name) for r in rows]
        shown = tuple((f"guard {r.guard} holds", g, "") for r, g in zip(rows, enabled, strict=True))
        claims.append(
            Claim(
                f"{trigger} from {source.value}: at most one of "
                f"{', '.join(str(r.guard) for r in rows)} holds (REQ-LIFE-003)",
                tuple(f.domain()),
                z3.Sum(*[z3.If(g, 1, 0) for g in enabled]) <= 1,
                (
                    *shown,
                    ("HIGH alarm active", f.high_alarm, ""),
                    ("resume after refill", f.resume_after_refill, ""),
                ),
            )
        )
    return claims


def stop_claims(
    rules: Sequence[Rule] | None = None, rule5: StateRule | None = _LIVE_RULE5
) -> list[Claim]:
    c = compile_rules(rules, rule5)
    s, trig, role, f, d = _vars(c)
    high_event = z3.And(
        f.raised_high,
        z3.Or(*[trig == c.trigger[t] for t in _RAISING if t in c.trigger], z3.BoolVal(False)),
    )
    claims = [
        Claim(
            "a HIGH alarm (raised, found by the clock, or an over-delivery report) moves the "
            "device to alarm, a non-delivering phase, in the same step (REQ-ALM-001)",
            (*f.domain(), c.step(s, trig, role, f, d)),
            z3.Implies(
                high_event,
                z3.And(d == c.phase[Phase.ALARM], z3.Not(c.in_set(d, lifecycle.DELIVERING))),
            ),
            _shown(s, trig, role, f, d),
        )
    ]
    for p in lifecycle.IMPLANTED_PHASES:
        s2, trig2, role2, f2, d2 = _vars(c, f"high_{p.value}_")
        claims.append(
            Claim(
                f"a HIGH alarm raised in {p.value} is accepted (REQ-ALM-001)",
                (*f2.domain(), s2 == c.phase[p], f2.raised_high),
                z3.And(
                    trig2 == c.trigger["raise_alarm"]
                    if "raise_alarm" in c.trigger
                    else z3.BoolVal(False),
                    c.step(s2, trig2, role2, f2, d2),
                ),
                _shown(s2, trig2, role2, f2, d2),
                kind="witness",
            )
        )
    for p in sorted(lifecycle.DELIVERING, key=lambda x: x.value):
        s3, trig3, role3, f3, d3 = _vars(c, f"stop_{p.value}_")
        claims.append(
            Claim(
                f"delivering {p.value} reaches a non-delivering phase in one step (REQ-LIFE-006)",
                (*f3.domain(), s3 == c.phase[p]),
                z3.And(
                    c.step(s3, trig3, role3, f3, d3),
                    z3.Not(c.in_set(d3, lifecycle.DELIVERING)),
                ),
                _shown(s3, trig3, role3, f3, d3),
                kind="witness",
            )
        )
    return claims


def fail_closed_claims(rules: Sequence[Rule] | None = None) -> list[Claim]:
    c = compile_rules(rules)
    s, trig, role, f, d = _vars(c)
    recovery = z3.Or(*[trig == c.trigger[t] for t in RECOVERY_TRIGGERS if t in c.trigger])
    return [
        Claim(
            "alarm is left only by a clinician's clear_alarm, begin_refill or explant, never "
            "straight to a delivering phase (REQ-LIFE-007)",
            (*f.domain(), c.step(s, trig, role, f, d)),
            z3.Implies(
                z3.And(s == c.phase[Phase.ALARM], d != c.phase[Phase.ALARM]),
                z3.And(
                    recovery,
                    role == c.role[Role.CLINICIAN],
                    z3.Not(c.in_set(d, lifecycle.DELIVERING)),
                ),
            ),
            _shown(s, trig, role, f, d),
        )
    ]


def bmc_claims(rules: Sequence[Rule] | None = None, steps: int = BMC_STEPS) -> list[Claim]:
    """For every phase: a trace of at most ``steps`` accepted commands from screening."""
    c = compile_rules(rules)
    states = [z3.Const(f"bmc_s{i}", c.phase_sort) for i in range(steps + 1)]
    trigs = [z3.Const(f"bmc_t{i}", c.trigger_sort) for i in range(steps)]
    roles = [z3.Const(f"bmc_r{i}", c.role_sort) for i in range(steps)]
    feats = [Features.fresh(f"bmc{i}_") for i in range(steps)]
    path: list[ZBool] = [states[0] == c.phase[Phase.SCREENING]]
    for i in range(steps):
        path += feats[i].domain()
        path.append(
            z3.Or(
                c.step(states[i], trigs[i], roles[i], feats[i], states[i + 1]),
                states[i + 1] == states[i],
            )
        )

    def render(model: Any, target: Phase) -> str:
        out = [Phase.SCREENING.value]
        for i in range(steps):
            here, there = model.eval(states[i]), model.eval(states[i + 1])
            if z3.eq(here, c.phase[target]):
                break
            if not z3.eq(here, there):
                out.append(f"--{model.eval(trigs[i])}--> {c.phase_name(there)}")
        return " ".join(out)

    return [
        Claim(
            f"{p.value} is reachable from screening within {steps} steps (REQ-LIFE-009)",
            tuple(path),
            z3.Or(*[st == c.phase[p] for st in states]),
            (),
            kind="witness",
            render=functools.partial(render, target=p),
        )
        for p in Phase
    ]


# --- broken tables ---------------------------------------------------------------------------

_C = frozenset({Role.CLINICIAN})


def _live() -> tuple[Rule, ...]:
    return tuple(lifecycle.RULES)


def _with(*extra: Rule) -> tuple[Rule, ...]:
    return (*_live(), *extra)


def _replace(pred: Callable[[Rule], bool], make: Callable[[Rule], Rule | None]) -> tuple[Rule, ...]:
    out = []
    for r in _live():
        if pred(r):
            new = make(r)
            if new is not None:
                out.append(new)
        else:
            out.append(r)
    return tuple(out)


def _grant_ignoring_phase(ops: Any, request: Any) -> Any:
    return governor.grant_amount(ops, dataclasses.replace(request, delivering=z3.BoolVal(True)))


OBLIGATIONS: tuple[Obligation, ...] = (
    Obligation(
        "LIFE-Z3-TERMINAL",
        "terminal phases are absorbing (Z3 transition relation)",
        ("REQ-LIFE-004",),
        "Every transition the live table accepts from trial_failed or explanted ends there.",
        "Table compiled as is; guards abstracted (see GUARD_MODEL).",
        lambda: terminal_claims(),
        (
            Broken(
                "terminal-exit",
                "explanted has a row back to active",
                lambda: terminal_claims(_with(Rule("resume", Phase.EXPLANTED, Phase.ACTIVE, _C))),
            ),
        ),
    ),
    Obligation(
        "LIFE-Z3-DELIVERY",
        "no drug is granted outside the delivering phases",
        ("REQ-LIFE-005", "REQ-GOV-001"),
        "For every transition of the live table and every governor input, the live "
        "grant_amount called with delivering := (dest in DELIVERING) grants 0 when the "
        "destination is not delivering.",
        "Not covered: that every caller derives 'delivering' from the phase (dosing.py passes "
        "the phase test explicitly; the property tests check it on the runtime).",
        lambda: delivery_claims(),
        (
            Broken(
                "governor-ignores-phase",
                "grant_amount ignores the delivering flag",
                lambda: delivery_claims(grant_amount=_grant_ignoring_phase),
            ),
        ),
    ),
    Obligation(
        "LIFE-Z3-EXPLANT",
        "every non-terminal phase reaches explanted",
        ("REQ-LIFE-010",),
        "A ranking (backward distance to explanted, computed from the live table) decreases "
        "along an accepted row from every non-terminal phase, so explanted is reachable from "
        "each; z3 checks the certificate against the compiled relation.",
        "Guards are abstract features, so a step is possible when its guard can hold.",
        lambda: reach_explanted_claims(),
        (
            Broken(
                "alarm-trap",
                "alarm keeps only its self-loops",
                lambda: reach_explanted_claims(
                    _replace(
                        lambda r: r.source is Phase.ALARM and r.dest is not Phase.ALARM,
                        lambda r: None,
                    )
                ),
            ),
        ),
    ),
    Obligation(
        "LIFE-Z3-GUARDS",
        "guards of rows sharing trigger and source are mutually exclusive",
        ("REQ-LIFE-003",),
        "For every (trigger, source) with several rows in the live table, at most one row's "
        "guard holds for any value of the guard features.",
        "Hand model: GUARD_MODEL abstracts each guard to features (tied to the live GUARDS by a "
        "hypothesis differential test that evaluates both guards of each pair on generated "
        "devices and commands).",
        lambda: determinism_claims(),
        (
            Broken(
                "overlapping-guards",
                "complete_refill to suspended guarded by no_high_alarm",
                lambda: determinism_claims(
                    _replace(
                        lambda r: r.trigger == "complete_refill" and r.dest is Phase.SUSPENDED,
                        lambda r: Rule(
                            r.trigger, r.source, r.dest, r.roles, lifecycle.NO_HIGH_ALARM
                        ),
                    )
                ),
            ),
            Broken(
                "unguarded-duplicate",
                "a second unguarded suspend row from active",
                lambda: determinism_claims(_with(Rule("suspend", Phase.ACTIVE, Phase.ALARM, _C))),
            ),
        ),
    ),
    Obligation(
        "LIFE-Z3-STOP",
        "a HIGH alarm stops delivery in the same step; delivery can always stop",
        ("REQ-ALM-001", "REQ-LIFE-006"),
        "Every accepted raise_alarm, tick or drive_report whose handler raised a HIGH alarm "
        "ends in alarm (not delivering), through the table and rule 5 compiled together; a "
        "HIGH raise_alarm is accepted in every implanted phase; every delivering phase has a "
        "row to a non-delivering phase.",
        "Whether a step raised a HIGH alarm is a feature here (the handlers report it at run "
        "time: alarms.py says which kinds are HIGH, dosing.plan_tick what the clock finds; "
        "tests check the handlers' reports).",
        lambda: stop_claims(),
        (
            Broken(
                "high-alarm-keeps-dosing",
                "no state-triggered HIGH-alarm rule (a HIGH alarm in active stays in active)",
                lambda: stop_claims(rule5=None),
            ),
            Broken(
                "rule5-misses-active",
                "rule 5 does not apply to active",
                lambda: stop_claims(
                    rule5=dataclasses.replace(
                        lifecycle.HIGH_ALARM_STOPS,
                        sources=lifecycle.HIGH_ALARM_STOPS.sources - {Phase.ACTIVE},
                    )
                ),
            ),
        ),
    ),
    Obligation(
        "LIFE-Z3-ALARM",
        "alarm is fail-closed: only a clinician's recovery leaves it",
        ("REQ-LIFE-007",),
        "Every accepted transition out of alarm is a clinician's clear_alarm, begin_refill or "
        "explant and does not enter a delivering phase.",
        "The recovery set is stated here (RECOVERY_TRIGGERS), as in proofs/structure.py.",
        lambda: fail_closed_claims(),
        (
            Broken(
                "alarm-resume",
                "resume leaves alarm straight to active",
                lambda: fail_closed_claims(_with(Rule("resume", Phase.ALARM, Phase.ACTIVE, _C))),
            ),
        ),
    ),
    Obligation(
        "LIFE-Z3-BMC",
        f"every phase is reachable from screening within {BMC_STEPS} steps (BMC witnesses)",
        ("REQ-LIFE-009",),
        f"Bounded model checking of the compiled relation from screening, {BMC_STEPS} steps: "
        "a witness trace to every phase.",
        "Bounded: finds short witnesses only; guards abstract.",
        lambda: bmc_claims(),
        (
            Broken(
                "refill-unreachable",
                "no row leads to refill",
                lambda: bmc_claims(_replace(lambda r: r.dest is Phase.REFILL, lambda r: None)),
            ),
        ),
    ),
)
"""The lifecycle obligations, in report order."""
