"""Momentum signals: cross-sectional total return with a skip, time-series momentum, distance to the 52-week high."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import NonNegativeInt, PositiveInt, model_validator

from qt.data.panel import BarPanel
from qt.features import engineering as fe
from qt.features.signals.base import Signal


class CrossSectionalMomentumSignal(Signal):
    """close[t - skip] / close[t - lookback] - 1: the classic 12-1 momentum with 252/21.

    Examples
    --------
    >>> from qt.testing.panels import daily_panel
    >>> s = CrossSectionalMomentumSignal(lookback=2, skip=1)
    >>> s.compute(daily_panel([[1.0], [2.0], [4.0]]), {}).ravel().tolist()
    [nan, nan, 1.0]
    """

    lookback: PositiveInt = 252
    skip: NonNegativeInt = 21

    @model_validator(mode="after")
    def _skip_inside_lookback(self) -> CrossSectionalMomentumSignal:
        if self.skip >= self.lookback:
            raise ValueError(f"skip ({self.skip}) must be < lookback ({self.lookback})")
        return self

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Skipped trailing return [T x N]."""
        return fe.simple_returns(panel.close, self.lookback, self.skip)


class TimeSeriesMomentum(Signal):
    """Trailing return over ``lookback`` divided by its volatility over the same window (a trend t-statistic).

    Positive = uptrend; meant for a threshold rule on each asset's own history.
    """

    lookback: int = 252
    vol_window: int = 63

    @model_validator(mode="after")
    def _windows(self) -> TimeSeriesMomentum:
        if self.lookback < 1 or self.vol_window < 2:
            raise ValueError(f"need lookback >= 1 and vol_window >= 2, got {self.lookback}, {self.vol_window}")
        return self

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Return / (daily vol x sqrt(lookback)) [T x N]."""
        ret = fe.simple_returns(panel.close, self.lookback)
        vol = fe.rolling_std(fe.simple_returns(panel.close, 1), self.vol_window)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = ret / (vol * np.sqrt(self.lookback))
        return np.where(np.isfinite(out), out, np.nan)


class DistanceToHigh(Signal):
    """close / (highest close over ``window`` bars) - 1: 0 at a new high, negative below it."""

    window: PositiveInt = 252

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Distance to the trailing high [T x N]."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return panel.close / fe.rolling_max(panel.close, self.window) - 1.0
