"""Mean-reversion signals: short-term reversal, z-score against a moving average, Bollinger %b."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import Field, PositiveFloat, PositiveInt

from qt.data.panel import BarPanel
from qt.features import engineering as fe
from qt.features.signals.base import Signal


class ShortTermReversal(Signal):
    """Minus the return over the last ``lookback`` bars: recent losers score high."""

    lookback: PositiveInt = 5

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """-(close[t] / close[t - lookback] - 1) [T x N]."""
        return -fe.simple_returns(panel.close, self.lookback)


class MovingAverageZScore(Signal):
    """(close - SMA(window)) / rolling std(window) of close: how stretched the price is from its mean."""

    window: int = Field(20, ge=2)

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Z-score of close against its moving average [T x N]."""
        return fe.ts_zscore(panel.close, self.window)


class BollingerPercentB(Signal):
    """(close - lower) / (upper - lower), bands = SMA ± nbdev x population std (as TA-Lib's BBANDS)."""

    window: int = Field(20, ge=2)
    nbdev: PositiveFloat = 2.0

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """%b [T x N]: 0 at the lower band, 1 at the upper."""
        mid = fe.rolling_mean(panel.close, self.window)
        width = self.nbdev * fe.rolling_std(panel.close, self.window, ddof=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (panel.close - (mid - width)) / (2.0 * width)
        return np.where(np.isfinite(out), out, np.nan)
