"""Gross and net exposure of the book after the decision's orders, as multiples of NAV."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import PositiveFloat

from qt.risk.limits.base import LimitAction, PreTradeLimit, Proposal, join_notes


class MaxGross(PreTradeLimit):
    """sum |position value| / NAV <= ``max_gross``; clipping scales the orders that add to gross exposure."""

    max_gross: PositiveFloat

    def apply(self, proposal: Proposal) -> None:
        """Scale or reject the orders adding gross exposure above the cap."""
        _exposure(proposal, "gross", self.max_gross, self.action)


class MaxNet(PreTradeLimit):
    """|sum position value| / NAV <= ``max_net``; clipping scales the orders in the book's net direction."""

    max_net: PositiveFloat

    def apply(self, proposal: Proposal) -> None:
        """Scale or reject the orders adding net exposure above the cap."""
        _exposure(proposal, "net", self.max_net, self.action)


def _exposure(p: Proposal, kind: Literal["gross", "net"], cap: float, action: LimitAction) -> None:
    """Exposure of the book after the live orders: scale or reject the orders adding to it."""
    a, q, prices, nav = p.assets, p.quantities, p.prices, p.nav
    value = np.nan_to_num(p.positions * prices)
    live = p.live
    after = value.copy()
    after[a[live]] += q[live] * prices[a[live]]
    level = np.abs(after).sum() / nav if kind == "gross" else abs(after.sum()) / nav
    if level <= cap + 1e-12:
        return
    now = value[a]
    new = now + q * prices[a]
    if kind == "gross":
        adds = live & (np.abs(new) > np.abs(now))
        added = np.where(adds, np.abs(new) - np.abs(now), 0.0)
    else:
        adds = live & (np.sign(q) == np.sign(after.sum()))
        added = np.where(adds, np.abs(q * prices[a]), 0.0)
    excess = (level - cap) * nav
    text = f"{kind} exposure {level:.4g} > max_{kind} {cap:g}"
    if action is LimitAction.REJECT or added.sum() <= excess:
        p.reasons[adds] = "rejected: " + text
        return
    keep = 1.0 - excess / added.sum()
    if kind == "net":
        q[adds] *= keep
    else:
        shrink = np.abs(new[adds]) - np.abs(now[adds])
        target = np.sign(new[adds]) * (np.abs(now[adds]) + shrink * keep)
        q[adds] = (target - now[adds]) / prices[a[adds]]
    p.notes[adds] = join_notes(p.notes[adds], np.full(int(adds.sum()), f"clipped: {text} (scaled by {keep:.4g})"))
