"""Equal weight: every tradable asset at the same weight - the simplest strategy and the natural benchmark."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from qt.context import DecisionContext
from qt.data.panel import BarPanel
from qt.rebalancing import Calendar
from qt.strategies.registry import register_strategy
from qt.types import TargetPositions


@register_strategy("equal_weight")
class EqualWeightStrategy(BaseModel):
    """Hold each asset that has a price at the decision bar at weight 1/n.

    Examples
    --------
    >>> EqualWeightStrategy().rebalance.frequency.value
    'monthly'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rebalance: Calendar = Calendar()

    def scores(self, panel: BarPanel) -> np.ndarray:
        """1 where the asset has a price, NaN elsewhere."""
        return np.where(panel.tradable, 1.0, np.nan)

    def target(self, ctx: DecisionContext, scores: np.ndarray) -> TargetPositions:
        """1/n on every tradable asset."""
        held = np.isfinite(scores) & ctx.tradable
        n = int(held.sum())
        weights = np.where(held, 1.0 / n, 0.0) if n else np.zeros(scores.shape[0])
        return TargetPositions(ctx.timestamp, weights, scores)
