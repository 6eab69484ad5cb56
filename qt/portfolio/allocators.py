"""Allocators: several strategies (sleeves) combined into one book.

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

from qt.data.panel import BarPanel
from qt.enums import Field
from qt.strategies.base import DecisionContext, Rebalance, Strategy
from qt.types import TargetPositions


class Allocation(StrEnum):
    """How sleeves are weighted."""

    FIXED = "fixed"
    EQUAL = "equal"
    INVERSE_VOL = "inverse_vol"
    RISK_PARITY = "risk_parity"


class MultiStrategy:
    """A strategy whose book is a weighted sum of its sleeves' books; it decides on its own ``rebalance``.

    Scores are the mean over sleeves of each sleeve's cross-sectional z-scores (for optimizers
    that map scores to expected returns). Sleeves' own rebalancing rules are not used.

    Examples
    --------
    >>> from qt.strategies.equal_weight import EqualWeightStrategy
    >>> from qt.portfolio.rebalancing import Calendar
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
        self._scores: dict[str, np.ndarray] = {}

    def fixed_weights(self) -> np.ndarray:
        """The ``fixed`` weights, normalized to sum to 1, in sleeve order."""
        w = np.array([float(self.weights[name]) for name in self.sleeves])
        return np.asarray(w / w.sum())

    def scores(self, panel: BarPanel) -> np.ndarray:
        """Every sleeve's scores (kept for ``target``); returns the mean of their cross-sectional z-scores."""
        self._scores = {name: s.scores(panel) for name, s in self.sleeves.items()}
        z = np.stack([_zscore_rows(s) for s in self._scores.values()])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: nobody scored the asset
            return np.asarray(np.nanmean(z, axis=0))

    def target(self, ctx: DecisionContext, scores: np.ndarray) -> TargetPositions | None:
        """Each sleeve's book at gross 1, combined by the allocation."""
        books = []
        for name, sleeve in self.sleeves.items():
            got = sleeve.target(ctx, self._scores[name][ctx.t]) if name in self._scores else None
            w = np.zeros(len(ctx.symbols)) if got is None else np.nan_to_num(got.weights)
            gross = np.abs(w).sum()
            books.append(w / gross if gross > 0 else w)
        if not any(np.abs(b).sum() > 0 for b in books):
            return None
        alloc = self.sleeve_weights(ctx, np.stack(books))
        return TargetPositions(ctx.timestamp, alloc @ np.stack(books), scores)

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
                from qt.portfolio.heuristics import inverse_vol

                w[live] = inverse_vol(cov)
            else:
                from qt.portfolio.heuristics import equal_risk_contribution

                w[live] = equal_risk_contribution(cov)
        return np.asarray(w / w.sum())


def _zscore_rows(x: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mu = np.nanmean(x, axis=1, keepdims=True)
        sd = np.nanstd(x, axis=1, keepdims=True)
        return np.asarray(np.where(sd > 0, (x - mu) / sd, 0.0 * x))


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
