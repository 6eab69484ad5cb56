"""Volatility signals: realized volatility and the low-volatility score (its negative)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import Field

from qt.data.panel import BarPanel
from qt.features import engineering as fe
from qt.features.signals.base import Signal


class Volatility(Signal):
    """Standard deviation of daily returns over ``window`` bars (annualized with sqrt(252) by default)."""

    window: int = Field(63, ge=2)
    annualize: bool = True

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Volatility [T x N]."""
        return fe.rolling_volatility(panel.close, self.window, self.annualize)


class LowVolatility(Volatility):
    """Minus the volatility: the calmest assets score highest."""

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """-volatility [T x N]."""
        return -super().compute(panel, nodes)
