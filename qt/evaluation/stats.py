"""Scalar statistics of a series of simple returns per bar, annualized by ``ppy`` (bars per year).

Conventions follow empyrical's (and ``qt.evaluation.headline``): risk-free rate 0, sample
standard deviation (ddof=1), Sortino's downside deviation sqrt(mean(min(r, 0)^2)),
alpha compounded from the mean residual return, capture ratios from annualized
subsets. Undefined ratios (zero denominators, too few bars) are NaN, never infinite.
"""

from __future__ import annotations

import math

import numpy as np

NAN = float("nan")


def ratio(num: float, den: float) -> float:
    """Num / den, NaN when the denominator is not positive and finite (an undefined ratio, not an infinite one)."""
    return num / den if den > 0 and math.isfinite(den) else NAN


def annual_volatility(r: np.ndarray, ppy: float) -> float:
    """Standard deviation (ddof=1) x sqrt(ppy)."""
    return float(np.std(r, ddof=1)) * math.sqrt(ppy) if r.size > 1 else NAN


def sharpe(r: np.ndarray, ppy: float) -> float:
    """Mean / std (ddof=1) x sqrt(ppy)."""
    if r.size < 2:
        return NAN
    return ratio(float(np.mean(r)), float(np.std(r, ddof=1))) * math.sqrt(ppy)


def sortino(r: np.ndarray, ppy: float) -> float:
    """Mean / sqrt(mean(min(r, 0)^2)) x sqrt(ppy)."""
    if r.size < 2:
        return NAN
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    return ratio(float(np.mean(r)), downside) * math.sqrt(ppy)


def omega(r: np.ndarray, threshold: float = 0.0) -> float:
    """Sum of gains above ``threshold`` / sum of losses below it (per-bar threshold)."""
    if r.size < 2:
        return NAN
    excess = r - threshold
    return ratio(float(excess[excess > 0].sum()), float(-excess[excess < 0].sum()))


def annual_return_by_count(r: np.ndarray, ppy: float) -> float:
    """Compound growth per year counting bars (n / ppy years): empyrical's annual_return."""
    if r.size < 1:
        return NAN
    growth = float(np.prod(1.0 + r))
    return growth ** (ppy / r.size) - 1.0 if growth > 0 else -1.0


def skew(r: np.ndarray) -> float:
    """Population skewness m3 / m2^1.5 (scipy.stats.skew's default, bias not corrected)."""
    if r.size < 3:
        return NAN
    d = r - r.mean()
    m2 = float(np.mean(d**2))
    return float(np.mean(d**3)) / m2**1.5 if m2 > 0 else NAN


def kurtosis(r: np.ndarray) -> float:
    """Excess kurtosis m4 / m2^2 - 3 (scipy.stats.kurtosis's default, bias not corrected)."""
    if r.size < 4:
        return NAN
    d = r - r.mean()
    m2 = float(np.mean(d**2))
    return float(np.mean(d**4)) / m2**2 - 3.0 if m2 > 0 else NAN


def tail_ratio(r: np.ndarray) -> float:
    """|95th percentile| / |5th percentile| of the returns."""
    if r.size < 1:
        return NAN
    return ratio(abs(float(np.percentile(r, 95))), abs(float(np.percentile(r, 5))))


def hit_rate(r: np.ndarray) -> float:
    """Share of bars with a positive return among bars with a non-zero one (flat bars in cash don't count)."""
    active = r[r != 0]
    return float(np.mean(active > 0)) if active.size else NAN


def value_at_risk(r: np.ndarray, level: float = 0.95) -> float:
    """Historical VaR: the (1 - level) percentile of per-bar returns (a loss is negative)."""
    return float(np.percentile(r, 100.0 * (1.0 - level))) if r.size else NAN


def conditional_value_at_risk(r: np.ndarray, level: float = 0.95) -> float:
    """Mean of the worst floor((n - 1) x (1 - level)) + 1 returns (empyrical's CVaR)."""
    if r.size == 0:
        return NAN
    k = int((r.size - 1) * (1.0 - level))
    return float(np.mean(np.partition(r, k)[: k + 1]))


def beta(r: np.ndarray, b: np.ndarray) -> float:
    """Cov(r, b) / Var(b), both population moments."""
    if r.size < 2:
        return NAN
    bc = b - b.mean()
    var = float(np.mean(bc * bc))
    return float(np.mean(bc * r)) / var if var >= 1e-30 else NAN


def alpha(r: np.ndarray, b: np.ndarray, ppy: float) -> float:
    """(1 + mean(r - beta x b))^ppy - 1: the compounded annual return not explained by beta."""
    bt = beta(r, b)
    if not math.isfinite(bt):
        return NAN
    return float((1.0 + np.mean(r - bt * b)) ** ppy - 1.0)


def tracking_error(r: np.ndarray, b: np.ndarray, ppy: float) -> float:
    """Std (ddof=1) of active returns r - b, annualized."""
    return annual_volatility(r - b, ppy)


def information_ratio(r: np.ndarray, b: np.ndarray, ppy: float) -> float:
    """Mean / std (ddof=1) of active returns r - b, annualized (empyrical's excess_sharpe x sqrt(ppy))."""
    return sharpe(r - b, ppy)


def capture(r: np.ndarray, b: np.ndarray, ppy: float, *, up: bool) -> float:
    """Up (b > 0) or down (b < 0) capture: annualized return of r over that of b on those bars."""
    mask = b > 0 if up else b < 0
    if not mask.any():
        return NAN
    den = annual_return_by_count(b[mask], ppy)
    return annual_return_by_count(r[mask], ppy) / den if den != 0 else NAN
