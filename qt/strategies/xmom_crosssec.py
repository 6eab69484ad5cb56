"""Cross-sectional momentum: hold the assets with the best trailing return, skipping the last month."""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

from qt.context import DecisionContext
from qt.data.panel import BarPanel
from qt.rebalancing import Calendar
from qt.strategies.registry import register_strategy
from qt.types import TargetPositions


@register_strategy("xmom")
class CrossSectionalMomentum(BaseModel):
    """Score = close[t - skip] / close[t - lookback] - 1; hold the top ``quantile`` at equal weight.

    Bars are counted in the data's own rows. An asset is scored only when it has a
    price at both bars, and selected only when it can trade at t. The long group is
    the top max(1, floor(quantile x n_scored)) assets, ties broken by symbol order;
    with ``long_short`` the bottom group of the same size is shorted.

    Examples
    --------
    >>> CrossSectionalMomentum(lookback=126, skip=21, quantile=0.2)  # doctest: +ELLIPSIS
    CrossSectionalMomentum(lookback=126, skip=21, quantile=0.2, long_short=False, ...)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lookback: PositiveInt = 252
    skip: NonNegativeInt = 21
    quantile: float = Field(0.2, gt=0.0, le=1.0)
    long_short: bool = False
    rebalance: Calendar = Calendar()

    @model_validator(mode="after")
    def _skip_inside_lookback(self) -> CrossSectionalMomentum:
        if self.skip >= self.lookback:
            raise ValueError(f"skip ({self.skip}) must be < lookback ({self.lookback})")
        return self

    def scores(self, panel: BarPanel) -> np.ndarray:
        """Trailing return from t - lookback to t - skip, [T x N]; NaN where either price is missing."""
        close = panel.close
        out = np.full(close.shape, np.nan)
        t = close.shape[0]
        if t > self.lookback:
            with np.errstate(invalid="ignore", divide="ignore"):
                out[self.lookback :] = (
                    close[self.lookback - self.skip : t - self.skip] / close[: t - self.lookback] - 1.0
                )
        return out

    def target(self, ctx: DecisionContext, scores: np.ndarray) -> TargetPositions:
        """Equal weights on the top group (and -equal on the bottom group when long-short)."""
        eligible = np.flatnonzero(np.isfinite(scores) & ctx.tradable)
        weights = np.zeros(scores.shape[0])
        if eligible.size:
            k = max(1, math.floor(self.quantile * eligible.size))
            ranked = eligible[np.lexsort((eligible, -scores[eligible]))]  # best first, ties by symbol order
            weights[ranked[:k]] = 1.0 / k
            if self.long_short:
                bottom = ranked[max(k, ranked.size - k) :]
                weights[bottom] = -1.0 / max(1, bottom.size)
        return TargetPositions(ctx.timestamp, weights, scores)
