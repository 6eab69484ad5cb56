"""The decision context: what every stage after data may know at a decision bar.

It lives beside ``qt/types.py`` so strategies, portfolios, risk models and the engines
share it without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qt.data.panel import BarPanel
from qt.enums import Field


@dataclass(frozen=True)
class DecisionContext:
    """What a component may know at decision bar ``t``: history up to t, the current book.

    The panel is private; ``history`` returns only rows at or before t, so components
    built on it are causal by construction.
    """

    t: int
    timestamp: np.datetime64
    nav: float
    weights: np.ndarray  # current (drifted) weights of NAV, before trading
    _panel: BarPanel

    @property
    def symbols(self) -> tuple[str, ...]:
        """The panel's symbols, aligned with every array here."""
        return self._panel.symbols

    @property
    def tradable(self) -> np.ndarray:
        """Bool [N]: which assets have a price at this bar."""
        return self._panel.tradable[self.t]

    def timestamps(self, lookback: int | None = None) -> np.ndarray:
        """The bar timestamps matching ``history(field, lookback)``: rows up to and including t."""
        lo = 0 if lookback is None else max(0, self.t - lookback + 1)
        return self._panel.timestamps[lo : self.t + 1]

    def history(self, field: Field = Field.CLOSE, lookback: int | None = None) -> np.ndarray:
        """Rows max(0, t - lookback + 1) .. t of ``field`` (all rows up to t if None)."""
        arr = self._panel.require(field, needed_by="this component")
        lo = 0 if lookback is None else max(0, self.t - lookback + 1)
        return arr[lo : self.t + 1]
