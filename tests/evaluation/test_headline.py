"""Headline metrics against closed forms worked out in the test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qt.evaluation.headline import headline, max_drawdown, periods_per_year


def test_periods_per_year_follows_the_bar_spacing():
    days = np.arange("2024-01-01", "2024-03-01", dtype="datetime64[D]").astype("datetime64[us]")
    assert periods_per_year(days) == 252.0
    weeks = days[::7]
    assert periods_per_year(weeks) == 52.0
    months = np.arange("2020-01", "2024-01", dtype="datetime64[M]").astype("datetime64[us]")
    assert periods_per_year(months) == 12.0
    hours = np.arange(0, 48, dtype="timedelta64[h]") + np.datetime64("2024-01-02T00", "h")
    assert periods_per_year(hours.astype("datetime64[us]")) == 252.0 * 7  # 9:30-16:00 has 7 hourly bars
    halves = np.arange(0, 48, 1, dtype="timedelta64[m]") * 30 + np.datetime64("2024-01-02T00", "m")
    assert periods_per_year(halves.astype("datetime64[us]")) == 252.0 * 13


def test_max_drawdown_by_hand():
    assert max_drawdown(np.array([100, 120, 90, 130, 65.0])) == pytest.approx(65 / 130 - 1)


def test_headline_on_a_two_state_return_series():
    # returns alternate +2% / -1% over 252 daily bars from capital 100
    rets = np.tile([0.02, -0.01], 126)
    nav = 100 * np.cumprod(1 + rets)
    stamps = np.busday_offset(np.datetime64("2023-01-02"), np.arange(252)).astype("datetime64[us]")
    m = headline(
        nav=nav, capital=100.0, timestamps=stamps, turnover=np.r_[1.0, np.zeros(250), 0.5], n_decisions=3, n_trades=3
    )
    mean, sd = 0.005, math.sqrt(252 / 251) * 0.015  # sample std of two equally frequent values 1.5% from the mean
    assert m["sharpe"] == pytest.approx(mean / sd * math.sqrt(252), rel=1e-12)
    downside = math.sqrt(0.5 * 0.01**2)
    assert m["sortino"] == pytest.approx(mean / downside * math.sqrt(252), rel=1e-12)
    assert m["total_return"] == pytest.approx((1.02 * 0.99) ** 126 - 1, rel=1e-12)
    years = (stamps[-1] - stamps[0]) / np.timedelta64(1, "s") / (365.25 * 86400)
    assert m["cagr"] == pytest.approx((1.02 * 0.99) ** (126 / years) - 1, rel=1e-12)
    assert m["max_drawdown"] == pytest.approx(-0.01)
    assert m["calmar"] == pytest.approx(m["cagr"] / 0.01)
    assert m["n_trades"] == 3
    assert m["avg_turnover"] == pytest.approx(1.5 / 3)
    assert m["annual_turnover"] == pytest.approx(1.5 / years)
