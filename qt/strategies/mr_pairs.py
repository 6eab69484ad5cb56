"""Pairs trading: choose cointegrated pairs over a formation window, trade the spread's z-score, re-form on a schedule.

Pairs are screened by the correlation of daily log returns, then tested with Engle-Granger
(OLS of log prices for the hedge ratio, ADF on the residual with MacKinnon p-values via
statsmodels). A pair's spread z-score opens a position beyond ``entry``, closes it inside
``exit`` and stops it out beyond ``stop``; each position is dollar-neutral.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt, model_validator

from qt.context import DecisionContext
from qt.data.panel import BarPanel
from qt.enums import Frequency
from qt.rebalancing import Calendar
from qt.strategies.registry import register_strategy
from qt.types import TargetPositions


@dataclass(frozen=True)
class Pair:
    """A cointegrated pair: log y = intercept + hedge_ratio x log x + spread; spread mean/std over the formation window."""

    y: int
    x: int
    hedge_ratio: float
    intercept: float
    mean: float
    std: float
    p_value: float


def engle_granger(log_y: np.ndarray, log_x: np.ndarray) -> Pair:
    """OLS hedge ratio of log_y on log_x and the Engle-Granger cointegration p-value (indices left 0).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.cumsum(rng.normal(0, 0.01, 500)) + 4.0
    >>> y = 0.5 + 1.5 * x + rng.normal(0, 0.005, 500)
    >>> p = engle_granger(y, x)
    >>> round(p.hedge_ratio, 2), p.p_value < 0.01
    (1.5, True)
    """
    from statsmodels.tsa.stattools import coint

    design = np.column_stack([np.ones_like(log_x), log_x])
    (intercept, beta), *_ = np.linalg.lstsq(design, log_y, rcond=None)
    resid = log_y - intercept - beta * log_x
    p_value = float(coint(log_y, log_x, trend="c", maxlag=1, autolag=None)[1])
    return Pair(0, 0, float(beta), float(intercept), float(resid.mean()), float(resid.std(ddof=1)), p_value)


@register_strategy("mr_pairs")
class PairsTrading(BaseModel):
    """Mean-reversion pairs: the formation window ends the bar before trading starts, so every choice is causal.

    Examples
    --------
    >>> PairsTrading(entry=2.0, exit=0.5, stop=4.0).max_pairs
    5
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    formation: int = Field(252, ge=30)
    reform_every: PositiveInt = 63
    max_pairs: PositiveInt = 5
    candidates: PositiveInt = 20
    min_correlation: float = Field(0.5, ge=-1.0, le=1.0)
    p_value: float = Field(0.05, gt=0.0, lt=1.0)
    entry: PositiveFloat = 2.0
    exit: NonNegativeFloat = 0.5
    stop: PositiveFloat = 4.0
    rebalance: Calendar = Calendar(frequency=Frequency.DAILY)

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> PairsTrading:
        if not self.exit < self.entry < self.stop:
            raise ValueError(f"need exit < entry < stop, got exit={self.exit}, entry={self.entry}, stop={self.stop}")
        return self

    def choose_pairs(self, log_prices: np.ndarray) -> list[Pair]:
        """Disjoint pairs, most cointegrated first, from one formation window [W x N] of log prices."""
        complete = np.flatnonzero(np.isfinite(log_prices).all(axis=0))
        if complete.size < 2:
            return []
        window = log_prices[:, complete]
        corr = np.corrcoef(np.diff(window, axis=0), rowvar=False)
        i, j = np.triu_indices(complete.size, k=1)
        order = np.argsort(-corr[i, j], kind="stable")
        tested = []
        for k in order[: self.candidates]:
            if corr[i[k], j[k]] < self.min_correlation:
                break
            fit = engle_granger(window[:, i[k]], window[:, j[k]])
            if fit.p_value < self.p_value and fit.std > 0:
                tested.append(
                    Pair(
                        int(complete[i[k]]),
                        int(complete[j[k]]),
                        fit.hedge_ratio,
                        fit.intercept,
                        fit.mean,
                        fit.std,
                        fit.p_value,
                    )
                )
        chosen: list[Pair] = []
        used: set[int] = set()
        for pair in sorted(tested, key=lambda p: p.p_value):
            if len(chosen) < self.max_pairs and pair.y not in used and pair.x not in used:
                chosen.append(pair)
                used.update((pair.y, pair.x))
        return chosen

    def scores(self, panel: BarPanel) -> np.ndarray:
        """Target weights [T x N] (the book at each bar); NaN where an asset has no price."""
        with np.errstate(invalid="ignore", divide="ignore"):
            logp = np.log(panel.close)
        weights = np.zeros(logp.shape)
        for start in range(self.formation, panel.n_bars, self.reform_every):
            pairs = self.choose_pairs(logp[start - self.formation : start])
            stop = min(start + self.reform_every, panel.n_bars)
            for pair in pairs:
                self._trade(pair, logp, start, stop, weights, 0.5 / len(pairs))
        return np.where(np.isfinite(panel.close), weights, np.nan)

    def _trade(self, pair: Pair, logp: np.ndarray, start: int, stop: int, out: np.ndarray, leg: float) -> None:
        """The pair's position from bar ``start`` to ``stop`` (exclusive): +1 long spread, -1 short, 0 flat."""
        spread = logp[start:stop, pair.y] - pair.intercept - pair.hedge_ratio * logp[start:stop, pair.x]
        z = (spread - pair.mean) / pair.std
        position, stopped = 0.0, False
        for k, value in enumerate(z):
            if not np.isfinite(value):
                position = 0.0
            elif position != 0.0 and (abs(value) >= self.stop or abs(value) <= self.exit):
                stopped = abs(value) >= self.stop
                position = 0.0
            elif position == 0.0 and stopped and abs(value) <= self.exit:
                stopped = False
            elif position == 0.0 and not stopped and abs(value) >= self.entry and abs(value) < self.stop:
                position = -np.sign(value)
            out[start + k, pair.y] += position * leg
            out[start + k, pair.x] -= position * leg

    def target(self, ctx: DecisionContext, scores: np.ndarray) -> TargetPositions:
        """The book at this bar, on tradable assets only."""
        weights = np.where(ctx.tradable & np.isfinite(scores), scores, 0.0)
        return TargetPositions(ctx.timestamp, weights, scores)
