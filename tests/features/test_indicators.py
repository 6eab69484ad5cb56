"""TA-Lib through YAML equals a direct talib call; schemas come from TA-Lib's own info."""

from __future__ import annotations

import numpy as np
import pytest
import talib

from qt.data.panel import BarPanel
from qt.enums import Field
from qt.errors import MissingFieldError
from qt.features import indicators
from qt.features.graph import parse_graph
from qt.testing.panels import daily_panel

RNG = np.random.default_rng(3)
T, N = 400, 3
CLOSE = 100 * np.cumprod(1 + RNG.normal(0, 0.01, size=(T, N)), axis=0)
HIGH = CLOSE * (1 + RNG.uniform(0, 0.01, size=(T, N)))
LOW = CLOSE * (1 - RNG.uniform(0, 0.01, size=(T, N)))
OPEN = (HIGH + LOW) / 2
VOLUME = RNG.uniform(1e5, 1e6, size=(T, N))
STAMPS = (np.datetime64("2020-01-01") + np.arange(T)).astype("datetime64[us]")
OHLCV = BarPanel(
    STAMPS,
    ("A", "B", "C"),
    {Field.OPEN: OPEN, Field.HIGH: HIGH, Field.LOW: LOW, Field.CLOSE: CLOSE, Field.VOLUME: VOLUME},
)


def evaluate(spec, panel=OHLCV, extra=None):
    graph, problems = parse_graph({"x": spec, **(extra or {})})
    assert problems == []
    return graph.evaluate(panel, ["x"], use_cache=False)["x"]


@pytest.mark.parametrize(
    ("spec", "direct"),
    [
        ({"indicator": "RSI", "params": {"timeperiod": 14}}, lambda j: talib.RSI(CLOSE[:, j], timeperiod=14)),
        ({"indicator": "MACD", "output": "macdhist"}, lambda j: talib.MACD(CLOSE[:, j])[2]),
        (
            {"indicator": "BBANDS", "params": {"timeperiod": 10, "matype": "EMA"}, "output": "lowerband"},
            lambda j: talib.BBANDS(CLOSE[:, j], timeperiod=10, matype=1)[2],
        ),
        ({"indicator": "STOCH", "output": "slowd"}, lambda j: talib.STOCH(HIGH[:, j], LOW[:, j], CLOSE[:, j])[1]),
        (
            {"indicator": "ADX", "params": {"timeperiod": 10}},
            lambda j: talib.ADX(HIGH[:, j], LOW[:, j], CLOSE[:, j], timeperiod=10),
        ),
        ({"indicator": "OBV"}, lambda j: talib.OBV(CLOSE[:, j], VOLUME[:, j])),
        ({"indicator": "sma", "params": {"timeperiod": 30}}, lambda j: talib.SMA(CLOSE[:, j], timeperiod=30)),
        (
            {"indicator": "CDLDOJI"},
            lambda j: talib.CDLDOJI(OPEN[:, j], HIGH[:, j], LOW[:, j], CLOSE[:, j]).astype(float),
        ),
    ],
)
def test_yaml_indicator_equals_direct_talib_call(spec, direct):
    out = evaluate(spec)
    for j in range(N):
        np.testing.assert_array_equal(out[:, j], direct(j))


def test_indicator_on_another_node():
    out = evaluate(
        {"indicator": "EMA", "params": {"timeperiod": 5}, "inputs": {"close": "r"}}, extra={"r": {"signal": "returns"}}
    )
    r = CLOSE[1:, 0] / CLOSE[:-1, 0] - 1
    np.testing.assert_allclose(out[1:, 0], talib.EMA(r, timeperiod=5), equal_nan=True)


def test_one_call_per_asset_over_the_whole_history(monkeypatch):
    graph, problems = parse_graph({"x": {"indicator": "RSI"}})
    assert problems == []
    calls = []
    real = talib.RSI

    def counting(*args, **kwargs):
        calls.append(len(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(talib, "RSI", counting)
    graph.evaluate(OHLCV, use_cache=False)
    assert calls == [T] * N


def test_gaps_and_late_listing_use_only_present_rows():
    close = CLOSE.copy()
    close[:50, 1] = np.nan  # listed at row 50
    close[200, 2] = np.nan  # one missing bar
    out = evaluate({"indicator": "RSI", "params": {"timeperiod": 14}}, panel=daily_panel(close))
    np.testing.assert_array_equal(out[50:, 1], talib.RSI(close[50:, 1], timeperiod=14))
    rows = np.flatnonzero(np.isfinite(close[:, 2]))
    np.testing.assert_array_equal(out[rows, 2], talib.RSI(close[rows, 2], timeperiod=14))
    assert np.isnan(out[200, 2]) and np.isfinite(out[201, 2])


def test_missing_field_names_indicator_and_field():
    with pytest.raises(MissingFieldError, match=r"signals\.x: indicator ADX needs the 'high' field"):
        evaluate({"indicator": "ADX"}, panel=daily_panel(CLOSE))


@pytest.mark.parametrize(
    ("spec", "path", "message"),
    [
        (
            {"indicator": "RSI", "params": {"timeperod": 14}},
            ("x", "params", "timeperod"),
            "did you mean 'timeperiod'\\? allowed: timeperiod",
        ),
        (
            {"indicator": "RSI", "params": {"timeperiod": -3}},
            ("x", "params", "timeperiod"),
            "greater than or equal to 1",
        ),
        ({"indicator": "BBANDS", "params": {"matype": "FOO"}}, ("x", "params", "matype"), "valid integer"),
        (
            {"indicator": "RSI", "params": {"timeperiod": 1}},
            ("x", "params", "timeperiod"),
            "TA-Lib rejects RSI .* Bad Parameter",
        ),
        ({"indicator": "MACD", "params": {"fastperiod": 1, "slowperiod": 1}}, ("x", "params"), "TA-Lib rejects MACD"),
        ({"indicator": "MACD", "output": "signal"}, ("x", "output"), "outputs macd, macdsignal, macdhist"),
        ({"indicator": "RSX"}, ("x", "indicator"), "did you mean 'RSI'"),
        ({"indicator": "MAVP"}, ("x", "inputs"), "needs input 'periods'"),
        ({"signal": "rsi"}, ("x", "signal"), "write `indicator: RSI`"),
    ],
)
def test_schema_errors_name_the_parameter(spec, path, message):
    _, problems = parse_graph({"x": spec})
    assert problems and problems[0].path == path
    assert __import__("re").search(message, problems[0].message), problems[0].message


def test_every_talib_function_has_a_schema():
    names = indicators.indicator_names()
    assert len(names) > 150
    for name in names:
        info = indicators.indicator_info(name)
        assert info.outputs
        assert set(info.schema.model_fields) == set(info.params)
