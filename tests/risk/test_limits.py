"""Pre-trade limits: each binds in a case, checked on the orders and the recorded reason."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from qt.context import DecisionContext
from qt.risk.limits import (
    MaxGross,
    MaxNet,
    MaxOrderNotional,
    MaxParticipation,
    MaxPositionWeight,
    Proposal,
    RestrictedList,
    check_limits,
)
from qt.testing.panels import daily_panel
from qt.types import OrderBatch

SYMBOLS = ("A", "B", "C")
PRICES = np.array([10.0, 20.0, 50.0])


def check(limits, quantities, positions=(0.0, 0.0, 0.0), adv=None, nav=10_000.0):
    """Run ``limits`` (a list) on the orders; ``adv`` builds a 20-bar panel whose mean volume is ``adv``."""
    q = np.asarray(quantities, dtype=float)
    assets = np.flatnonzero(q != 0)
    batch = OrderBatch(0, assets, q[assets])
    ctx = None
    if adv is not None:
        close = np.tile(PRICES, (20, 1))
        panel = daily_panel(close, symbols=list(SYMBOLS), volume=np.tile(adv, (20, 1)))
        ctx = DecisionContext(19, panel.timestamps[19], nav, np.zeros(3), panel)
    proposal = Proposal(batch, nav=nav, positions=np.asarray(positions, float), prices=PRICES, symbols=SYMBOLS, ctx=ctx)
    return check_limits(limits, proposal)


def test_position_weight_clips_to_the_cap():
    out = check([MaxPositionWeight(max_position_weight=0.2)], [300.0, 50.0, 0.0])  # A 30%, B 10%
    assert out.orders.quantities.tolist() == [200.0, 50.0]
    assert out.notes.tolist() == ["clipped: position weight 0.3 > max_position_weight 0.2", ""]
    assert len(out.rejected) == 0


def test_position_weight_rejects_when_configured():
    out = check([MaxPositionWeight(max_position_weight=0.2, action="reject")], [300.0, 50.0, 0.0])
    assert out.orders.assets.tolist() == [1] and out.rejected.assets.tolist() == [0]
    assert out.reasons.tolist() == ["rejected: position weight 0.3 > max_position_weight 0.2"]


def test_order_notional_clips_and_rejects():
    out = check([MaxOrderNotional(max_order_notional=1000.0)], [0.0, -100.0, 10.0])  # B sells 2000
    assert out.orders.quantities.tolist() == [-50.0, 10.0]
    assert out.notes[0] == "clipped: notional 2000.00 > max_order_notional 1000"
    out = check([MaxOrderNotional(max_order_notional=1000.0, action="reject")], [0.0, -100.0, 10.0])
    assert (
        out.rejected.assets.tolist() == [1] and out.reasons[0] == "rejected: notional 2000.00 > max_order_notional 1000"
    )


def test_participation_of_average_daily_volume():
    adv = np.array([1000.0, 1000.0, 1000.0])
    out = check([MaxParticipation(max_participation=0.05)], [80.0, 20.0, 0.0], adv=adv)
    assert out.orders.quantities.tolist() == [50.0, 20.0]
    assert out.notes[0] == "clipped: 80 shares > 0.05 x ADV 1000"
    with pytest.raises(ValueError, match="volume"):
        check([MaxParticipation(max_participation=0.05)], [80.0, 0.0, 0.0])


def test_restricted_list_rejects_buys_but_lets_positions_close():
    out = check([RestrictedList(restricted=["A"])], [10.0, 0.0, 0.0])
    assert out.reasons.tolist() == ["rejected: restricted list"] and len(out.orders) == 0
    out = check([RestrictedList(restricted=["A"])], [-10.0, 0.0, 0.0], positions=(10.0, 0.0, 0.0))
    assert out.orders.quantities.tolist() == [-10.0] and len(out.rejected) == 0


def test_gross_exposure_scales_the_orders_that_add_to_it():
    # holds B 5000 (50%); buys A 6000 and C 4000 -> gross 150% > 120%: the two buys are scaled by 0.7
    out = check([MaxGross(max_gross=1.2)], [600.0, 0.0, 80.0], positions=(0.0, 250.0, 0.0))
    np.testing.assert_allclose(out.orders.quantities, [420.0, 56.0])
    assert out.notes.tolist() == ["clipped: gross exposure 1.5 > max_gross 1.2 (scaled by 0.7)"] * 2
    out = check([MaxGross(max_gross=1.2, action="reject")], [600.0, 0.0, 80.0], positions=(0.0, 250.0, 0.0))
    assert out.reasons.tolist() == ["rejected: gross exposure 1.5 > max_gross 1.2"] * 2


def test_net_exposure_scales_orders_in_its_direction():
    # long A 5000; buys C 5000 and shorts B -2000 -> net 80% > 60%: the buy is scaled to 3000
    out = check([MaxNet(max_net=0.6)], [0.0, -100.0, 100.0], positions=(500.0, 0.0, 0.0))
    np.testing.assert_allclose(out.orders.quantities, [-100.0, 60.0])
    assert out.notes.tolist() == ["", "clipped: net exposure 0.8 > max_net 0.6 (scaled by 0.6)"]


def test_per_limit_actions_override_the_default():
    limits = [
        MaxPositionWeight(max_position_weight=0.2),
        MaxOrderNotional(max_order_notional=1000.0, action="reject"),
    ]
    out = check(limits, [300.0, 100.0, 0.0])  # A: 30% -> clipped to 20% (2000 notional, then rejected); B: 2000
    assert out.rejected.assets.tolist() == [0, 1]
    assert out.reasons.tolist() == ["rejected: notional 2000.00 > max_order_notional 1000"] * 2
    with pytest.raises(ValidationError, match="max_weight"):
        MaxPositionWeight(max_weight=0.2)
