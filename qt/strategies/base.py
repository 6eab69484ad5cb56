"""The strategy contract.

A strategy scores the whole history once (``scores``, causal: row t uses rows <= t),
then at each decision turns that bar's scores into raw target weights (``target``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from qt.context import DecisionContext
from qt.data.panel import BarPanel
from qt.rebalancing import Rebalance
from qt.types import TargetPositions


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
