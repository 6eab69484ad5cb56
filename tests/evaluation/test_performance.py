"""Trading statistics, exposures and benchmark series, checked against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from qt.errors import ConfigError
from qt.evaluation.benchmark import equal_weight_returns, resolve
from qt.evaluation.performance import analyze, holding_periods
from qt.evaluation.run_data import RunData
from qt.testing.panels import daily_panel


def stamps(n: int, start: str = "2024-01-01") -> np.ndarray:
    return (np.datetime64(start) + np.arange(n)).astype("datetime64[us]")


def weights_frame(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["timestamp", "symbol", "weight_before", "target_weight"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


def test_holding_periods_by_hand():
    w = weights_frame(
        [
            ("2024-01-01", "A", 0.0, 0.5),  # A opened on day 1
            ("2024-01-01", "B", 0.0, 0.5),  # B opened on day 1
            ("2024-01-11", "A", 0.5, 0.0),  # A closed after 10 days
            ("2024-01-11", "B", 0.5, 1.0),
            ("2024-01-21", "A", 0.0, 0.3),  # A reopened, held to the last bar (Jan 31): 10 days
            ("2024-01-21", "B", 1.0, 1.0),  # weights.parquet lists every symbol held before or after
        ]
    )
    days, count = holding_periods(w, np.datetime64("2024-01-31"))
    # A: 10 + 10, B: 30 (to the end) -> mean 50 / 3
    assert count == 3
    assert days == pytest.approx(50 / 3)
    assert holding_periods(w.iloc[0:0], np.datetime64("2024-01-31"))[1] == 0


def make_run(nav, capital=100.0, fees=(), gross=None, net=None, bench=None, weights=None) -> RunData:
    nav = np.asarray(nav, dtype=float)
    n = nav.size
    fills = pd.DataFrame({"fees": np.asarray(fees, dtype=float)})
    return RunData(
        run_dir=__import__("pathlib").Path("/nonexistent/run"),
        timestamps=stamps(n),
        nav=nav,
        capital=capital,
        gross=np.ones(n) if gross is None else np.asarray(gross, float),
        net=np.ones(n) if net is None else np.asarray(net, float),
        turnover=np.zeros(n),
        weights=weights if weights is not None else weights_frame([]),
        fills=fills,
        metrics={},
        config={},
        benchmark_name="bench" if bench is not None else None,
        benchmark_returns=None if bench is None else np.asarray(bench, float),
    )


def test_costs_as_a_share_of_gross_pnl_and_exposures():
    run = make_run([101, 104, 110], capital=100.0, fees=[1.0, 1.5], gross=[1.0, 1.5, 2.0], net=[1.0, 0.5, 0.0])
    s = analyze(run).summary
    assert s["net_pnl"] == pytest.approx(10.0)
    assert s["fees_paid"] == pytest.approx(2.5)
    assert s["cost_share_of_gross_pnl"] == pytest.approx(2.5 / 12.5)
    # long = (gross + net) / 2, short = (gross - net) / 2
    assert s["avg_long_exposure"] == pytest.approx(np.mean([1.0, 1.0, 1.0]))
    assert s["avg_short_exposure"] == pytest.approx(np.mean([0.0, 0.5, 1.0]))
    assert s["n_fills"] == 2


def test_cost_share_is_undefined_when_gross_pnl_is_not_positive():
    s = analyze(make_run([99, 95, 90], fees=[1.0])).summary
    assert math.isnan(s["cost_share_of_gross_pnl"])


def test_a_run_with_no_trades_still_analyzes():
    perf = analyze(make_run(np.full(30, 100.0), gross=np.zeros(30), net=np.zeros(30)))
    s = perf.summary
    assert s["total_return"] == 0.0 and s["n_fills"] == 0
    assert math.isnan(s["sharpe"]) and perf.drawdowns == []
    assert math.isnan(s["avg_holding_days"])


def test_benchmark_equal_weight_is_the_mean_of_available_returns():
    close = np.array([[10.0, 20.0, np.nan], [11.0, 19.0, 5.0], [12.1, np.nan, 6.0]])
    r = equal_weight_returns(close)
    assert r[0] == 0.0
    assert r[1] == pytest.approx((0.1 + (-0.05)) / 2)  # C has no previous price
    assert r[2] == pytest.approx((0.1 + 0.2) / 2)  # B has no price at bar 2


def test_benchmark_symbol_from_the_run_data_and_from_the_bundled_index():
    panel = daily_panel([[10.0, 1.0], [11.0, 1.0], [12.1, 1.0]], symbols=["SPY", "X"])
    np.testing.assert_allclose(resolve("SPY", panel).returns, [0.0, 0.1, 0.1])
    sample = daily_panel(np.ones((5, 1)), start="2020-03-02")
    index = resolve("SP500", sample)
    from qt.data.sources.sample import SampleData

    spx = SampleData(dataset="sp500_index").load()
    when = spx.timestamps
    # the panel's days are consecutive calendar days: each is valued at the index's last close on or before it
    pos = np.searchsorted(when, sample.timestamps, side="right") - 1
    marks = spx.close[pos, 0]
    np.testing.assert_allclose(index.returns[1:], marks[1:] / marks[:-1] - 1, rtol=1e-12)


def test_unknown_benchmark_names_the_key_and_the_choices():
    panel = daily_panel([[10.0], [11.0]], symbols=["AAA"])
    with pytest.raises(ConfigError, match=r"benchmark: 'NOPE' is neither a symbol of data set .*AAA.*equal_weight"):
        resolve("NOPE", panel)
    late = daily_panel([[10.0], [11.0]], symbols=["AAA"], start="2030-01-01")
    with pytest.raises(ConfigError, match="does not overlap this run"):
        resolve("SP500", late)


def test_relative_stats_appear_only_with_a_benchmark():
    rng = np.random.default_rng(1)
    b = rng.normal(0, 0.01, 300)
    nav = 100 * np.cumprod(1 + 0.5 * b + rng.normal(0, 0.002, 300))
    with_b = analyze(make_run(nav, bench=b))
    assert with_b.summary["beta"] == pytest.approx(0.5, abs=0.05)
    assert "beta" in with_b.rolling and with_b.bench_wealth is not None
    without = analyze(make_run(nav))
    assert "beta" not in without.summary and without.bench_wealth is None
