"""Built-in signals against values worked out independently (loops and pandas)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qt.features.graph import parse_graph
from qt.testing.panels import daily_panel

RNG = np.random.default_rng(7)
CLOSE = 50 * np.cumprod(1 + RNG.normal(0, 0.015, size=(300, 5)), axis=0)
PANEL = daily_panel(CLOSE)
DF = pd.DataFrame(CLOSE)


def node(spec, extra=None):
    graph, problems = parse_graph({"x": spec, **(extra or {})})
    assert problems == []
    return graph.evaluate(PANEL, ["x"], use_cache=False)["x"]


def test_momentum_is_skipped_trailing_return():
    out = node({"signal": "momentum", "lookback": 252, "skip": 21})
    for t in (252, 299):
        np.testing.assert_allclose(out[t], CLOSE[t - 21] / CLOSE[t - 252] - 1)
    assert np.isnan(out[251]).all()


def test_ts_momentum_is_return_over_scaled_vol():
    out = node({"signal": "ts_momentum", "lookback": 60, "vol_window": 20})
    t = 200
    ret = CLOSE[t] / CLOSE[t - 60] - 1
    daily = CLOSE[t - 19 : t + 1] / CLOSE[t - 20 : t] - 1
    np.testing.assert_allclose(out[t], ret / (daily.std(axis=0, ddof=1) * np.sqrt(60)), rtol=1e-8)


def test_distance_to_52_week_high():
    out = node({"signal": "high_52w", "window": 252})
    expected = CLOSE / DF.rolling(252).max().to_numpy() - 1
    np.testing.assert_allclose(out, expected, equal_nan=True)
    assert (out[251:] <= 0).all()


def test_reversal_ma_zscore_bollinger():
    rev = node({"signal": "reversal", "lookback": 5})
    np.testing.assert_allclose(rev[10], -(CLOSE[10] / CLOSE[5] - 1))
    z = node({"signal": "ma_zscore", "window": 20})
    expected = (DF - DF.rolling(20).mean()) / DF.rolling(20).std()
    np.testing.assert_allclose(z, expected, rtol=1e-7, equal_nan=True)
    b = node({"signal": "bollinger_pctb", "window": 20, "nbdev": 2.0})
    mid, sd = DF.rolling(20).mean(), DF.rolling(20).std(ddof=0)
    np.testing.assert_allclose(b, (DF - (mid - 2 * sd)) / (4 * sd), rtol=1e-7, equal_nan=True)


def test_bollinger_pctb_agrees_with_talib_bbands():
    import talib

    b = node({"signal": "bollinger_pctb", "window": 20, "nbdev": 2.0})
    up, _, lo = talib.BBANDS(CLOSE[:, 0], timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
    np.testing.assert_allclose(b[:, 0], (CLOSE[:, 0] - lo) / (up - lo), rtol=1e-6, equal_nan=True)


def test_volatility_and_low_vol():
    vol = node({"signal": "volatility", "window": 30})
    expected = DF.pct_change(fill_method=None).rolling(30).std() * np.sqrt(252)
    np.testing.assert_allclose(vol, expected, rtol=1e-8, equal_nan=True)
    np.testing.assert_allclose(node({"signal": "low_vol", "window": 30}), -vol, equal_nan=True)


def test_transforms_on_other_nodes():
    base = {"r": {"signal": "returns", "horizon": 1}}
    r = DF.pct_change(fill_method=None)
    np.testing.assert_allclose(
        node({"signal": "ts_zscore", "of": "r", "window": 10}, base),
        (r - r.rolling(10).mean()) / r.rolling(10).std(),
        rtol=1e-7,
        equal_nan=True,
    )
    row = r.iloc[100].to_numpy()
    np.testing.assert_allclose(node({"signal": "cs_zscore", "of": "r"}, base)[100], (row - row.mean()) / row.std())
    np.testing.assert_allclose(node({"signal": "demean", "of": "r"}, base)[100], row - row.mean())
    np.testing.assert_allclose(
        node({"signal": "ewma", "of": "r", "halflife": 3}, base)[1:],
        r.iloc[1:].ewm(halflife=3, adjust=False).mean(),
        rtol=1e-10,
    )
    logr = node({"signal": "returns", "horizon": 5, "skip": 1, "log": True})
    np.testing.assert_allclose(logr[20], np.log(CLOSE[19] / CLOSE[15]))


def test_combinators():
    base = {"a": {"signal": "returns", "horizon": 5}, "b": {"signal": "volatility", "window": 10}}
    a = CLOSE / np.roll(CLOSE, 5, axis=0) - 1
    t = 150
    za = (a[t] - a[t].mean()) / a[t].std()
    b = pd.DataFrame(CLOSE).pct_change(fill_method=None).rolling(10).std().to_numpy()[t] * np.sqrt(252)
    zb = (b - b.mean()) / b.std()
    ws = node({"signal": "weighted_sum", "inputs": {"a": 1.0, "b": -0.5}}, base)
    np.testing.assert_allclose(ws[t], za - 0.5 * zb, rtol=1e-8)
    prod = node({"signal": "product", "inputs": ["a", "b"]}, base)
    np.testing.assert_allclose(prod[t], a[t] * b, rtol=1e-8)
    np.testing.assert_allclose(node({"signal": "sign", "of": "a"}, base)[t], np.sign(a[t]))
    th = node({"signal": "threshold", "of": "a", "above": 0.01, "below": -0.01}, base)[t]
    np.testing.assert_allclose(th, np.where(a[t] > 0.01, 1.0, np.where(a[t] < -0.01, -1.0, 0.0)))
    np.testing.assert_allclose(node({"signal": "difference", "a": "a", "b": "b"}, base)[t], a[t] - b, rtol=1e-8)
    np.testing.assert_allclose(node({"signal": "ratio", "a": "a", "b": "b"}, base)[t], a[t] / b - 1, rtol=1e-8)


def test_bad_signal_parameters_are_problems_with_paths():
    _, problems = parse_graph({"m": {"signal": "momentum", "lookback": 10, "skip": 10}})
    assert problems[0].path == ("m",) and "skip (10) must be < lookback (10)" in problems[0].message
    _, problems = parse_graph({"t": {"signal": "threshold", "of": "t2", "above": None}, "t2": {"signal": "returns"}})
    assert problems[0].path == ("t",) and "give above, below" in problems[0].message


@pytest.mark.parametrize(
    "name", ["momentum", "reversal", "low_vol", "high_52w", "bollinger_pctb", "ma_zscore", "ts_momentum", "volatility"]
)
def test_every_builtin_price_signal_has_the_panel_shape(name):
    assert node({"signal": name}).shape == CLOSE.shape
