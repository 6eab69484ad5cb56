"""Value at risk and conditional value at risk of a book: historical, parametric (normal), Cornish-Fisher.

Losses are positive fractions of NAV over one bar, at ``confidence`` (0.99 = the 1% tail).
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from qt.context import DecisionContext
from qt.enums import Field as BarField


def historical_var(returns: np.ndarray, confidence: float) -> float:
    """Minus the empirical (1 - confidence) quantile of returns (numpy's linear interpolation)."""
    return float(-np.quantile(returns, 1.0 - confidence))


def historical_cvar(returns: np.ndarray, confidence: float) -> float:
    """Minus the mean of returns at or below the (1 - confidence) quantile."""
    cut = np.quantile(returns, 1.0 - confidence)
    return float(-returns[returns <= cut].mean())


def parametric_var(mu: float, sigma: float, confidence: float) -> float:
    """Normal VaR: ``-(mu + sigma z)``, z the (1 - confidence) normal quantile.

    Examples
    --------
    >>> round(parametric_var(0.0, 0.01, 0.99), 6)
    0.023263
    """
    return -(mu + sigma * _normal_z(confidence))


def parametric_cvar(mu: float, sigma: float, confidence: float) -> float:
    """Normal expected shortfall: ``-mu + sigma phi(z) / (1 - confidence)``."""
    return -mu + sigma * _normal_pdf_z(confidence) / (1.0 - confidence)


def _linear_quantile(x: np.ndarray, q: float) -> float:
    """``np.quantile(x, q)`` (its default linear method), the same float, without its per-call overhead.

    numpy's steps for one 1-D finite sample: virtual index ``(n - 1) q``, the two order statistics around it
    (a partition), then its two-sided lerp. Anything else (non-finite values, q outside [0, 1]) goes to numpy.
    """
    n = x.size
    vi = (n - 1) * q
    if n == 0 or not 0.0 <= vi < n - 1 or not np.isfinite(x).all():
        return float(np.quantile(x, q))
    lo = math.floor(vi)
    part = np.partition(x, tuple(sorted({0, -1, lo, lo + 1})))  # numpy's own kth: the same order among ties (±0)
    a, b, t = float(part[lo]), float(part[lo + 1]), vi - lo
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


@lru_cache(maxsize=16)
def _normal_z(confidence: float) -> float:
    """The (1 - confidence) standard normal quantile, computed once per confidence."""
    return NormalDist().inv_cdf(1.0 - confidence)


@lru_cache(maxsize=16)
def _normal_pdf_z(confidence: float) -> float:
    return NormalDist().pdf(_normal_z(confidence))


def cornish_fisher_z(z: np.ndarray | float, skew: float, excess_kurtosis: float) -> np.ndarray | float:
    """The Cornish-Fisher expansion of a normal quantile ``z`` for skewness and excess kurtosis."""
    s, k = skew, excess_kurtosis
    return z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36


def cornish_fisher_var(returns: np.ndarray, confidence: float) -> float:
    """VaR with the normal quantile adjusted for the sample's skewness and excess kurtosis."""
    return _cf_var(_moments(returns), confidence)


def _cf_var(moments: tuple[float, float, float, float], confidence: float) -> float:
    mu, sigma, s, k = moments
    return float(-(mu + sigma * cornish_fisher_z(_normal_z(confidence), s, k)))


def cornish_fisher_cvar(returns: np.ndarray, confidence: float, points: int = 2000) -> float:
    """Mean of the Cornish-Fisher quantiles over the tail (0, 1 - confidence), by the midpoint rule.

    The expansion is a polynomial in z, so the mean needs only the tail means of z, z² and z³.
    """
    return _cf_cvar(_moments(returns), confidence, points)


def _cf_cvar(moments: tuple[float, float, float, float], confidence: float, points: int = 2000) -> float:
    mu, sigma, s, k = moments
    m1, m2, m3 = _tail_moments(confidence, points)
    mean_z = m1 + (m2 - 1) * s / 6 + (m3 - 3 * m1) * k / 24 - (2 * m3 - 5 * m1) * s**2 / 36
    return float(-(mu + sigma * mean_z))


@lru_cache(maxsize=16)
def _tail_moments(confidence: float, points: int) -> tuple[float, float, float]:
    tail = (np.arange(points) + 0.5) / points * (1.0 - confidence)
    z = np.array([NormalDist().inv_cdf(p) for p in tail])
    return float(z.mean()), float((z**2).mean()), float((z**3).mean())


def _moments(r: np.ndarray) -> tuple[float, float, float, float]:
    mu = float(r.mean())
    c = r - mu
    squares = float(np.add.reduce(c * c))  # what r.std(ddof=1) and (c**2).mean() both sum (numpy's own steps)
    sigma = math.sqrt(squares / (r.size - 1)) if r.size > 1 else float(r.std(ddof=1))
    m2 = squares / r.size
    if m2 == 0:
        return mu, sigma, 0.0, 0.0
    return mu, sigma, float((c**3).mean() / m2**1.5), float((c**4).mean() / m2**2 - 3.0)


class ValueAtRisk(BaseModel):
    """VaR and CVaR of each decision's target book from its assets' last ``window`` bars of returns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    confidence: float = Field(0.99, gt=0.5, lt=1)
    window: PositiveInt = 252
    min_periods: int = Field(20, ge=3)

    def measure(self, weights: np.ndarray, ctx: DecisionContext) -> dict[str, float]:
        """The six figures for ``weights``; NaN when fewer than ``min_periods`` complete bars."""
        held = np.flatnonzero(weights != 0)
        names = [f"{m}_{k}" for k in ("historical", "parametric", "cornish_fisher") for m in ("var", "cvar")]
        if held.size == 0:
            return dict.fromkeys(names, 0.0)
        prices = ctx.history(BarField.CLOSE, self.window + 1)[:, held]
        with np.errstate(divide="ignore", invalid="ignore"):
            rets = prices[1:] / prices[:-1] - 1.0
        rets = rets[np.isfinite(rets).all(axis=1)]
        if rets.shape[0] < self.min_periods:
            return dict.fromkeys(names, float("nan"))
        book = rets @ weights[held]
        c = self.confidence
        # the same floats as the six public functions, with the quantile and the moments computed once
        cut = _linear_quantile(book, 1.0 - c)
        moments = _moments(book)
        mu, sigma = moments[0], moments[1]
        return {
            "var_historical": float(-cut),
            "cvar_historical": float(-book[book <= cut].mean()),
            "var_parametric": parametric_var(mu, sigma, c),
            "cvar_parametric": parametric_cvar(mu, sigma, c),
            "var_cornish_fisher": _cf_var(moments, c),
            "cvar_cornish_fisher": _cf_cvar(moments, c),
        }
