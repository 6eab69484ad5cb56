"""Headline metrics of a backtest, annualized by the data's own bar frequency.

Conventions (the same as empyrical's): simple returns per bar, risk-free rate 0,
Sharpe = mean / std(ddof=1) x sqrt(periods per year), Sortino's downside deviation =
sqrt(mean(min(r, 0)^2)), max drawdown as a negative fraction, CAGR over calendar time.
Sharpe, Sortino and volatility are ``qt.evaluation.stats``'s (one definition of each).
"""

from __future__ import annotations

import math

import numpy as np

from qt.evaluation import stats

SECONDS_PER_YEAR = 365.25 * 86400.0


def periods_per_year(timestamps: np.ndarray) -> float:
    """Bars per year inferred from the median spacing of ``timestamps``.

    Intraday: 252 sessions of 6.5 hours, ceil(6.5 h / bar) bars each (hourly 9:30-16:00
    has 7 bars). Daily (a median gap up to 4 days, weekends included): 252. Weekly,
    monthly, quarterly and yearly bars: 52, 12, 4 and 1. Anything else: calendar time.
    """
    if len(timestamps) < 2:
        return 252.0
    gap = float(np.median(np.diff(timestamps.astype("datetime64[s]").astype(np.int64))))
    days = gap / 86400.0
    if days < 1.0:
        session = 6.5 * 3600.0
        return 252.0 * (math.ceil(session / gap - 1e-9) if gap < session else 1.0)
    for low, high, per_year in (
        (0.0, 4.0, 252.0),
        (5.0, 9.0, 52.0),
        (27.0, 32.0, 12.0),
        (88.0, 93.0, 4.0),
        (360.0, 367.0, 1.0),
    ):
        if low <= days <= high:
            return per_year
    return SECONDS_PER_YEAR / gap


def max_drawdown(nav: np.ndarray) -> float:
    """Largest peak-to-trough fall of ``nav`` as a fraction (<= 0)."""
    peak = np.maximum.accumulate(nav)
    return float(np.min(nav / peak - 1.0)) if nav.size else 0.0


def headline(
    *,
    nav: np.ndarray,
    capital: float,
    timestamps: np.ndarray,
    turnover: np.ndarray,
    n_decisions: int,
    n_trades: int,
) -> dict[str, float | int]:
    """total_return, cagr, ann_vol, sharpe, sortino, max_drawdown, calmar, avg_turnover, n_trades.

    Turnover is traded notional / NAV (two-sided: selling 10% and buying 10% is 0.2);
    ``avg_turnover`` is its total per decision (wherever the fills land, e.g. the next
    open), ``annual_turnover`` its total per year.
    """
    curve = np.r_[capital, nav]
    rets = curve[1:] / curve[:-1] - 1.0
    ppy = periods_per_year(timestamps)
    years = max(_span_seconds(timestamps) / SECONDS_PER_YEAR, 1.0 / ppy)
    total = float(nav[-1] / capital - 1.0)
    cagr = float((nav[-1] / capital) ** (1.0 / years) - 1.0) if nav[-1] > 0 else -1.0
    mdd = max_drawdown(curve)
    traded = float(np.nansum(turnover))
    return {
        "total_return": total,
        "cagr": cagr,
        "ann_vol": stats.annual_volatility(rets, ppy),
        "sharpe": stats.sharpe(rets, ppy),
        "sortino": stats.sortino(rets, ppy),
        "max_drawdown": mdd,
        "calmar": stats.ratio(cagr, -mdd),
        "avg_turnover": traded / n_decisions if n_decisions else 0.0,
        "annual_turnover": traded / years,
        "n_trades": int(n_trades),
        "periods_per_year": ppy,
        "n_bars": int(nav.size),
    }


def _span_seconds(timestamps: np.ndarray) -> float:
    return float((timestamps[-1] - timestamps[0]) / np.timedelta64(1, "s")) if len(timestamps) > 1 else 0.0
