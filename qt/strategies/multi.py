"""MultiStrategy: several strategies (sleeves) combined into one book.

Each sleeve's target book is normalized to gross 1, then the sleeves are weighted by
``fixed`` weights, ``equal`` weights, ``inverse_vol`` or ``risk_parity`` of the sleeves'
returns. A sleeve's returns are those of its current book over the trailing ``lookback``
bars (bars where every held asset has a return), so allocation uses only data up to t.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from enum import StrEnum

import numpy as np

from qt.context import DecisionContext
from qt.data.panel import BarPanel
from qt.enums import Field
from qt.features.engineering import cs_zscore
from qt.rebalancing import Rebalance
from qt.risk_budget import equal_risk_contribution, inverse_vol
from qt.strategies.base import Strategy
from qt.strategies.registry import register_strategy
from qt.types import TargetPositions


class Allocation(StrEnum):
    """How sleeves are weighted."""

    FIXED = "fixed"
    EQUAL = "equal"
    INVERSE_VOL = "inverse_vol"
    RISK_PARITY = "risk_parity"


@register_strategy("multi")
class MultiStrategy:
    """A strategy whose book is a weighted sum of its sleeves' books; it decides on its own ``rebalance``.

    ``scores`` is [T x (1 + S) x N]: row 0 the mean over sleeves of each sleeve's cross-sectional
    z-scores (what optimizers that map scores to expected returns see), then each sleeve's own
    scores, so ``target`` needs nothing but its arguments. Sleeves' own rebalancing rules are not used.

    Examples
    --------
    >>> from qt.strategies.equal_weight import EqualWeightStrategy
    >>> from qt.rebalancing import Calendar
    >>> m = MultiStrategy(sleeves={"a": EqualWeightStrategy(), "b": EqualWeightStrategy()},
    ...                   rebalance=Calendar(frequency="monthly"), allocation="fixed", weights={"a": 3, "b": 1})
    >>> m.fixed_weights().tolist()
    [0.75, 0.25]
    """

    def __init__(
        self,
        *,
        sleeves: Mapping[str, Strategy],
        rebalance: Rebalance,
        allocation: Allocation | str = Allocation.EQUAL,
        weights: Mapping[str, float] | None = None,
        lookback: int = 126,
    ) -> None:
        if len(sleeves) < 1:
            raise ValueError("sleeves: give at least one strategy")
        for name, sleeve in sleeves.items():
            if not isinstance(sleeve, Strategy):
                raise ValueError(f"sleeves.{name}: {type(sleeve).__name__} is not a Strategy")
        try:
            self.allocation = Allocation(allocation)
        except ValueError:
            raise ValueError(
                f"allocation: '{allocation}' is not one of {', '.join(a.value for a in Allocation)}"
            ) from None
        if self.allocation is Allocation.FIXED:
            if not weights or set(weights) != set(sleeves):
                raise ValueError(f"weights: fixed allocation needs a weight for each sleeve: {sorted(sleeves)}")
            if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
                raise ValueError("weights: must be >= 0 with a positive sum")
        if lookback < 2:
            raise ValueError(f"lookback: must be >= 2, got {lookback}")
        self.sleeves = dict(sleeves)
        self.rebalance = rebalance
        self.weights = dict(weights or {})
        self.lookback = lookback

    def fixed_weights(self) -> np.ndarray:
        """The ``fixed`` weights, normalized to sum to 1, in sleeve order."""
        w = np.array([float(self.weights[name]) for name in self.sleeves])
        return np.asarray(w / w.sum())

    def scores(self, panel: BarPanel) -> np.ndarray:
        """[T x (1 + S) x N]: the mean of the sleeves' cross-sectional z-scores, then each sleeve's scores."""
        sleeves = np.stack([np.asarray(s.scores(panel), dtype=np.float64) for s in self.sleeves.values()], axis=1)
        z = np.stack([_zscore_rows(sleeves[:, i]) for i in range(sleeves.shape[1])])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: nobody scored the asset
            combined = np.nanmean(z, axis=0)
        return np.concatenate([combined[:, None, :], sleeves], axis=1)

    def target(self, ctx: DecisionContext, scores: np.ndarray) -> TargetPositions | None:
        """Each sleeve's book at gross 1, combined by the allocation; ``scores`` is this bar's row of ``scores``."""
        books = []
        for i, sleeve in enumerate(self.sleeves.values()):
            got = sleeve.target(ctx, scores[1 + i])
            w = np.zeros(len(ctx.symbols)) if got is None else np.nan_to_num(got.weights)
            gross = np.abs(w).sum()
            books.append(w / gross if gross > 0 else w)
        if not any(np.abs(b).sum() > 0 for b in books):
            return None
        alloc = self.sleeve_weights(ctx, np.stack(books))
        return TargetPositions(ctx.timestamp, alloc @ np.stack(books), scores[0])

    def sleeve_weights(self, ctx: DecisionContext, books: np.ndarray) -> np.ndarray:
        """Weights of the sleeves (sum 1); empty sleeves get none of the capital."""
        live = np.abs(books).sum(axis=1) > 0
        if self.allocation is Allocation.FIXED:
            w = self.fixed_weights() * live
        elif self.allocation is Allocation.EQUAL or live.sum() == 1:
            w = live.astype(np.float64)
        else:
            w = np.zeros(len(books))
            cov = _sleeve_cov(ctx, books[live], self.lookback)
            if cov is None or np.any(np.diag(cov) <= 0):
                w[live] = 1.0
            elif self.allocation is Allocation.INVERSE_VOL:
                w[live] = inverse_vol(cov)
            else:
                w[live] = equal_risk_contribution(cov)
        return np.asarray(w / w.sum())


def _zscore_rows(x: np.ndarray) -> np.ndarray:
    """Cross-sectional z-scores, 0 (not NaN) for a scored asset of a row without dispersion."""
    z = cs_zscore(x)
    return np.where(np.isfinite(x) & ~np.isfinite(z), 0.0, z)


def _sleeve_cov(ctx: DecisionContext, books: np.ndarray, lookback: int) -> np.ndarray | None:
    """Covariance of the sleeves' trailing returns, or None with fewer than 2 complete bars."""
    held = np.flatnonzero(np.abs(books).sum(axis=0) > 0)
    prices = ctx.history(Field.CLOSE, lookback + 1)[:, held]
    with np.errstate(divide="ignore", invalid="ignore"):
        rets = prices[1:] / prices[:-1] - 1.0
    rets = rets[np.isfinite(rets).all(axis=1)]
    if rets.shape[0] < 2:
        return None
    sleeve_returns = rets @ books[:, held].T
    return np.atleast_2d(np.cov(sleeve_returns.T))
