"""Differential test tying BRIDGE-Z3's hand-written segment model to the runtime (REQ-BRIDGE-002).

The obligation models one bridge segment as ``num = rate * 10**6 * seg + carry``,
``nl = num // (conc * 86400)``, ``carry' = num % (conc * 86400)`` with the old drug's dose and
concentration. Here the live tick of an active device with a bridge must order exactly that volume
and keep exactly that carry, on generated doses, concentrations and carries.
"""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st
from itdose_testkit import PATHS, S, run

from itdose.core import Phase, step
from itdose.core import commands as c
from itdose.core.dosing import SEGMENT_S
from itdose.core.effects import DeliveryOrder
from itdose.core.program import DAY_S, NL_PER_ML
from itdose.core.state import Bridge
from itdose.specs import load_library

LIB = load_library()
ACTIVE = run(PATHS[Phase.ACTIVE], LIB)


@given(
    old_dose=st.integers(1_000, 2_000_000),  # 1 mcg/day .. 2 mg/day: far from any cap
    old_conc=st.sampled_from([500_000, 1_000_000, 10_000_000, 25_000_000]),
    carry_fraction=st.integers(0, 999),
)
def test_bridge_segment_matches_the_model(
    old_dose: int, old_conc: int, carry_fraction: int
) -> None:
    denominator = old_conc * DAY_S
    carry = denominator * carry_fraction // 1000
    d = dataclasses.replace(
        ACTIVE,
        bridge=Bridge(old_conc, old_dose, volume_nl=10**7),
        basal_carry=carry,
        basal_until_s=ACTIVE.clock_s or 0,
    )
    now = (ACTIVE.clock_s or 0) + 1
    out = step(d, c.Tick(S), now, LIB)
    num = old_dose * NL_PER_ML * SEGMENT_S + carry
    model_nl, model_carry = divmod(num, denominator)
    orders = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    if model_nl == 0:
        assert orders == []
    else:
        assert [(o.kind, o.volume_nl, o.duration_s) for o in orders] == [
            ("bridge", model_nl, SEGMENT_S)
        ]
    assert out.device.basal_carry == model_carry
    if orders:  # the patient's dose is counted at the old drug's concentration
        assert out.device.orders[-1].dose_concentration_ng_per_ml == old_conc
