"""Pre-trade limits: each breach clips the order or rejects it (``action``, or per limit ``actions``), with the reason.

Checked in this order on the sized orders of one decision: restricted list (always a
rejection of orders that add exposure), position weight, order notional, participation
of average daily volume, then gross and net exposure of the resulting book.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from qt.types import OrderBatch


class LimitAction(StrEnum):
    """What a breached limit does to an order."""

    CLIP = "clip"
    REJECT = "reject"


@dataclass(frozen=True)
class Checked:
    """Orders that pass (some clipped, ``notes`` says why) and rejected orders with ``reasons``."""

    orders: OrderBatch
    notes: np.ndarray
    rejected: OrderBatch
    reasons: np.ndarray


class PreTradeLimits(BaseModel):
    """Limits on one decision's orders, measured in weights of NAV at the decision's prices.

    Examples
    --------
    >>> lim = PreTradeLimits(max_position_weight=0.1)
    >>> out = lim.check(OrderBatch(0, np.array([0]), np.array([30.0])), nav=1000.0, positions=np.zeros(1),
    ...                 prices=np.array([10.0]), symbols=("A",))
    >>> out.orders.quantities.tolist(), out.notes.tolist()
    ([10.0], ['clipped: position weight 0.3 > max_position_weight 0.1'])
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_position_weight: PositiveFloat | None = None
    max_gross: PositiveFloat | None = None
    max_net: PositiveFloat | None = None
    max_order_notional: PositiveFloat | None = None
    max_participation: float | None = Field(None, gt=0, le=1)
    adv_window: PositiveInt = 20
    restricted: list[str] = Field(default_factory=list)
    action: LimitAction = LimitAction.CLIP
    actions: dict[
        Literal["max_position_weight", "max_gross", "max_net", "max_order_notional", "max_participation"], LimitAction
    ] = Field(default_factory=dict)

    def action_for(self, limit: str) -> LimitAction:
        """The action of ``limit``: its entry in ``actions``, else ``action``."""
        return self.actions.get(limit, self.action)  # type: ignore[call-overload]

    def check(
        self,
        orders: OrderBatch,
        *,
        nav: float,
        positions: np.ndarray,
        prices: np.ndarray,
        symbols: tuple[str, ...],
        adv: np.ndarray | None = None,
    ) -> Checked:
        """Apply every limit; ``adv`` [N] is the average daily volume (needed by max_participation)."""
        a = orders.assets
        q = orders.quantities.astype(np.float64).copy()
        m = a.size
        notes = np.full(m, "", dtype=object)
        reasons = np.full(m, "", dtype=object)
        px, pos = prices[a], positions[a]

        def breach(limit: str, mask: np.ndarray, text: np.ndarray | str, new_q: np.ndarray | None) -> None:
            live = mask & (reasons == "")
            if self.action_for(limit) is LimitAction.CLIP and new_q is not None:
                q[live] = new_q[live]
                notes[live] = _join(
                    notes[live], np.char.add("clipped: ", np.broadcast_to(text, (m,))[live].astype(str))
                )
            else:
                reasons[live] = np.char.add("rejected: ", np.broadcast_to(text, (m,))[live].astype(str)).astype(object)

        if self.restricted:
            banned = np.isin(np.asarray(symbols, dtype=object)[a], self.restricted) & (np.abs(pos + q) > np.abs(pos))
            breach("restricted", banned, "restricted list", None)
        if self.max_position_weight is not None:
            cap = self.max_position_weight
            w = (pos + q) * px / nav
            over = np.abs(w) > cap + 1e-12
            text = np.array([f"position weight {x:.4g} > max_position_weight {cap:g}" for x in w], dtype=object)
            breach("max_position_weight", over, text, np.sign(w) * cap * nav / px - pos)
        if self.max_order_notional is not None:
            cap = self.max_order_notional
            notional = np.abs(q) * px
            text = np.array([f"notional {x:.2f} > max_order_notional {cap:g}" for x in notional], dtype=object)
            breach("max_order_notional", notional > cap * (1 + 1e-12), text, np.sign(q) * cap / px)
        if self.max_participation is not None:
            if adv is None:
                raise ValueError("max_participation needs the average daily volume (a volume field in the data)")
            cap_q = self.max_participation * np.nan_to_num(adv[a])
            text = np.array(
                [
                    f"{abs(x):.6g} shares > {self.max_participation:g} x ADV {v:.6g}"
                    for x, v in zip(q, adv[a], strict=True)
                ],
                dtype=object,
            )
            breach("max_participation", np.abs(q) > cap_q * (1 + 1e-12), text, np.sign(q) * cap_q)
        self._exposure(q, a, notes, reasons, nav, positions, prices)
        ok = reasons == ""
        return Checked(
            OrderBatch(orders.decided_at, a[ok], q[ok]),
            notes[ok],
            OrderBatch(orders.decided_at, a[~ok], orders.quantities[~ok]),
            reasons[~ok],
        )

    def _exposure(
        self,
        q: np.ndarray,
        a: np.ndarray,
        notes: np.ndarray,
        reasons: np.ndarray,
        nav: float,
        positions: np.ndarray,
        prices: np.ndarray,
    ) -> None:
        """Gross then net exposure of the book after the live orders: scale or reject the orders adding to it."""
        value = np.nan_to_num(positions * prices)
        for kind, cap in (("gross", self.max_gross), ("net", self.max_net)):
            if cap is None:
                continue
            live = reasons == ""
            after = value.copy()
            after[a[live]] += q[live] * prices[a[live]]
            level = np.abs(after).sum() / nav if kind == "gross" else abs(after.sum()) / nav
            if level <= cap + 1e-12:
                continue
            now = value[a]
            new = now + q * prices[a]
            if kind == "gross":
                adds = live & (np.abs(new) > np.abs(now))
                added = np.where(adds, np.abs(new) - np.abs(now), 0.0)
            else:
                direction = np.sign(after.sum())
                adds = live & (np.sign(q) == direction)
                added = np.where(adds, np.abs(q * prices[a]), 0.0)
            excess = (level - cap) * nav
            text = f"{kind} exposure {level:.4g} > max_{kind} {cap:g}"
            if self.action_for(f"max_{kind}") is LimitAction.REJECT or added.sum() <= excess:
                reasons[adds] = "rejected: " + text
                continue
            keep = 1.0 - excess / added.sum()
            q[adds] *= keep if kind == "net" else 1.0
            if kind == "gross":
                shrink = np.abs(new[adds]) - np.abs(now[adds])
                target = np.sign(new[adds]) * (np.abs(now[adds]) + shrink * keep)
                q[adds] = (target - now[adds]) / prices[a[adds]]
            notes[adds] = _join(notes[adds], np.full(int(adds.sum()), f"clipped: {text} (scaled by {keep:.4g})"))


def _join(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    return np.array([f"{o}; {n}" if o else str(n) for o, n in zip(old, new, strict=True)], dtype=object)
