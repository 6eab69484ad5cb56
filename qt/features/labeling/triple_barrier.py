"""Triple-barrier labels: which of profit-take, stop-loss (multiples of rolling volatility) or a vertical barrier is touched first.

Labels look ahead by construction; as signal nodes their role is LABEL (exempt from the
lookahead check, refused as inputs to a traded score). With a primary ``side`` the
barriers are taken on the side's return and the meta-label says whether the bet paid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from qt.data.panel import BarPanel
from qt.features.engineering import rolling_std, simple_returns
from qt.features.signals.base import Role, Signal


class Barrier(IntEnum):
    """Which barrier ended the event (NONE: not enough future data)."""

    NONE = 0
    UPPER = 1
    LOWER = 2
    VERTICAL = 3


@dataclass(frozen=True)
class BarrierOutcome:
    """Per (event bar, asset) [T x N]: label (+1/-1/sign at the vertical), return, bars to touch, barrier."""

    label: np.ndarray
    ret: np.ndarray
    bars: np.ndarray
    barrier: np.ndarray


def triple_barrier(
    close: np.ndarray,
    vol: np.ndarray,
    *,
    profit_take: float | None,
    stop_loss: float | None,
    horizon: int,
    side: np.ndarray | None = None,
) -> BarrierOutcome:
    """First touch within ``horizon`` bars of close[t+k]/close[t]-1 (times ``side``) at +pt*vol or -sl*vol.

    Examples
    --------
    >>> c = np.array([[100.0], [101.0], [103.0], [99.0]])
    >>> out = triple_barrier(c, np.full((4, 1), 0.01), profit_take=2.0, stop_loss=2.0, horizon=2)
    >>> float(out.label[0, 0]), int(out.bars[0, 0]), Barrier(out.barrier[0, 0]).name
    (1.0, 2, 'UPPER')
    """
    n_bars = close.shape[0]
    sign = np.ones_like(close) if side is None else side
    label = np.full(close.shape, np.nan)
    ret = np.full(close.shape, np.nan)
    bars = np.full(close.shape, -1, dtype=np.int64)
    barrier = np.zeros(close.shape, dtype=np.int64)
    upper = profit_take * vol if profit_take is not None else np.full(close.shape, np.inf)
    lower = -stop_loss * vol if stop_loss is not None else np.full(close.shape, -np.inf)
    open_ = np.isfinite(close) & np.isfinite(vol) & np.isfinite(sign) & (sign != 0)
    for k in range(1, horizon + 1):
        future = np.full(close.shape, np.nan)
        future[: n_bars - k] = close[k:]
        with np.errstate(invalid="ignore", divide="ignore"):
            r = sign * (future / close - 1.0)
        up = open_ & (r >= upper)
        down = open_ & (r <= lower) & ~up
        for hit, code, value in ((up, Barrier.UPPER, 1.0), (down, Barrier.LOWER, -1.0)):
            label[hit], ret[hit], bars[hit], barrier[hit] = value, r[hit], k, int(code)
        open_ &= ~(up | down)
        if k == horizon:
            end = open_ & np.isfinite(r)
            label[end], ret[end], bars[end], barrier[end] = np.sign(r[end]), r[end], k, int(Barrier.VERTICAL)
    return BarrierOutcome(label, ret, bars, barrier)


def meta_labels(outcome: BarrierOutcome, side: np.ndarray) -> np.ndarray:
    """1 where the primary bet (``side`` != 0) earned a positive side-adjusted return, 0 where not, NaN elsewhere."""
    bet = np.isfinite(side) & (side != 0) & np.isfinite(outcome.ret)
    return np.where(bet, (outcome.ret > 0).astype(np.float64), np.nan)


class TripleBarrier(BaseModel):
    """Barrier settings: ``profit_take``/``stop_loss`` in units of ``vol_window``-bar daily volatility, ``horizon`` bars.

    Examples
    --------
    >>> TripleBarrier(horizon=5).horizon
    5
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    profit_take: PositiveFloat | None = 2.0
    stop_loss: PositiveFloat | None = 2.0
    horizon: PositiveInt = 10
    vol_window: int = Field(20, ge=2)

    def outcome(self, close: np.ndarray, side: np.ndarray | None = None) -> BarrierOutcome:
        """Triple-barrier outcomes for every bar and asset."""
        vol = rolling_std(simple_returns(close, 1), self.vol_window)
        return triple_barrier(
            close, vol, profit_take=self.profit_take, stop_loss=self.stop_loss, horizon=self.horizon, side=side
        )


class TripleBarrierLabel(TripleBarrier, Signal):
    """The triple-barrier label as a signal node (role: label)."""

    role: ClassVar[Role] = Role.LABEL

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """+1 / -1 / sign-at-vertical per bar and asset [T x N]."""
        return self.outcome(panel.close).label
