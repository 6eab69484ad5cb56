"""Full performance analytics of a finished run, annualized by the data's own bar frequency.

Headline metrics come from ``qt.evaluation.headline.headline`` (one definition for the
console, metrics.json and the tearsheet); everything else is built here from the
statistics in ``qt.evaluation.stats`` and ``qt.evaluation.drawdowns``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from qt.evaluation import stats
from qt.evaluation.drawdowns import Drawdown, episodes, underwater
from qt.evaluation.halts import halt_metrics, stop_events
from qt.evaluation.headline import headline, periods_per_year
from qt.evaluation.run_data import RunData, naive_utc
from qt.evaluation.trades import FILL_COLUMNS, contribution, round_trips, trade_stats

if TYPE_CHECKING:
    import pandas as pd

NAN = float("nan")


@dataclass(frozen=True)
class Performance:
    """Scalar statistics (``summary``) plus the tables and series a tearsheet draws."""

    summary: dict[str, Any]
    drawdowns: list[Drawdown]
    monthly: pd.DataFrame  # year x month (1..12) compounded returns
    annual: pd.Series  # year -> compounded return
    stamps: np.ndarray  # one per point of ``wealth`` (the first bar's stamp repeated for the start)
    wealth: np.ndarray  # growth of 1, starting capital first
    bench_wealth: np.ndarray | None
    underwater: np.ndarray
    rolling_window: int
    rolling: dict[str, np.ndarray] = field(default_factory=dict)  # per bar: sharpe, volatility, beta
    exposure: dict[str, np.ndarray] = field(default_factory=dict)  # per bar: gross, net, long, short, turnover
    trips: pd.DataFrame | None = None  # FIFO round trips (qt.evaluation.trades)
    contribution: pd.Series | None = None  # P&L per symbol (None without final prices for open positions)


def analyze(run: RunData, *, rolling_window: int | None = None) -> Performance:
    """Every statistic of ``run``; ``rolling_window`` in bars (default: half a year, at most a quarter of the run)."""
    ppy = periods_per_year(run.timestamps)
    r = run.returns
    # half a year of bars, shortened for short runs so the rolling charts still show something
    window = rolling_window or max(2, min(round(ppy / 2), r.size // 4))
    summary: dict[str, Any] = dict(_headline(run))
    summary.update(return_stats(r, ppy, run.timestamps))
    monthly, annual = periodic_tables(r, run.timestamps)
    summary.update(_periodic_extremes(monthly, annual))
    curve = run.curve
    stamps = np.r_[run.timestamps[:1], run.timestamps]
    top = episodes(curve, stamps, top=5)
    summary.update(_max_drawdown_dates(top))
    bench_wealth = None
    rolling = {"sharpe": rolling_sharpe(r, window, ppy), "volatility": rolling_volatility(r, window, ppy)}
    if run.benchmark_returns is not None:
        b = run.benchmark_returns
        summary.update(relative_stats(r, b, ppy))
        summary["benchmark"] = run.benchmark_name
        bench_wealth = np.r_[1.0, np.cumprod(1.0 + b)]
        rolling["beta"] = rolling_beta(r, b, window)
    summary.update(trading_stats(run, ppy))
    summary.update(_risk_events(run, summary))
    complete = FILL_COLUMNS <= set(run.fills.columns)  # fills with prices and sides (not a fees-only stub)
    trips = round_trips(run.fills) if complete else None
    if trips is not None:
        summary.update(trade_stats(trips))
    contrib = _contribution(run) if complete else None
    long_, short = (run.gross + run.net) / 2.0, (run.gross - run.net) / 2.0
    exposure = {"gross": run.gross, "net": run.net, "long": long_, "short": short, "turnover": run.turnover}
    summary.update(
        avg_gross_exposure=float(np.nanmean(run.gross)),
        avg_net_exposure=float(np.nanmean(run.net)),
        avg_long_exposure=float(np.nanmean(long_)),
        avg_short_exposure=float(np.nanmean(short)),
    )
    return Performance(
        summary=summary,
        drawdowns=top,
        monthly=monthly,
        annual=annual,
        stamps=stamps,
        wealth=curve / run.capital,
        bench_wealth=bench_wealth,
        underwater=underwater(curve),
        rolling_window=window,
        rolling=rolling,
        exposure=exposure,
        trips=trips,
        contribution=contrib,
    )


def _risk_events(run: RunData, summary: dict[str, Any]) -> dict[str, Any]:
    """Halt and de-risk counts from events.parquet, fallbacks from decisions.parquet (when metrics.json lacks them)."""
    out: dict[str, Any] = {}
    ev = run.events
    if ev is not None and "halted_at" not in summary:
        cols = [ev[c].tolist() for c in ("kind", "detail", "scale", "halt")]
        out.update(halt_metrics(stop_events(list(naive_utc(ev["timestamp"])), *cols)))
    dec = run.decisions
    if dec is not None and "fallback_decisions" not in summary and "fallback_steps" in dec:
        out["fallback_decisions"] = int((dec["fallback_steps"].fillna("").astype(str) != "").sum())
    return out


def _contribution(run: RunData) -> pd.Series | None:
    """P&L per symbol; None when a position is open at the end and the run saved no final prices."""
    try:
        return contribution(run.fills, run.final_marks or {})
    except ValueError:
        return None


def _headline(run: RunData) -> dict[str, Any]:
    """metrics.json when the run wrote one, else the same function recomputed from the outputs."""
    if run.metrics:
        return dict(run.metrics)
    n_decisions = int(run.weights["timestamp"].nunique()) if len(run.weights) else 0
    return headline(
        nav=run.nav,
        capital=run.capital,
        timestamps=run.timestamps,
        turnover=run.turnover,
        n_decisions=n_decisions,
        n_trades=len(run.fills),
    )


def return_stats(r: np.ndarray, ppy: float, stamps: np.ndarray) -> dict[str, Any]:
    """Distribution and tail statistics of per-bar returns."""
    return {
        "omega": stats.omega(r),
        "skew": stats.skew(r),
        "kurtosis": stats.kurtosis(r),
        "tail_ratio": stats.tail_ratio(r),
        "hit_rate": stats.hit_rate(r),
        "var_95": stats.value_at_risk(r, 0.95),
        "cvar_95": stats.conditional_value_at_risk(r, 0.95),
        "var_99": stats.value_at_risk(r, 0.99),
        "cvar_99": stats.conditional_value_at_risk(r, 0.99),
        "best_bar": float(r.max()) if r.size else NAN,
        "worst_bar": float(r.min()) if r.size else NAN,
        "best_bar_date": _day(stamps[int(np.argmax(r))]) if r.size else None,
        "worst_bar_date": _day(stamps[int(np.argmin(r))]) if r.size else None,
        "periods_per_year": ppy,
        "start": _day(stamps[0]),
        "end": _day(stamps[-1]),
    }


def relative_stats(r: np.ndarray, b: np.ndarray, ppy: float) -> dict[str, float]:
    """Alpha, beta, information ratio, tracking error, up and down capture against ``b``."""
    return {
        "alpha": stats.alpha(r, b, ppy),
        "beta": stats.beta(r, b),
        "information_ratio": stats.information_ratio(r, b, ppy),
        "tracking_error": stats.tracking_error(r, b, ppy),
        "up_capture": stats.capture(r, b, ppy, up=True),
        "down_capture": stats.capture(r, b, ppy, up=False),
        "correlation": float(np.corrcoef(r, b)[0, 1]) if r.size > 1 and np.std(b) > 0 and np.std(r) > 0 else NAN,
        "benchmark_total_return": float(np.prod(1.0 + b) - 1.0),
        "benchmark_sharpe": stats.sharpe(b, ppy),
    }


def periodic_tables(r: np.ndarray, stamps: np.ndarray) -> tuple[pd.DataFrame, pd.Series]:
    """Compounded returns per calendar month (year x month) and per calendar year."""
    import pandas as pd

    index = pd.DatetimeIndex(stamps)
    growth = pd.Series(1.0 + r, index=index)
    by_month = growth.groupby([index.year, index.month]).prod() - 1.0
    by_month.index = by_month.index.set_names(["year", "month"])
    monthly = by_month.unstack("month").reindex(columns=range(1, 13))
    annual = growth.groupby(index.year).prod() - 1.0
    annual.index.name = "year"
    return monthly, annual


def _periodic_extremes(monthly: pd.DataFrame, annual: pd.Series) -> dict[str, Any]:
    months = monthly.stack().dropna()  # a period without a finite return has no best or worst (never idxmax of NaN)
    out: dict[str, Any] = {}
    for label, series in (("month", months), ("year", annual.dropna())):
        if len(series):
            best, worst = series.idxmax(), series.idxmin()
            out[f"best_{label}"], out[f"worst_{label}"] = float(series.max()), float(series.min())
            out[f"best_{label}_date"], out[f"worst_{label}_date"] = _label(best), _label(worst)
    out["positive_months"] = float((months > 0).mean()) if len(months) else NAN
    return out


def _label(key: Any) -> str:
    return f"{key[0]}-{key[1]:02d}" if isinstance(key, tuple) else str(key)


def _max_drawdown_dates(top: list[Drawdown]) -> dict[str, Any]:
    if not top:
        return {"max_drawdown_peak": None, "max_drawdown_trough": None, "max_drawdown_recovery": None}
    worst = top[0].as_dict()
    return {
        "max_drawdown_peak": worst["peak"],
        "max_drawdown_trough": worst["trough"],
        "max_drawdown_recovery": worst["recovery"],
        "max_drawdown_days": worst["days"],
        "max_drawdown_bars": worst["bars"],
    }


def trading_stats(run: RunData, ppy: float) -> dict[str, Any]:
    """Trades, fees as a share of gross PnL, and the average holding period of a position."""
    fees = float(run.fills["fees"].sum()) if len(run.fills) else 0.0
    net_pnl = float(run.nav[-1] - run.capital)
    gross_pnl = net_pnl + fees
    days, count = holding_periods(run.weights, run.timestamps[-1])
    return {
        "n_fills": len(run.fills),
        "fees_paid": fees,
        "gross_pnl": gross_pnl,
        "net_pnl": net_pnl,
        "cost_share_of_gross_pnl": fees / gross_pnl if gross_pnl > 0 else NAN,
        "avg_holding_days": days,
        "n_positions": count,
    }


def holding_periods(weights: pd.DataFrame, last: np.datetime64) -> tuple[float, int]:
    """Mean calendar days from the decision that opens a position to the one that closes it.

    A position still open at the end counts until the last bar. Returns (mean days, count).
    """
    if weights.empty:
        return NAN, 0
    from qt.evaluation.run_data import naive_utc

    frame = weights.assign(t=naive_utc(weights["timestamp"]))
    held = frame.pivot_table(index="t", columns="symbol", values="target_weight", aggfunc="last", fill_value=0.0)
    when = held.index.to_numpy().astype("datetime64[us]")
    on = (held.to_numpy() != 0).astype(np.int8)
    padded = np.vstack([np.zeros((1, on.shape[1]), np.int8), on, np.zeros((1, on.shape[1]), np.int8)])
    step = np.diff(padded, axis=0).T  # symbols x (decisions + 1), column-major pairing
    _, opened = np.nonzero(step == 1)
    _, closed = np.nonzero(step == -1)
    if opened.size == 0:
        return NAN, 0
    ends = np.append(when, np.asarray(last).astype("datetime64[us]"))[closed]
    span = (ends - when[opened]) / np.timedelta64(1, "D")
    return float(np.mean(span)), int(opened.size)


def _windows(x: np.ndarray, window: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(x, window)


def rolling_sharpe(r: np.ndarray, window: int, ppy: float) -> np.ndarray:
    """Sharpe over the last ``window`` bars at every bar (NaN until a full window)."""
    out = np.full(r.size, NAN)
    if r.size >= window:
        w = _windows(r, window)
        sd = w.std(axis=1, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[window - 1 :] = np.where(sd > 0, w.mean(axis=1) / sd * math.sqrt(ppy), NAN)
    return out


def rolling_volatility(r: np.ndarray, window: int, ppy: float) -> np.ndarray:
    """Annualized volatility over the last ``window`` bars (NaN until a full window)."""
    out = np.full(r.size, NAN)
    if r.size >= window:
        out[window - 1 :] = _windows(r, window).std(axis=1, ddof=1) * math.sqrt(ppy)
    return out


def rolling_beta(r: np.ndarray, b: np.ndarray, window: int) -> np.ndarray:
    """Beta to ``b`` over the last ``window`` bars (NaN until a full window or when b is flat)."""
    out = np.full(r.size, NAN)
    if r.size >= window:
        wb = _windows(b, window)
        bc = wb - wb.mean(axis=1, keepdims=True)
        var = (bc * bc).mean(axis=1)
        cov = (bc * _windows(r, window)).mean(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[window - 1 :] = np.where(var >= 1e-30, cov / var, NAN)
    return out


def _day(t: np.datetime64) -> str:
    return str(np.asarray(t).astype("datetime64[D]"))
