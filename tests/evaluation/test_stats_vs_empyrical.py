"""Every statistic against empyrical-reloaded or a closed form on the same returns, to 1e-9.

Where qt's definition differs from empyrical's on purpose, the test says why and checks
qt's own closed form instead.
"""

from __future__ import annotations

import math

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
import scipy.stats

from qt.evaluation import stats
from qt.evaluation.drawdowns import episodes, underwater
from qt.evaluation.headline import headline
from qt.evaluation.performance import (
    periodic_tables,
    relative_stats,
    rolling_beta,
    rolling_sharpe,
    rolling_volatility,
)

TOL = 1e-9
PPY = 252.0


@pytest.fixture(scope="module")
def rets() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    b = rng.normal(0.0004, 0.011, 1500)
    r = 0.0002 + 0.8 * b + rng.normal(0.0, 0.006, 1500)
    return r, b


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOL, abs_tol=TOL)


def test_sharpe_sortino_volatility_match_empyrical(rets):
    r, _ = rets
    assert close(stats.sharpe(r, PPY), ep.sharpe_ratio(r, annualization=PPY))
    assert close(stats.sortino(r, PPY), ep.sortino_ratio(r, annualization=PPY))
    assert close(stats.annual_volatility(r, PPY), ep.annual_volatility(r, annualization=PPY))


def test_headline_metrics_match_empyrical_where_definitions_agree(rets):
    r, _ = rets
    capital = 1e6
    nav = capital * np.cumprod(1.0 + r)
    stamps = (np.datetime64("2001-01-01") + np.arange(r.size)).astype("datetime64[us]")
    # business-day-like spacing would be the same; consecutive days give 252 by the daily rule
    m = headline(
        nav=nav,
        capital=capital,
        timestamps=stamps,
        turnover=np.zeros(r.size),
        n_decisions=0,
        n_trades=0,
    )
    assert m["periods_per_year"] == PPY
    assert close(m["sharpe"], ep.sharpe_ratio(r, annualization=PPY))
    assert close(m["sortino"], ep.sortino_ratio(r, annualization=PPY))
    assert close(m["ann_vol"], ep.annual_volatility(r, annualization=PPY))
    assert close(m["max_drawdown"], ep.max_drawdown(r))
    assert close(m["total_return"], ep.cum_returns_final(r))
    # CAGR differs on purpose: qt uses calendar time (span of the timestamps), empyrical counts
    # bars / 252. Here 1500 consecutive calendar days = 1499/365.25 years, not 1500/252.
    years = (r.size - 1) / 365.25
    assert close(m["cagr"], (nav[-1] / capital) ** (1 / years) - 1)
    assert not close(m["cagr"], ep.cagr(r, annualization=PPY))
    # ... and Calmar follows from qt's CAGR: cagr / |max drawdown|
    assert close(m["calmar"], m["cagr"] / abs(m["max_drawdown"]))
    # with the bar-count definition, stats.annual_return_by_count is exactly empyrical's
    assert close(stats.annual_return_by_count(r, PPY), ep.annual_return(r, annualization=PPY))
    assert close(stats.annual_return_by_count(r, PPY) / abs(ep.max_drawdown(r)), ep.calmar_ratio(r, annualization=PPY))


def test_omega_tail_var_cvar_match_empyrical(rets):
    r, _ = rets
    assert close(stats.omega(r), ep.omega_ratio(r))
    assert close(stats.tail_ratio(r), ep.tail_ratio(r))
    assert close(stats.value_at_risk(r, 0.95), ep.value_at_risk(r, 0.05))
    assert close(stats.value_at_risk(r, 0.99), ep.value_at_risk(r, 0.01))
    assert close(stats.conditional_value_at_risk(r, 0.95), ep.conditional_value_at_risk(r, 0.05))
    assert close(stats.conditional_value_at_risk(r, 0.99), ep.conditional_value_at_risk(r, 0.01))


def test_skew_and_kurtosis_are_scipys_population_moments(rets):
    # empyrical has no skew/kurtosis; scipy's defaults (bias not corrected, Fisher excess) are the reference
    r, _ = rets
    assert close(stats.skew(r), float(scipy.stats.skew(r)))
    assert close(stats.kurtosis(r), float(scipy.stats.kurtosis(r)))


def test_hit_rate_closed_form():
    r = np.array([0.01, -0.02, 0.0, 0.03, 0.0, -0.01, 0.02])
    # flat bars (in cash) do not count: 3 wins of 5 active bars
    assert stats.hit_rate(r) == pytest.approx(3 / 5, abs=TOL)
    assert math.isnan(stats.hit_rate(np.zeros(4)))


def test_relative_stats_match_empyrical(rets):
    r, b = rets
    rel = relative_stats(r, b, PPY)
    a_ref, b_ref = ep.alpha_beta(r, b, annualization=PPY)
    assert close(rel["alpha"], a_ref)
    assert close(rel["beta"], b_ref)
    assert close(rel["beta"], ep.beta(r, b))
    assert close(rel["up_capture"], ep.up_capture(r, b, period="daily"))
    assert close(rel["down_capture"], ep.down_capture(r, b, period="daily"))
    active = r - b
    # information ratio: empyrical's excess_sharpe is per bar; qt annualizes it by sqrt(ppy)
    assert close(rel["information_ratio"], ep.excess_sharpe(r, b) * math.sqrt(PPY))
    assert close(rel["tracking_error"], float(np.std(active, ddof=1)) * math.sqrt(PPY))
    assert close(rel["correlation"], float(np.corrcoef(r, b)[0, 1]))
    assert close(rel["benchmark_total_return"], ep.cum_returns_final(b))


def test_rolling_statistics_match_empyrical_and_pandas(rets):
    r, b = rets
    w = 126
    sharpe = rolling_sharpe(r, w, PPY)
    ref = ep.roll_sharpe_ratio(r, window=w, annualization=PPY)
    np.testing.assert_allclose(sharpe[w - 1 :], ref, rtol=TOL, atol=TOL)
    assert np.isnan(sharpe[: w - 1]).all()
    vol = rolling_volatility(r, w, PPY)
    np.testing.assert_allclose(vol[w - 1 :], ep.roll_annual_volatility(r, window=w, annualization=PPY), atol=TOL)
    beta = rolling_beta(r, b, w)
    np.testing.assert_allclose(beta[w - 1 :], ep.roll_beta(r, b, window=w), rtol=TOL, atol=TOL)
    pandas_beta = pd.Series(r).rolling(w).cov(pd.Series(b)) / pd.Series(b).rolling(w).var()
    np.testing.assert_allclose(beta[w - 1 :], pandas_beta.to_numpy()[w - 1 :], rtol=1e-8)


def test_drawdown_series_and_max_match_empyrical(rets):
    r, _ = rets
    curve = np.r_[1.0, np.cumprod(1.0 + r)]
    dd = underwater(curve)
    assert close(float(dd.min()), ep.max_drawdown(r))
    stamps = (np.datetime64("2001-01-01") + np.arange(curve.size)).astype("datetime64[us]")
    top = episodes(curve, stamps, top=5)
    assert close(top[0].depth, ep.max_drawdown(r))
    depths = [d.depth for d in top]
    assert depths == sorted(depths)
    # each episode: the trough is the curve's minimum between peak and recovery, and the peak is a running high
    for d in top:
        i_peak = int((d.peak - stamps[0]) / np.timedelta64(1, "D"))
        i_trough = int((d.trough - stamps[0]) / np.timedelta64(1, "D"))
        assert curve[i_peak] == np.maximum.accumulate(curve)[i_peak]
        assert close(curve[i_trough] / curve[i_peak] - 1, d.depth)


def test_drawdown_table_by_hand():
    curve = np.array([100, 110, 99, 105, 111, 100, 111.0, 90, 95])
    stamps = (np.datetime64("2024-01-01") + np.arange(curve.size)).astype("datetime64[us]")
    top = episodes(curve, stamps, top=5)
    assert [round(d.depth, 6) for d in top] == [round(90 / 111 - 1, 6), round(99 / 110 - 1, 6), round(100 / 111 - 1, 6)]
    worst = top[0].as_dict()
    assert worst == {
        "depth": 90 / 111 - 1,
        "peak": "2024-01-07",
        "trough": "2024-01-08",
        "recovery": None,
        "bars": 2,
        "days": 2.0,
    }
    second = top[1].as_dict()
    assert (second["peak"], second["trough"], second["recovery"], second["bars"]) == (
        "2024-01-02",
        "2024-01-03",
        "2024-01-05",
        3,
    )


def test_monthly_and_annual_tables_compound_like_empyrical(rets):
    r, _ = rets
    stamps = pd.bdate_range("2015-01-01", periods=r.size)
    monthly, annual = periodic_tables(r, stamps.to_numpy().astype("datetime64[us]"))
    series = pd.Series(r, index=stamps)
    ref_m = ep.aggregate_returns(series, "monthly")
    ref_y = ep.aggregate_returns(series, "yearly")
    for (year, month), v in ref_m.items():
        assert close(float(monthly.loc[year, month]), float(v))
    for year, v in ref_y.items():
        assert close(float(annual.loc[year]), float(v))


def test_undefined_ratios_are_nan_not_infinite():
    flat = np.zeros(10)
    for value in (
        stats.sharpe(flat, PPY),
        stats.sortino(flat, PPY),
        stats.omega(flat),
        stats.beta(flat, flat),
        stats.alpha(flat, flat, PPY),
        stats.tail_ratio(flat),
    ):
        assert math.isnan(value)
    assert math.isnan(stats.sharpe(np.array([0.01]), PPY))
