"""Integer operations that run the same on Python ints and on z3 terms (REQ-GOV-007).

The dose governor (:mod:`itdose.core.governor`) is written once, against the :class:`Ops`
protocol, so that the runtime evaluates it on ``int``/``bool`` (:data:`INT_OPS`) and the proofs
evaluate the very same function on z3 terms (an ``Ops`` implementation supplied by
``itdose.proofs``; z3 stays out of the core).

Rules for code written against :class:`Ops` (docs/architecture.md#evidence):

- never branch with Python ``if``, ``and``, ``or``, ``not``, ``is`` or ``==`` on a value that may
  be a term; use :meth:`Ops.ite`, :meth:`Ops.and_`, :meth:`Ops.or_`, :meth:`Ops.not_`,
  :meth:`Ops.eq` instead;
- never use Python operators on possible terms either (they would not type-check generically);
  use :meth:`Ops.add`, :meth:`Ops.sub`, :meth:`Ops.mul`, :meth:`Ops.lit`;
- divide only with :meth:`Ops.floor_div` / :meth:`Ops.ceil_div`, and only non-negative dividends
  by positive divisors. On those operands floor division is the same in Python and in z3 (whose
  integer division is Euclidean), so the runtime and the proof agree. :data:`INT_OPS` raises
  :class:`~itdose.core.errors.InvalidInput` when the rule is broken, so a runtime test catches a
  violation that the proof would silently model differently.

:func:`floor_div` and :func:`ceil_div` are the plain-int helpers for the rest of the core.
"""

from __future__ import annotations

from typing import Final, Protocol, TypeVar

from itdose.core.errors import InvalidInput

__all__ = ["INT_OPS", "BoolT", "IntOps", "IntT", "Ops", "ceil_div", "check_nonneg", "floor_div"]

IntT = TypeVar("IntT")
"""The integer type an :class:`Ops` works on (``int`` at run time, a z3 ``ArithRef`` in proofs)."""
BoolT = TypeVar("BoolT")
"""The boolean type an :class:`Ops` works on (``bool`` at run time, a z3 ``BoolRef`` in proofs)."""


class Ops(Protocol[IntT, BoolT]):
    """Arithmetic, comparison and choice on an integer type and its boolean type: each method is
    the Python operator or builtin of its name (``add``: ``a + b``, ``le``: ``a <= b``, ``min_``,
    ``max_``); ``lit`` is the constant ``value``; ``ite`` is ``a`` if ``cond`` holds, else ``b``;
    ``and_`` of no conditions holds, ``or_`` of none does not; ``floor_div`` and ``ceil_div`` are
    ``floor(a / b)`` and ``ceil(a / b)``, only for ``a >= 0`` and ``b > 0``."""

    def lit(self, value: int) -> IntT: ...
    def add(self, a: IntT, b: IntT) -> IntT: ...
    def sub(self, a: IntT, b: IntT) -> IntT: ...
    def mul(self, a: IntT, b: IntT) -> IntT: ...
    def ite(self, cond: BoolT, a: IntT, b: IntT) -> IntT: ...
    def min_(self, a: IntT, b: IntT) -> IntT: ...
    def max_(self, a: IntT, b: IntT) -> IntT: ...
    def and_(self, *conds: BoolT) -> BoolT: ...
    def or_(self, *conds: BoolT) -> BoolT: ...
    def not_(self, cond: BoolT) -> BoolT: ...
    def le(self, a: IntT, b: IntT) -> BoolT: ...
    def lt(self, a: IntT, b: IntT) -> BoolT: ...
    def ge(self, a: IntT, b: IntT) -> BoolT: ...
    def gt(self, a: IntT, b: IntT) -> BoolT: ...
    def eq(self, a: IntT, b: IntT) -> BoolT: ...
    def floor_div(self, a: IntT, b: IntT) -> IntT: ...
    def ceil_div(self, a: IntT, b: IntT) -> IntT: ...


def _check_int(field: str, value: object) -> int:
    # ``type(value) is int`` first: the valid case of every call decides without the isinstance
    if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidInput(field, "must be an integer", value=value)
    return value


def check_nonneg(field: str, value: object) -> int:
    """``value`` if it is a non-negative ``int`` (not a ``bool``); :class:`InvalidInput` naming
    ``field`` otherwise (the one integer check of the governor and the ledger)."""
    checked = _check_int(field, value)
    if checked < 0:
        raise InvalidInput(field, "must not be negative", value=checked, limit=">= 0")
    return checked


def _check_division(a: object, b: object) -> tuple[int, int]:
    dividend = _check_int("dividend", a)
    divisor = _check_int("divisor", b)
    if dividend < 0:  # check_nonneg's test, after both types (the error names the first fault)
        raise InvalidInput("dividend", "must not be negative", value=dividend, limit=">= 0")
    if divisor <= 0:
        raise InvalidInput("divisor", "must be positive", value=divisor, limit="> 0")
    return dividend, divisor


def floor_div(a: int, b: int) -> int:
    """``floor(a / b)`` for ``a >= 0``, ``b > 0``; :class:`InvalidInput` otherwise.

    Contract (PEP 316, checked by CrossHair in tests/properties/test_crosshair.py):

    pre: a >= 0 and b > 0
    post: __return__ >= 0
    post: __return__ * b <= a < (__return__ + 1) * b
    """
    # one checked path (no fast path for plain ints: the proofs evaluate this path, and a second
    # copy of the rule beside it would be one they never read)
    a, b = _check_division(a, b)
    return a // b


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for ``a >= 0``, ``b > 0``; :class:`InvalidInput` otherwise.

    Contract (PEP 316, checked by CrossHair in tests/properties/test_crosshair.py):

    pre: a >= 0 and b > 0
    post: __return__ >= 0
    post: (__return__ - 1) * b < a <= __return__ * b
    post: __return__ == floor_div(a, b) + (0 if a % b == 0 else 1)
    """
    # one checked path (no fast path for plain ints: the proofs evaluate this path, and a second
    # copy of the rule beside it would be one they never read)
    a, b = _check_division(a, b)
    return -(-a // b)


class IntOps:
    """:class:`Ops` on Python ``int`` and ``bool`` (the runtime implementation)."""

    def lit(self, value: int) -> int:
        return _check_int("value", value)

    def add(self, a: int, b: int) -> int:
        return a + b

    def sub(self, a: int, b: int) -> int:
        return a - b

    def mul(self, a: int, b: int) -> int:
        return a * b

    def ite(self, cond: bool, a: int, b: int) -> int:
        if not isinstance(cond, bool):
            raise InvalidInput("cond", "must be a bool", value=cond)
        return a if cond else b

    def min_(self, a: int, b: int) -> int:
        return min(a, b)

    def max_(self, a: int, b: int) -> int:
        return max(a, b)

    def and_(self, *conds: bool) -> bool:
        return all(conds)

    def or_(self, *conds: bool) -> bool:
        return any(conds)

    def not_(self, cond: bool) -> bool:
        return not cond

    def le(self, a: int, b: int) -> bool:
        return a <= b

    def lt(self, a: int, b: int) -> bool:
        return a < b

    def ge(self, a: int, b: int) -> bool:
        return a >= b

    def gt(self, a: int, b: int) -> bool:
        return a > b

    def eq(self, a: int, b: int) -> bool:
        return a == b

    def floor_div(self, a: int, b: int) -> int:
        return floor_div(a, b)

    def ceil_div(self, a: int, b: int) -> int:
        return ceil_div(a, b)


INT_OPS: Final[Ops[int, bool]] = IntOps()
"""The runtime :class:`Ops`: plain ints and bools."""
