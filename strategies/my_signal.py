"""An example plugin: a signal defined next to the specs, registered under a short name.

``@register_signal("breakout")`` makes ``signal: breakout`` usable in any spec (and listed by
``qt signals``); ``signal: strategies.my_signal.Breakout`` works too.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import Field

from qt.data.panel import BarPanel
from qt.features.engineering import rolling_max
from qt.features.signals.base import Signal
from qt.features.signals.registry import register_signal


@register_signal("breakout")
class Breakout(Signal):
    """Close relative to the highest close of the previous ``window`` bars (> 0 = a new breakout)."""

    window: int = Field(55, ge=2)

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """close[t] / max(close[t-window .. t-1]) - 1, [T x N]."""
        prior_high = np.full(panel.close.shape, np.nan)
        prior_high[1:] = rolling_max(panel.close, self.window)[:-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            return panel.close / prior_high - 1.0
