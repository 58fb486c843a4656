"""Tests that kill the mutants mutmut left alive in core/arith.py (docs/mutation.md)."""

from __future__ import annotations

import pytest

from itdose.core.arith import INT_OPS
from itdose.core.errors import InvalidInput


@pytest.mark.parametrize("cond", [1, 0, None, "yes"])
def test_ite_rejects_a_condition_that_is_not_a_bool_in_full(cond: object) -> None:
    with pytest.raises(InvalidInput) as exc:
        INT_OPS.ite(cond, 1, 2)  # type: ignore[arg-type]
    assert (exc.value.field, exc.value.message, exc.value.value) == ("cond", "must be a bool", cond)
