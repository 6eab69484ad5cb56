"""The risk guard: every order passes it before it can reach a broker; a refusal is DENIED, never sent.

Live-only guards on top of the pre-trade limits the decision pipeline already applied (the
same limit objects as the backtest): the trading state (HALTED denies everything but cancels,
REDUCING denies what adds exposure), a maximum number of orders per minute (deny, don't
queue), a price collar against the last price, and stale data.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from qt.enums import TradingState


class GuardSettings(BaseModel):
    """``live.guard``: the live-only limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_orders_per_minute: PositiveInt = 600
    price_collar: float = Field(0.10, gt=0, le=1)  # |order price / last price - 1| allowed
    stale_after_s: PositiveFloat | None = None  # wall seconds without a bar before data counts as stale


class BarClock:
    """Market time in seconds: the current bar's time, moved by the driver (the order-rate guard's clock in a replay).

    Examples
    --------
    >>> import datetime as dt
    >>> clock = BarClock()
    >>> clock.advance(dt.datetime(2020, 1, 2, tzinfo=dt.UTC))
    >>> clock()
    1577923200.0
    """

    def __init__(self) -> None:
        self.now = 0.0

    def advance(self, bar_time: dt.datetime) -> None:
        """The bar at ``bar_time`` arrived."""
        self.now = bar_time.timestamp()

    def __call__(self) -> float:
        """Seconds since the epoch of the current bar."""
        return self.now


class RiskGuard:
    """Decides whether one order may be sent; the reason when not.

    Examples
    --------
    >>> g = RiskGuard(GuardSettings(max_orders_per_minute=2), rate_clock=lambda: 0.0)
    >>> [g.check(10.0, 0.0, 100.0, 100.0, TradingState.ACTIVE) for _ in range(3)]
    [None, None, 'order rate: 2 orders in the last minute (max_orders_per_minute 2)']
    """

    def __init__(
        self,
        settings: GuardSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        rate_clock: Callable[[], float] | None = None,
    ) -> None:
        """``clock`` times data staleness (wall seconds); ``rate_clock`` the order rate (market seconds in a replay)."""
        self.settings = settings
        self.clock = clock
        self.rate_clock = rate_clock or clock
        self._sent: deque[float] = deque()
        self.last_bar_at: float | None = None

    def bar_arrived(self) -> None:
        """Note that fresh data arrived now."""
        self.last_bar_at = self.clock()

    def stale(self) -> str | None:
        """Why data counts as stale now, or None."""
        limit = self.settings.stale_after_s
        if limit is None or self.last_bar_at is None:
            return None
        age = self.clock() - self.last_bar_at
        return f"stale data: no bar for {age:.1f} s (stale_after_s {limit:g})" if age > limit else None

    def check(
        self, quantity: float, position: float, price: float, last_price: float, state: TradingState
    ) -> str | None:
        """None if the order may go (and it is counted against the rate); otherwise the reason it is denied."""
        if state is TradingState.HALTED:
            return "trading is halted (qt live resume to trade again)"
        if state is TradingState.REDUCING and abs(position + quantity) > abs(position) + 1e-12:
            return "trading is reducing: only orders that shrink a position may go"
        stale = self.stale()
        if stale is not None:
            return stale
        if not (np.isfinite(price) and price > 0 and np.isfinite(last_price) and last_price > 0):
            return f"no usable price (order price {price:g}, last price {last_price:g})"
        if abs(price / last_price - 1.0) > self.settings.price_collar:
            return (
                f"price collar: order price {price:g} is {abs(price / last_price - 1):.1%} from the last price "
                f"{last_price:g} (price_collar {self.settings.price_collar:g})"
            )
        now = self.rate_clock()
        while self._sent and now - self._sent[0] >= 60.0:
            self._sent.popleft()
        if len(self._sent) >= self.settings.max_orders_per_minute:
            n = self.settings.max_orders_per_minute
            return f"order rate: {len(self._sent)} orders in the last minute (max_orders_per_minute {n})"
        self._sent.append(now)
        return None
