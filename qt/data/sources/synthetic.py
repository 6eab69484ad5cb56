"""Seeded synthetic bars of any size: one market factor plus idiosyncratic noise.

Deterministic for a given seed, and OHLCV-consistent (low <= open, close <= high),
so every engine path can be exercised and benchmarked without a download.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from qt.data.panel import BarPanel
from qt.enums import Field as BarField


class SyntheticData(BaseModel):
    """Daily bars for ``n_assets`` over ``n_days`` business days.

    Log return of asset i on day t: beta_i * m_t + e_it, with m_t ~ N(market_drift,
    market_vol / sqrt(252)) and e_it ~ N(0, idio_vol / sqrt(252)). With ``staggered``,
    each asset lists and delists at random dates inside the period (NaN outside).

    Examples
    --------
    >>> SyntheticData(n_assets=3, n_days=10, seed=1).load().close.shape
    (10, 3)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_assets: PositiveInt = 100
    n_days: PositiveInt = 2520
    seed: int = 0
    start: str = "2000-01-03"
    market_drift: float = Field(0.07, description="annual drift of the market factor")
    market_vol: float = Field(0.16, gt=0, description="annual volatility of the market factor")
    idio_vol: float = Field(0.25, ge=0, description="annual idiosyncratic volatility")
    staggered: bool = False

    def load(self) -> BarPanel:
        """Generate the panel (float64, [n_days x n_assets])."""
        rng = np.random.default_rng(self.seed)
        t, n = self.n_days, self.n_assets
        daily = np.sqrt(252.0)
        beta = rng.uniform(0.5, 1.5, n)
        market = rng.normal(self.market_drift / 252.0, self.market_vol / daily, t)
        # In-place arithmetic: at 500 x 5000 each temporary costs more than the math.
        close = rng.standard_normal((t, n))
        close *= self.idio_vol / daily
        close += market[:, None] * beta[None, :]
        np.cumsum(close, axis=0, out=close)
        np.exp(close, out=close)
        close *= 100.0
        open_ = _lognormal_factor(rng, (t, n), 0.002)
        open_[1:] *= close[:-1]
        open_[0] *= 100.0
        high = np.maximum(open_, close)
        high *= _lognormal_factor(rng, (t, n), 0.005, absolute=True)
        low = np.minimum(open_, close)
        low /= _lognormal_factor(rng, (t, n), 0.005, absolute=True)
        volume = np.round(_lognormal_factor(rng, (t, n), 0.5) * np.exp(13.0))
        fields = {
            BarField.OPEN: open_,
            BarField.HIGH: high,
            BarField.LOW: low,
            BarField.CLOSE: close,
            BarField.VOLUME: volume,
        }
        if self.staggered:
            first = rng.integers(0, max(1, t // 2), n)
            last = rng.integers(np.minimum(first + t // 4, t - 1), t, n)
            rows = np.arange(t)[:, None]
            outside = (rows < first[None, :]) | (rows > last[None, :])
            for arr in fields.values():
                arr[outside] = np.nan
        timestamps = _business_days(self.start, t)
        symbols = tuple(f"S{i:0{len(str(n - 1))}d}" for i in range(n))
        return BarPanel(timestamps, symbols, fields, name=f"synthetic(seed={self.seed})")


def _business_days(start: str, count: int) -> np.ndarray:
    """``count`` weekdays from ``start`` (inclusive when it is a weekday), as datetime64[us]."""
    first = np.busday_offset(np.datetime64(start, "D"), 0, roll="forward")
    return np.busday_offset(first, np.arange(count), roll="forward").astype("datetime64[us]")


def _lognormal_factor(
    rng: np.random.Generator, shape: tuple[int, int], sigma: float, *, absolute: bool = False
) -> np.ndarray:
    """exp(sigma * z) (or exp(sigma * |z|)) as float64, drawn in float32 for speed."""
    z = rng.standard_normal(shape, dtype=np.float32)
    if absolute:
        np.abs(z, out=z)
    z *= sigma
    np.exp(z, out=z)
    return z.astype(np.float64)
