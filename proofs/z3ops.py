"""z3 terms for the core's arithmetic: :class:`Z3Ops` and the :class:`Sym` operator proxy.

:class:`Z3Ops` implements :class:`itdose.core.arith.Ops` over z3 ``Int``/``Bool`` terms, so the
proofs evaluate the governor functions the runtime runs (REQ-GOV-007). :class:`Sym` wraps a z3
integer term in Python operators (``+ - * // unary -``) so that the few int-only helpers of the
core that use plain operators on non-negative values (``ledger._first_bucket``,
``program.basal_daily_ng``) can be evaluated on terms unchanged. Any attempt to branch on a
:class:`Sym` (``bool()``, ``==``, ``<``) raises ``TypeError``: such code cannot be read
symbolically and must not silently be mis-modelled.

Division: z3's integer division is Euclidean. For a positive divisor it equals Python's floor
division for every dividend, negative ones included, so ``-(-a // b)`` is the ceiling in both.
:meth:`Z3Ops.floor_div` and :meth:`Z3Ops.ceil_div` record the side condition ``a >= 0 and b > 0``
of the :class:`~itdose.core.arith.Ops` protocol in :attr:`Z3Ops.side_conditions`; the proofs
assert these are implied by the assumptions, so a call outside the protocol's domain is a proof
failure rather than a silently different model. ``Sym // d`` accepts only a positive ``int``.

z3 ships no type stubs; terms are typed as :data:`ZInt` / :data:`ZBool` (``Any`` aliases).
"""

from __future__ import annotations

from typing import Any, TypeAlias

import z3  # type: ignore[import-untyped]

__all__ = ["Sym", "Z3Ops", "ZBool", "ZInt", "sym_term"]

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


def sym_term(value: Sym | int) -> ZInt:
    """The z3 term of a :class:`Sym` or an ``int``."""
    if isinstance(value, Sym):
        return value.term
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected a Sym or an int, got {type(value).__name__}")
    return z3.IntVal(value)


class Sym:
    """A z3 integer term behind Python's arithmetic operators (no comparisons, no ``bool``)."""

    __slots__ = ("term",)

    def __init__(self, term: ZInt) -> None:
        self.term = term

    def __add__(self, other: Sym | int) -> Sym:
        return Sym(self.term + sym_term(other))

    def __radd__(self, other: Sym | int) -> Sym:
        return Sym(sym_term(other) + self.term)

    def __sub__(self, other: Sym | int) -> Sym:
        return Sym(self.term - sym_term(other))

    def __rsub__(self, other: Sym | int) -> Sym:
        return Sym(sym_term(other) - self.term)

    def __mul__(self, other: Sym | int) -> Sym:
        return Sym(self.term * sym_term(other))

    def __rmul__(self, other: Sym | int) -> Sym:
        return Sym(sym_term(other) * self.term)

    def __neg__(self) -> Sym:
        return Sym(-self.term)

    def __floordiv__(self, other: int) -> Sym:
        if isinstance(other, bool) or not isinstance(other, int) or other <= 0:
            raise TypeError("a symbolic value may only be divided by a positive int constant")
        # Euclidean division equals floor division for a positive divisor.
        return Sym(self.term / z3.IntVal(other))

    def __bool__(self) -> bool:
        raise TypeError("cannot branch on a symbolic value: the code is not Ops-clean here")

    def __eq__(self, other: object) -> bool:
        raise TypeError("cannot compare a symbolic value with ==: use z3 terms")

    def __lt__(self, other: object) -> bool:
        raise TypeError("cannot compare a symbolic value with <: use z3 terms")

    def __le__(self, other: object) -> bool:
        raise TypeError("cannot compare a symbolic value with <=: use z3 terms")

    def __gt__(self, other: object) -> bool:
        raise TypeError("cannot compare a symbolic value with >: use z3 terms")

    def __ge__(self, other: object) -> bool:
        raise TypeError("cannot compare a symbolic value with >=: use z3 terms")

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Sym({self.term})"
