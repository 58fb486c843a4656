"""Integer arithmetic (core/arith.py): the error
contract (``field``, ``message``, ``value``, ``limit``) of the division rule and of ``IntOps``,
and each runtime operation of :data:`INT_OPS` on concrete ints (REQ-GOV-007, REQ-UNIT-004)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from itdose.core.arith import INT_OPS, IntOps, ceil_div, floor_div
from itdose.core.errors import InvalidInput


def _error(fn: Callable[[], object]) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        fn()
    return exc.value


def _contract(err: InvalidInput) -> tuple[str, str, object, str | None]:
    return (err.field, err.message, err.value, err.limit)


@pytest.mark.parametrize("cond", [1, 0, None, "yes"])
def test_ite_rejects_a_condition_that_is_not_a_bool_in_full(cond: object) -> None:
    """REQ-GOV-007: the runtime ``ite`` takes only a real bool, as the z3 one takes a BoolRef."""
    with pytest.raises(InvalidInput) as exc:
        INT_OPS.ite(cond, 1, 2)  # type: ignore[arg-type]
    assert (exc.value.field, exc.value.message, exc.value.value) == ("cond", "must be a bool", cond)
    assert exc.value.limit is None


def test_ite_chooses_the_first_operand_exactly_when_the_condition_holds() -> None:
    """REQ-GOV-007: ``ite(c, a, b)`` is ``a`` if ``c`` else ``b``."""
    assert INT_OPS.ite(True, 1, 2) == 1
    assert INT_OPS.ite(False, 1, 2) == 2


DIVISIONS: list[Callable[[object, object], int]] = [
    floor_div,  # type: ignore[list-item]
    ceil_div,  # type: ignore[list-item]
    INT_OPS.floor_div,  # type: ignore[list-item]
    INT_OPS.ceil_div,  # type: ignore[list-item]
]


@pytest.mark.parametrize("div", DIVISIONS)
@pytest.mark.parametrize(
    ("a", "b", "contract"),
    [
        (-1, 3, ("dividend", "must not be negative", -1, ">= 0")),
        (-7, -2, ("dividend", "must not be negative", -7, ">= 0")),
        (5, 0, ("divisor", "must be positive", 0, "> 0")),
        (5, -1, ("divisor", "must be positive", -1, "> 0")),
        (0, 0, ("divisor", "must be positive", 0, "> 0")),
        (1.5, 2, ("dividend", "must be an integer", 1.5, None)),
        (True, 2, ("dividend", "must be an integer", True, None)),
        ("4", 2, ("dividend", "must be an integer", "4", None)),
        (4, 2.0, ("divisor", "must be an integer", 2.0, None)),
        (4, False, ("divisor", "must be an integer", False, None)),
        (-4, 2.0, ("divisor", "must be an integer", 2.0, None)),
    ],
)
def test_a_division_outside_the_rule_is_rejected_in_full(
    div: Callable[[object, object], int],
    a: object,
    b: object,
    contract: tuple[str, str, object, str | None],
) -> None:
    """REQ-GOV-007: only a non-negative int by a positive int, where Python and z3 agree; the
    error names the operand at fault and the bound it broke."""
    assert _contract(_error(lambda: div(a, b))) == contract


@pytest.mark.parametrize("div", DIVISIONS[::2])
def test_floor_division_on_the_edges(div: Callable[[object, object], int]) -> None:
    """REQ-UNIT-004: floor division rounds down; 0 and a divisor of 1 are allowed."""
    assert div(0, 1) == 0
    assert div(0, 7) == 0
    assert div(7, 1) == 7
    assert div(7, 2) == 3
    assert div(6, 3) == 2
    assert div(2, 3) == 0


@pytest.mark.parametrize("div", DIVISIONS[1::2])
def test_ceil_division_on_the_edges(div: Callable[[object, object], int]) -> None:
    """REQ-UNIT-004: ceiling division rounds up (an amount checked against a limit)."""
    assert div(0, 1) == 0
    assert div(0, 7) == 0
    assert div(7, 1) == 7
    assert div(7, 2) == 4
    assert div(6, 3) == 2
    assert div(1, 3) == 1


class _Count(int):
    """An int subclass other than bool (as an ``IntEnum`` member is): an integer all the same."""


def test_an_int_subclass_divides_as_its_int_value() -> None:
    """REQ-GOV-007: the rule is on values, not on the exact class: an int subclass other than
    bool (which is rejected above) divides as its int value, through the checked path."""
    assert floor_div(_Count(7), 2) == 3
    assert floor_div(7, _Count(2)) == 3
    assert ceil_div(_Count(7), 2) == 4
    assert ceil_div(7, _Count(2)) == 4
    with pytest.raises(InvalidInput):
        floor_div(_Count(-7), 2)
    with pytest.raises(InvalidInput):
        ceil_div(7, _Count(0))


@pytest.mark.parametrize(
    ("bad", "message"),
    [(1.0, "must be an integer"), (True, "must be an integer"), (None, "must be an integer")],
)
def test_lit_rejects_a_non_int_naming_value(bad: object, message: str) -> None:
    """REQ-GOV-007: a literal of the runtime Ops is a plain int (a bool or float is not)."""
    err = _error(lambda: INT_OPS.lit(bad))  # type: ignore[arg-type]
    assert _contract(err) == ("value", message, bad, None)


def test_lit_returns_the_int_itself() -> None:
    """REQ-GOV-007: ``lit`` is the identity on ints, negative ones included."""
    assert INT_OPS.lit(0) == 0
    assert INT_OPS.lit(-3) == -3
    assert INT_OPS.lit(10**12) == 10**12
    assert isinstance(INT_OPS, IntOps)


def test_arithmetic_operations() -> None:
    """REQ-GOV-007: add, sub, mul, min_ and max_ on Python ints."""
    ops = INT_OPS
    assert ops.add(7, 3) == 10
    assert ops.sub(7, 3) == 4
    assert ops.sub(3, 7) == -4
    assert ops.mul(7, 3) == 21
    assert ops.min_(7, 3) == 3
    assert ops.min_(3, 7) == 3
    assert ops.max_(7, 3) == 7
    assert ops.max_(3, 7) == 7


@pytest.mark.parametrize(
    ("a", "b", "le", "lt", "ge", "gt", "eq"),
    [
        (1, 2, True, True, False, False, False),
        (2, 2, True, False, True, False, True),
        (3, 2, False, False, True, True, False),
    ],
)
def test_comparisons(a: int, b: int, le: bool, lt: bool, ge: bool, gt: bool, eq: bool) -> None:
    """REQ-GOV-007: each comparison of the runtime Ops, below, at and above the other operand."""
    ops = INT_OPS
    assert (ops.le(a, b), ops.lt(a, b), ops.ge(a, b), ops.gt(a, b), ops.eq(a, b)) == (
        le,
        lt,
        ge,
        gt,
        eq,
    )


def test_boolean_connectives() -> None:
    """REQ-GOV-007: and_ is true for none, or_ false for none; not_ negates."""
    ops = INT_OPS
    assert ops.and_() is True
    assert ops.and_(True, True) is True
    assert ops.and_(True, False) is False
    assert ops.or_() is False
    assert ops.or_(False, False) is False
    assert ops.or_(False, True) is True
    assert ops.not_(True) is False
    assert ops.not_(False) is True
