"""Symbolic execution of plain-int core code: :class:`SymInt` and :class:`Explorer`.

Some core code is written on plain ``int`` and branches in Python (``if``, ``min``, ``max``,
tuple equality): :mod:`itdose.core.path` is the main case. It cannot be evaluated on z3 terms in
one pass the way the :class:`~itdose.core.arith.Ops` code is. :class:`Explorer` runs such code
*unchanged* on :class:`SymInt` values and enumerates its feasible paths, depth first: every
comparison or truth test of a :class:`SymInt` asks the explorer, which decides with z3 which
outcomes are feasible under the path condition so far, takes one and queues the other. Each run
ends in a :class:`Leaf`: the path condition (a conjunction of z3 facts), and the function's
result or the exception it raised. Claims are then stated per leaf, and the proofs check that the
leaves cover every input (the disjunction of the path conditions is valid under the
assumptions), so nothing is left out.

:class:`SymInt` subclasses ``int`` so that the core's ``isinstance(x, int)`` checks accept it.
Every arithmetic operator, comparison, ``bool()`` and ``hash`` is overridden, and the conversions
that Python routes through the object (``int()``, ``float()``, ``round()``, bit operations, true
division, powers) raise :class:`TypeError`. CPython reads the base value of an ``int`` subclass
directly in a few places (sequence indexing, ``range()``, ``hex()``): that base value is a poison,
:data:`POISON`, far outside every physical range, so such a use gives an ``IndexError`` or an
absurd result instead of a plausible wrong one.
A differential test (tests/proofs/test_path_model.py) evaluates the leaves at generated concrete
inputs and compares them with the runtime results.

Division: Python's ``//`` and ``%`` are floor division. z3's integer division is Euclidean, the
same as floor division for a positive divisor; a negative divisor is rewritten
(``a // b == (-a) // (-b)``) and a zero divisor raises ``ZeroDivisionError`` as Python does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import z3  # type: ignore[import-untyped]

from itdose.core.errors import DosingError
from itdose.proofs.z3ops import ZBool, ZInt

__all__ = ["POISON", "Explorer", "Leaf", "SymInt", "covered", "fold", "run_any", "term"]

FEASIBILITY_TIMEOUT_MS = 2_000
"""Per feasibility check; an ``unknown`` answer counts as feasible (explores more, never less)."""
POISON = 2**200 + 7
"""The base ``int`` value of every :class:`SymInt` (never a meaningful number)."""
MAX_PATHS = 5_000
"""A run that forks into more paths than this is refused (a claim could not be decided)."""


class Explorer:
    """Depth-first enumeration of the feasible paths of a function of :class:`SymInt` values."""

    def __init__(self, assumptions: Sequence[ZBool] = ()) -> None:
        self.assumptions: tuple[ZBool, ...] = ()
        self._choices: list[bool] = []
        self._prefix: list[bool] = []
        self._pc: list[ZBool] = []
        self._pending: list[tuple[list[bool], Any]] = []
        self._model: Any = None
        self._solver = z3.Solver()
        self._solver.set("timeout", FEASIBILITY_TIMEOUT_MS)
        self.feasibility_checks = 0
        self.assume(*assumptions)

    def assume(self, *conds: ZBool) -> None:
        """Restrict every path to inputs satisfying ``conds`` (before :meth:`run`)."""
        self.assumptions = (*self.assumptions, *conds)
        self._solver.add(*conds)

    def fresh(self, name: str) -> SymInt:
        """A fresh symbolic integer named ``name``."""
        return SymInt(z3.Int(name))

    def wrap(self, t: ZInt) -> SymInt:
        """A symbolic integer for the z3 term ``t`` (e.g. a folded result of another run)."""
        return SymInt(t)

    def _check(self, cond: ZBool) -> tuple[bool, Any]:
        """Whether ``cond`` is feasible on this path, and a model witnessing it (None if the
        answer is ``unknown``, which counts as feasible)."""
        self.feasibility_checks += 1
        answer = self._solver.check(cond)
        if answer == z3.sat:
            return True, self._solver.model()
        return answer != z3.unsat, None

    def _fork(self, model: Any) -> None:
        self._pending.append(([*self._choices, False], model))
        if len(self._pending) > MAX_PATHS:
            raise RuntimeError("too many paths to explore")

    def decide(self, cond: ZBool) -> bool:
        """The outcome of the branch on ``cond`` for the path being run.

        ``self._model`` (when known) is an input that follows the path so far: its value of
        ``cond`` shows one outcome feasible without a solver call; the solver decides the other.
        """
        cond = z3.simplify(cond)
        pos = len(self._choices)
        if pos < len(self._prefix):
            choice = self._prefix[pos]
        elif z3.is_true(cond):
            choice = True
        elif z3.is_false(cond):
            choice = False
        else:
            value = (
                self._model.eval(cond, model_completion=True) if self._model is not None else None
            )
            if value is not None and z3.is_true(value):
                can_false, other = self._check(z3.Not(cond))
                if can_false:
                    self._fork(other)
                choice = True
            elif value is not None and z3.is_false(value):
                can_true, other = self._check(cond)
                if can_true:
                    self._fork(self._model)
                    self._model = other
                choice = can_true
            else:
                can_true, model_true = self._check(cond)
                can_false, model_false = self._check(z3.Not(cond))
                if not (can_true or can_false):  # unreachable by construction
                    raise RuntimeError("infeasible path condition")
                if can_true and can_false:
                    self._fork(model_false)
                choice = can_true
                self._model = model_true if can_true else model_false
        taken = cond if choice else z3.Not(cond)
        self._choices.append(choice)
        self._pc.append(taken)
        self._solver.push()
        self._solver.add(taken)
        return choice

    def run(self, fn: Callable[[], Any]) -> list[Leaf]:
        """Every feasible path of ``fn()``: its condition and its result or exception."""
        leaves: list[Leaf] = []
        self._pending = [([], None)]
        while self._pending:
            self._prefix, self._model = self._pending.pop()
            self._choices, self._pc = [], []
            if self._solver.num_scopes():
                self._solver.pop(self._solver.num_scopes())
            _RUNNING.append(self)
            try:
                result = fn()
            except (DosingError, ArithmeticError, ValueError, LookupError, AssertionError) as exc:
                # the function's own failure on this path (e.g. InvalidInput): a leaf
                leaves.append(Leaf(tuple(self._pc), None, exc))
            else:
                leaves.append(Leaf(tuple(self._pc), result, None))
            finally:
                _RUNNING.pop()
            if len(leaves) > MAX_PATHS:
                raise RuntimeError("too many paths to explore")
        return leaves


@dataclass(frozen=True)
class Leaf:
    """One path: its condition, and the result or the exception raised."""

    condition: tuple[ZBool, ...]
    result: Any
    error: BaseException | None

    @functools.cached_property
    def pc(self) -> ZBool:
        return z3.And(*self.condition) if self.condition else z3.BoolVal(True)


def run_any(ex: Explorer, fn: Callable[[], Any]) -> list[Leaf]:
    """Every feasible path of ``fn()`` under ``ex``, with ANY exception it raises as the leaf's
    error (:meth:`Explorer.run` keeps only the core's documented failures): a ``TypeError`` or an
    ``AttributeError`` on a path is a defect a claim can show with a counterexample. Only a
    limit of the symbolic evaluation (a symbolic value used as a concrete one, too many paths)
    propagates: the proof cannot be built."""

    def guarded() -> Any:
        try:
            return fn()
        except (RuntimeError, RecursionError):
            raise
        except Exception as exc:
            if isinstance(exc, TypeError) and "symbolic" in str(exc):
                raise
            return _Raised(exc)

    return [
        Leaf(leaf.condition, None, leaf.result.exc) if isinstance(leaf.result, _Raised) else leaf
        for leaf in ex.run(guarded)
    ]


@dataclass(frozen=True)
class _Raised:
    exc: Exception


def term(value: object) -> ZInt:
    """The z3 term of a :class:`SymInt` or a plain ``int``."""
    if isinstance(value, SymInt):
        return value.term
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an int or a SymInt, got {type(value).__name__}")
    return z3.IntVal(value)


_RUNNING: list[Explorer] = []
"""The explorer whose :meth:`Explorer.run` is executing: it decides every branch."""


def _decide(cond: ZBool) -> bool:
    if not _RUNNING:
        raise TypeError("a symbolic value can only be branched on inside Explorer.run")
    return _RUNNING[-1].decide(cond)


def _operand(value: object) -> ZInt | None:
    if isinstance(value, SymInt):
        return value.term
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return z3.IntVal(value)


class SymInt(int):
    """A z3 integer term that passes ``isinstance(x, int)``; never read as a number."""

    term: ZInt

    def __new__(cls, t: ZInt) -> SymInt:
        obj = super().__new__(cls, POISON)
        obj.term = t
        return obj

    # --- arithmetic -------------------------------------------------------------------------

    def _bin(self, other: object, op: Callable[[ZInt, ZInt], ZInt], reflected: bool) -> Any:
        o = _operand(other)
        if o is None:
            return NotImplemented
        a, b = (o, self.term) if reflected else (self.term, o)
        return SymInt(op(a, b))

    def __add__(self, other: object) -> Any:
        return self._bin(other, lambda a, b: a + b, False)

    def __radd__(self, other: object) -> Any:
        return self._bin(other, lambda a, b: a + b, True)

    def __sub__(self, other: object) -> Any:
        return self._bin(other, lambda a, b: a - b, False)

    def __rsub__(self, other: object) -> Any:
        return self._bin(other, lambda a, b: a - b, True)

    def __mul__(self, other: object) -> Any:
        return self._bin(other, lambda a, b: a * b, False)

    def __rmul__(self, other: object) -> Any:
        return self._bin(other, lambda a, b: a * b, True)

    def __neg__(self) -> SymInt:
        return SymInt(-self.term)

    def __pos__(self) -> SymInt:
        return self

    def __abs__(self) -> SymInt:
        return SymInt(z3.If(self.term >= 0, self.term, -self.term))

    def _floordiv(self, a: ZInt, b: ZInt) -> ZInt:
        if _decide(b > 0):
            return a / b
        if _decide(b < 0):
            return (-a) / (-b)
        raise ZeroDivisionError("integer division by zero")

    def __floordiv__(self, other: object) -> Any:
        o = _operand(other)
        if o is None:
            return NotImplemented
        return SymInt(self._floordiv(self.term, o))

    def __rfloordiv__(self, other: object) -> Any:
        o = _operand(other)
        if o is None:
            return NotImplemented
        return SymInt(self._floordiv(o, self.term))

    def __mod__(self, other: object) -> Any:
        o = _operand(other)
        if o is None:
            return NotImplemented
        return SymInt(self.term - o * self._floordiv(self.term, o))

    def __rmod__(self, other: object) -> Any:
        o = _operand(other)
        if o is None:
            return NotImplemented
        return SymInt(o - self.term * self._floordiv(o, self.term))

    def __divmod__(self, other: object) -> Any:
        return self.__floordiv__(other), self.__mod__(other)

    def __rdivmod__(self, other: object) -> Any:
        return self.__rfloordiv__(other), self.__rmod__(other)

    # --- comparisons and truth: decided by the explorer --------------------------------------

    def _cmp(self, other: object, op: Callable[[ZInt, ZInt], ZBool]) -> Any:
        o = _operand(other)
        if o is None:
            return NotImplemented
        return _decide(op(self.term, o))

    def __lt__(self, other: object) -> Any:
        return self._cmp(other, lambda a, b: a < b)

    def __le__(self, other: object) -> Any:
        return self._cmp(other, lambda a, b: a <= b)

    def __gt__(self, other: object) -> Any:
        return self._cmp(other, lambda a, b: a > b)

    def __ge__(self, other: object) -> Any:
        return self._cmp(other, lambda a, b: a >= b)

    def __eq__(self, other: object) -> Any:
        return self._cmp(other, lambda a, b: a == b)

    def __ne__(self, other: object) -> Any:
        return self._cmp(other, lambda a, b: a != b)

    def __bool__(self) -> bool:
        return _decide(self.term != 0)

    __hash__ = None  # type: ignore[assignment]

    # --- no silent concretisation -----------------------------------------------------------

    def __int__(self) -> int:
        raise TypeError("a symbolic integer has no concrete value")

    def __index__(self) -> int:
        raise TypeError("a symbolic integer has no concrete value")

    def __float__(self) -> float:
        raise TypeError("a symbolic integer has no concrete value")

    def __truediv__(self, other: object) -> Any:
        raise TypeError("true division of a symbolic integer")

    def __rtruediv__(self, other: object) -> Any:
        raise TypeError("true division of a symbolic integer")

    def __pow__(self, other: object, mod: object = None) -> Any:
        raise TypeError("power of a symbolic integer")

    def __and__(self, other: object) -> Any:
        raise TypeError("bit operation on a symbolic integer")

    __rand__ = __or__ = __ror__ = __xor__ = __rxor__ = __and__
    __lshift__ = __rlshift__ = __rshift__ = __rrshift__ = __and__

    def __invert__(self) -> Any:
        raise TypeError("bit operation on a symbolic integer")

    def __round__(self, ndigits: object = None) -> Any:
        raise TypeError("a symbolic integer has no concrete value")

    def __trunc__(self) -> Any:
        raise TypeError("a symbolic integer has no concrete value")

    __floor__ = __ceil__ = __trunc__

    def __repr__(self) -> str:
        return f"SymInt({self.term})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> Any:
        raise TypeError("a symbolic integer cannot be pickled")

    def __getnewargs__(self) -> Any:
        raise TypeError("a symbolic integer cannot be copied")


def fold(leaves: Sequence[Leaf], value: Callable[[Any], ZInt]) -> ZInt:
    """One z3 term equal to ``value(result)`` on every leaf: ``If(pc1, v1, If(pc2, v2, ...))``.

    Every leaf must have a result (an exception on a feasible path raises ``RuntimeError``). The
    last leaf is the default, which is sound only with a coverage claim (the proofs state one).
    """
    failed = [leaf for leaf in leaves if leaf.error is not None]
    if failed:
        raise RuntimeError(f"the code raised on a feasible path: {failed[0].error!r}")
    out: ZInt = value(leaves[-1].result)
    for leaf in reversed(leaves[:-1]):
        out = z3.If(leaf.pc, value(leaf.result), out)
    return out


def covered(leaves: Sequence[Leaf]) -> ZBool:
    """The disjunction of the leaves' path conditions (valid iff no input was left out)."""
    return z3.Or(*[leaf.pc for leaf in leaves]) if leaves else z3.BoolVal(False)
