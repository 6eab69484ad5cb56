"""Each feature against pandas' rolling functions or a loop written here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from qt.features import engineering as fe

RNG = np.random.default_rng(42)
PRICES = 100 * np.cumprod(1 + RNG.normal(0, 0.02, size=(120, 4)), axis=0)
PRICES[:7, 3] = np.nan  # listed late
PRICES[50, 2] = np.nan  # a missing day


def frame(x):
    return pd.DataFrame(x)


def test_simple_and_log_returns_and_skip():
    np.testing.assert_allclose(
        fe.simple_returns(PRICES, 5), frame(PRICES).pct_change(5, fill_method=None), equal_nan=True
    )
    np.testing.assert_allclose(
        fe.log_returns(PRICES, 3), np.log(frame(PRICES) / frame(PRICES).shift(3)), equal_nan=True
    )
    skipped = frame(PRICES).shift(2) / frame(PRICES).shift(10) - 1
    np.testing.assert_allclose(fe.simple_returns(PRICES, 10, 2), skipped, equal_nan=True)
    multi = fe.multi_horizon_returns(PRICES, [1, 21])
    np.testing.assert_allclose(multi[21], fe.simple_returns(PRICES, 21), equal_nan=True)
    with pytest.raises(ValueError, match="skip < horizon"):
        fe.simple_returns(PRICES, 5, 5)


@pytest.mark.parametrize("window", [2, 10, 30])
def test_rolling_mean_std_max_match_pandas(window):
    np.testing.assert_allclose(
        fe.rolling_mean(PRICES, window), frame(PRICES).rolling(window).mean(), rtol=1e-10, equal_nan=True
    )
    np.testing.assert_allclose(
        fe.rolling_std(PRICES, window), frame(PRICES).rolling(window).std(), rtol=1e-8, equal_nan=True
    )
    np.testing.assert_allclose(
        fe.rolling_std(PRICES, window, ddof=0),
        frame(PRICES).rolling(window).std(ddof=0),
        rtol=1e-8,
        atol=1e-12,
        equal_nan=True,
    )
    np.testing.assert_allclose(fe.rolling_max(PRICES, window), frame(PRICES).rolling(window).max(), equal_nan=True)
    std = fe.rolling_std(PRICES, window)
    for t in (window + 5, 119):
        np.testing.assert_allclose(std[t, :3], PRICES[t - window + 1 : t + 1, :3].std(axis=0, ddof=1), rtol=1e-9)


def test_rolling_volatility_is_annualized_std_of_daily_returns():
    expected = frame(PRICES).pct_change(fill_method=None).rolling(20).std() * np.sqrt(252)
    np.testing.assert_allclose(fe.rolling_volatility(PRICES, 20), expected, rtol=1e-8, equal_nan=True)


def test_ts_zscore_matches_loop():
    z = fe.ts_zscore(PRICES, 15)
    for t in (20, 80, 119):
        win = PRICES[t - 14 : t + 1, 0]
        assert z[t, 0] == pytest.approx((PRICES[t, 0] - win.mean()) / win.std(ddof=1), rel=1e-8)


def test_cross_sectional_zscore_rank_demean_loop():
    x = PRICES[:, :]
    z, r, d = fe.cs_zscore(x), fe.cs_rank(x), fe.demean(x)
    for t in (0, 50, 100):
        row = x[t]
        ok = np.isfinite(row)
        vals = row[ok]
        np.testing.assert_allclose(z[t, ok], (vals - vals.mean()) / vals.std())
        np.testing.assert_allclose(r[t, ok], (rankdata(vals) - 1) / (ok.sum() - 1))
        np.testing.assert_allclose(d[t, ok], vals - vals.mean())
        assert np.isnan(z[t, ~ok]).all() and np.isnan(r[t, ~ok]).all()


def test_rank_averages_ties():
    np.testing.assert_allclose(fe.cs_rank(np.array([[1.0, 1.0, 3.0]])), [[0.25, 0.25, 1.0]])


def test_winsorize_clips_at_row_quantiles():
    x = np.array([[1.0, 2.0, 3.0, 4.0, 100.0]])
    out = fe.winsorize(x, 0.0, 0.75)
    np.testing.assert_allclose(out, [[1.0, 2.0, 3.0, 4.0, 4.0]])
    with pytest.raises(ValueError, match="lower < upper"):
        fe.winsorize(x, 0.5, 0.5)


def test_neutralize_by_group():
    x = np.array([[1.0, 3.0, 10.0, 20.0, 5.0]])
    out = fe.neutralize(x, ["A", "B", "C", "D", "E"], {"A": "tech", "B": "tech", "C": "bank", "D": "bank"})
    np.testing.assert_allclose(out, [[-1.0, 1.0, -5.0, 5.0, 0.0]])


def test_ewma_matches_loop_and_skips_nan():
    x = PRICES[:, 2:3]
    out = fe.ewma(x, halflife=5)
    a = 1 - 0.5 ** (1 / 5)
    state = np.nan
    for t in range(x.shape[0]):
        v = x[t, 0]
        if np.isnan(v):
            assert np.isnan(out[t, 0])
            continue
        state = v if np.isnan(state) else a * v + (1 - a) * state
        assert out[t, 0] == pytest.approx(state, rel=1e-12)


def test_lag_refuses_negative_periods():
    with pytest.raises(ValueError, match="looks ahead"):
        fe.lag(PRICES, -1)
