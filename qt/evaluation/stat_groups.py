"""The statistics a tearsheet shows, grouped, and how each is formatted (percent, ratio, integer, money, text)."""

from __future__ import annotations

import math
from typing import Any

# (key, label, kind) of the statistics shown, grouped; kind: pct, num, int, days, text
STAT_GROUPS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "Returns": (
        ("total_return", "Total return", "pct"),
        ("cagr", "CAGR", "pct"),
        ("ann_vol", "Annual volatility", "pct"),
        ("sharpe", "Sharpe", "num"),
        ("sortino", "Sortino", "num"),
        ("calmar", "Calmar", "num"),
        ("omega", "Omega", "num"),
        ("max_drawdown", "Max drawdown", "pct"),
        ("max_drawdown_days", "Max drawdown length (days)", "int"),
    ),
    "Distribution": (
        ("skew", "Skew", "num"),
        ("kurtosis", "Excess kurtosis", "num"),
        ("tail_ratio", "Tail ratio", "num"),
        ("hit_rate", "Hit rate", "pct"),
        ("positive_months", "Positive months", "pct"),
        ("best_bar", "Best bar", "pct"),
        ("worst_bar", "Worst bar", "pct"),
        ("best_month", "Best month", "pct"),
        ("worst_month", "Worst month", "pct"),
        ("best_year", "Best year", "pct"),
        ("worst_year", "Worst year", "pct"),
    ),
    "Against the benchmark": (
        ("benchmark_total_return", "Benchmark total return", "pct"),
        ("alpha", "Alpha (annual)", "pct"),
        ("beta", "Beta", "num"),
        ("correlation", "Correlation", "num"),
        ("information_ratio", "Information ratio", "num"),
        ("tracking_error", "Tracking error", "pct"),
        ("up_capture", "Up capture", "num"),
        ("down_capture", "Down capture", "num"),
    ),
    "Trading": (
        ("n_trades", "Trades", "int"),
        ("avg_turnover", "Turnover per rebalance", "pct"),
        ("annual_turnover", "Annual turnover", "pct"),
        ("avg_holding_days", "Average holding (days)", "int"),
        ("fees_paid", "Fees paid", "money"),
        ("cost_share_of_gross_pnl", "Fees / gross PnL", "pct"),
        ("avg_gross_exposure", "Average gross exposure", "pct"),
        ("avg_net_exposure", "Average net exposure", "pct"),
    ),
    "Round trips (FIFO per symbol)": (
        ("round_trips", "Round trips", "int"),
        ("win_rate", "Win rate", "pct"),
        ("avg_win", "Average win", "money"),
        ("avg_loss", "Average loss", "money"),
        ("avg_win_return", "Average win (return)", "pct"),
        ("avg_loss_return", "Average loss (return)", "pct"),
        ("profit_factor", "Profit factor", "num"),
        ("avg_trip_days", "Average holding (days)", "num"),
    ),
    "Risk events": (
        ("halted_at", "Trading halted on", "text"),
        ("halt_reason", "Halt reason", "text"),
        ("derisk_events", "De-risk events", "int"),
        ("fallback_decisions", "Optimizer fallbacks", "int"),
    ),
    "Risk (per bar)": (
        ("var_95", "VaR 95%", "pct"),
        ("cvar_95", "CVaR 95%", "pct"),
        ("var_99", "VaR 99%", "pct"),
        ("cvar_99", "CVaR 99%", "pct"),
    ),
}


def format_value(value: Any, kind: str = "num") -> str:
    """A statistic for display: percent, ratio, integer, money or text; 'n/a' when undefined."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if kind == "text" or isinstance(value, str):
        return str(value)
    if kind == "pct":
        return f"{value:.2%}"
    if kind == "int":
        return f"{round(value):,}"
    if kind == "money":
        return f"{value:,.2f}"
    return f"{value:.2f}"
