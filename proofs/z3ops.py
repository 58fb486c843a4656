"""z3 terms for the core's arithmetic: :class:`Z3Ops`.

:class:`Z3Ops` implements :class:`itdose.core.arith.Ops` over z3 ``Int``/``Bool`` terms, so the
proofs evaluate the governor functions the runtime runs (REQ-GOV-007); ARITH-Z3
(:mod:`itdose.proofs.decisions_z3`) proves each method equal to the runtime's ``IntOps``. Plain
int code of the core that branches in Python is executed symbolically by
:mod:`itdose.proofs.explore` instead.

Division: z3's integer division is Euclidean. For a positive divisor it equals Python's floor
division for every dividend, negative ones included, so ``-(-a // b)`` is the ceiling in both.
:meth:`Z3Ops.floor_div` and :meth:`Z3Ops.ceil_div` record the side condition ``a >= 0 and b > 0``
of the :class:`~itdose.core.arith.Ops` protocol in :attr:`Z3Ops.side_conditions`; the proofs
assert these are implied by the assumptions, so a call outside the protocol's domain is a proof
failure rather than a silently different model.

z3 ships no type stubs; terms are typed as :data:`ZInt` / :data:`ZBool` (``Any`` aliases).
"""

from __future__ import annotations

from typing import Any, TypeAlias

import z3  # type: ignore[import-untyped]

__all__ = ["Z3Ops", "ZBool", "ZInt"]

ZInt: TypeAlias = Any
"""A z3 integer term (``z3.ArithRef``)."""
ZBool: TypeAlias = Any
"""A z3 boolean term (``z3.BoolRef``)."""


class Z3Ops:
    """:class:`~itdose.core.arith.Ops` on z3 integer and boolean terms."""

    def __init__(self) -> None:
        self.side_conditions: list[ZBool] = []
        """``a >= 0 and b > 0`` for every division evaluated (checked by the proofs)."""

    def lit(self, value: int) -> ZInt:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"lit expects an int, got {type(value).__name__}")
        return z3.IntVal(value)

    def add(self, a: ZInt, b: ZInt) -> ZInt:
        return a + b

    def sub(self, a: ZInt, b: ZInt) -> ZInt:
        return a - b

    def mul(self, a: ZInt, b: ZInt) -> ZInt:
        return a * b

    def ite(self, cond: ZBool, a: ZInt, b: ZInt) -> ZInt:
        return z3.If(cond, a, b)

    def min_(self, a: ZInt, b: ZInt) -> ZInt:
        return z3.If(a <= b, a, b)

    def max_(self, a: ZInt, b: ZInt) -> ZInt:
        return z3.If(a >= b, a, b)

    def and_(self, *conds: ZBool) -> ZBool:
        return z3.And(*conds) if conds else z3.BoolVal(True)

    def or_(self, *conds: ZBool) -> ZBool:
        return z3.Or(*conds) if conds else z3.BoolVal(False)

    def not_(self, cond: ZBool) -> ZBool:
        return z3.Not(cond)

    def le(self, a: ZInt, b: ZInt) -> ZBool:
        return a <= b

    def lt(self, a: ZInt, b: ZInt) -> ZBool:
        return a < b

    def ge(self, a: ZInt, b: ZInt) -> ZBool:
        return a >= b

    def gt(self, a: ZInt, b: ZInt) -> ZBool:
        return a > b

    def eq(self, a: ZInt, b: ZInt) -> ZBool:
        return a == b

    def floor_div(self, a: ZInt, b: ZInt) -> ZInt:
        self.side_conditions.append(z3.And(a >= 0, b > 0))
        return a / b

    def ceil_div(self, a: ZInt, b: ZInt) -> ZInt:
        self.side_conditions.append(z3.And(a >= 0, b > 0))
        return -((-a) / b)
