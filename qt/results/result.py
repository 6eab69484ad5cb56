"""One run's result, backtest or live: per-bar accounting series, the decisions, every order's outcome, risk events."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qt.data.panel import BarPanel
from qt.engine.pipeline import Decision
from qt.risk.stops import RiskEvent
from qt.types import FillBatch


@dataclass(frozen=True)
class RunResult:
    """Per-bar accounting series [T], the decisions, and every order's outcome."""

    panel: BarPanel
    capital: float
    nav: np.ndarray
    cash: np.ndarray
    gross_exposure: np.ndarray
    net_exposure: np.ndarray
    turnover: np.ndarray
    decisions: list[Decision] = field(default_factory=list)
    fills: list[FillBatch] = field(default_factory=list)
    events: list[RiskEvent] = field(default_factory=list)

    @property
    def returns(self) -> np.ndarray:
        """Simple return per bar; the first is against the starting capital."""
        prev = np.r_[self.capital, self.nav[:-1]]
        return self.nav / prev - 1.0

    @property
    def n_trades(self) -> int:
        """Number of filled orders."""
        return int(sum(int(f.filled.sum()) for f in self.fills))
