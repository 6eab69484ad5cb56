"""The strategy contract and the decision context every stage after data receives.

A strategy scores the whole history once (``scores``, causal: row t uses rows <= t),
then at each decision turns that bar's scores into raw target weights (``target``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from qt.data.panel import BarPanel
from qt.enums import Field
from qt.types import TargetPositions


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


@runtime_checkable
class Rebalance(Protocol):
    """Chooses the decision bars."""

    def schedule(self, timestamps: np.ndarray) -> np.ndarray:
        """Bool [T]: True at bars where the strategy decides."""
        ...


@runtime_checkable
class Strategy(Protocol):
    """Scores assets over the whole history, then picks raw target weights per decision."""

    rebalance: Rebalance

    def scores(self, panel: BarPanel) -> np.ndarray:
        """Float [T x N]; NaN = not scored. Row t may depend only on rows <= t."""
        ...

    def target(self, ctx: DecisionContext, scores: np.ndarray) -> TargetPositions | None:
        """Raw target weights from this bar's scores; None = nothing to decide yet (stay in cash)."""
        ...
