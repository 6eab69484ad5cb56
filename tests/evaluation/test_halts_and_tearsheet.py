"""Halts made loud (metrics, log, summaries) and the tearsheet's new parts, on hand-built runs."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qt.evaluation import charts
from qt.evaluation.describe import short_config, title
from qt.evaluation.events import run_events
from qt.evaluation.halts import halt_lines, halt_metrics, log_events, stop_events
from qt.evaluation.performance import analyze
from qt.evaluation.run_data import RunData
from qt.evaluation.tearsheet import Analyzed, render, spans_decade

DAYS = pd.bdate_range("2020-01-01", periods=60)
EVENTS = pd.DataFrame(
    {
        "timestamp": [DAYS[10], DAYS[30]],
        "kind": ["daily_loss", "drawdown_stop"],
        "detail": ["daily loss 6.00% >= max_loss 5.00%", "drawdown 26.00% >= max_drawdown 25.00%"],
        "scale": [0.5, 0.0],
        "halt": [False, True],
    }
)
CONFIG = {
    "capital": 1000,
    "strategy": {
        "_target_": "pipeline",
        "params": {"lookback": 252, "skip": 21, "quantile": 0.2, "long_short": False, "frequency": "monthly"},
    },
    "portfolio": {
        "_target_": "qt.portfolio.optimizers.MeanVariance",
        "risk_model": {"_target_": "qt.portfolio.risk_models.LedoitWolf", "window": 252},
        "constraints": {"_target_": "qt.portfolio.constraints.Constraints", "long_only": True},
        "risk_aversion": 1.0,
    },
}
CHOICES = {"strategy": "xmom", "portfolio": "meanvar", "risk_model": "ledoit_wolf", "constraints": "long_only"}


def stops():
    return stop_events(EVENTS["timestamp"].tolist(), *(EVENTS[c].tolist() for c in ("kind", "detail", "scale", "halt")))


def test_halt_metrics_name_the_first_halt_and_count_de_risks():
    m = halt_metrics(stops())
    assert m == {
        "halted_at": "2020-02-12",  # the 31st business day of 2020
        "halt_reason": "drawdown_stop: drawdown 26.00% >= max_drawdown 25.00%",
        "halts": 1,
        "derisk_events": 1,
    }
    assert halt_metrics([]) == {"halted_at": None, "halt_reason": None, "halts": 0, "derisk_events": 0}
    lines = halt_lines(m)
    assert lines[0] == "HALTED on 2020-02-12: drawdown_stop: drawdown 26.00% >= max_drawdown 25.00%"
    assert lines[1].startswith("de-risked 1 time ")


def test_each_halt_and_de_risk_is_a_warning_with_its_date_and_reason(caplog):
    with caplog.at_level(logging.WARNING, logger="qt"):
        log_events(stops())
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert messages == [
        "de-risked on 2020-01-15 by daily_loss: daily loss 6.00% >= max_loss 5.00% (positions x 0.5)",
        "trading halted on 2020-02-12 by drawdown_stop: drawdown 26.00% >= max_drawdown 25.00% (flattened)",
    ]


def test_title_and_short_config_use_option_names_not_target_paths():
    assert title(CONFIG, CHOICES) == "xmom — lookback 252, skip 21, quantile 0.2, monthly"
    text = short_config(CONFIG, CHOICES)
    assert "portfolio: meanvar (ledoit_wolf, long_only; risk_aversion 1.0)" in text
    assert "_target_" not in text and "qt.portfolio" not in text
    assert title(CONFIG, {}) == "pipeline — lookback 252, skip 21, quantile 0.2, monthly"  # no .hydra/hydra.yaml


def halted_run(tmp_path: Path, growth: float = 1.001) -> RunData:
    n = len(DAYS)
    nav = 1000.0 * growth ** np.arange(1, n + 1)
    nav[31:] = nav[30]  # flat in cash after the halt
    stamps = DAYS.to_numpy().astype("datetime64[us]")
    fills = pd.DataFrame(
        {
            "order_id": [1, 2],
            "timestamp": [DAYS[0], DAYS[30]],
            "symbol": ["A", "A"],
            "side": ["buy", "sell"],
            "quantity": [10.0, 10.0],
            "price": [100.0, 100.0 + (nav[30] - 1000.0) / 10.0],
            "fees": [0.0, 0.0],
        }
    )
    fills["notional"] = fills["quantity"] * fills["price"]
    decisions = pd.DataFrame(
        {"timestamp": [DAYS[0], DAYS[20]], "status": ["optimal", "infeasible"], "fallback_steps": ["", "min_variance"]}
    )
    weights = pd.DataFrame({"timestamp": [DAYS[0]], "symbol": ["A"], "weight_before": [0.0], "target_weight": [1.0]})
    return RunData(
        run_dir=tmp_path,
        timestamps=stamps,
        nav=nav,
        capital=1000.0,
        gross=np.r_[np.ones(31), np.zeros(n - 31)],
        net=np.r_[np.ones(31), np.zeros(n - 31)],
        turnover=np.zeros(n),
        weights=weights,
        fills=fills,
        metrics={},
        config=CONFIG,
        events=EVENTS,
        decisions=decisions,
        choices=CHOICES,
        final_marks={"A": 101.0},
    )


def test_tearsheet_says_the_run_halted_and_marks_events_on_the_equity_chart(tmp_path):
    run = halted_run(tmp_path)
    perf = analyze(run)
    assert perf.summary["halted_at"] == "2020-02-12" and perf.summary["fallback_decisions"] == 1
    assert perf.summary["round_trips"] == 1 and perf.summary["win_rate"] == 1.0
    assert perf.contribution is not None
    assert perf.contribution.sum() == pytest.approx(run.nav[-1] - run.capital)
    assert [e["kind"] for e in run_events(run)] == ["derisk", "fallback", "halt"]
    html = render([Analyzed(run, perf)])
    assert "<h1>xmom — lookback 252, skip 21, quantile 0.2, monthly</h1>" in html
    assert 'id="halt-banner">HALTED on 2020-02-12: drawdown_stop' in html
    equity = html.split('data-chart="equity"', 1)[1].split("</svg>", 1)[0]
    assert equity.count('class="mark mark-halt"') == 1
    assert equity.count('class="mark mark-derisk"') == 1
    assert equity.count('class="mark mark-fallback"') == 1
    assert "2020-02-12 HALT - drawdown_stop" in equity  # the mark's hover text
    assert "_target_" not in html.split('id="config-short"', 1)[1].split("</pre>", 1)[0]
    for chart in ("contribution", "distribution"):
        assert f'data-chart="{chart}"' in html


def test_equity_opens_on_a_log_scale_when_it_spans_more_than_ten_times(tmp_path):
    small = halted_run(tmp_path)  # grows ~3%
    big = halted_run(tmp_path, growth=1.1)  # 1.1^31 = 19x
    assert not spans_decade([Analyzed(small, analyze(small))])
    assert spans_decade([Analyzed(big, analyze(big))])
    html = render([Analyzed(big, analyze(big))])
    assert re.search(r'id="log-toggle" checked', html)
    assert re.search(r'id="equity-linear" hidden', html)


def test_histogram_counts_match_numpy_and_hover_data_carries_the_values():
    r = np.random.default_rng(0).normal(0, 0.01, 500)
    svg = charts.histogram(r, bins=20)
    counts = [int(c) for c in re.findall(r": ([\d,]+) bars</title>", svg)]
    assert counts == np.histogram(r, bins=20, range=(r.min(), r.max()))[0].tolist()
    stamps = DAYS.to_numpy().astype("datetime64[us]")
    values = np.linspace(1.0, 2.0, len(stamps))
    svg = charts.line_chart(stamps, [charts.Line("strategy", values)])
    data = json.loads(re.search(r'data-hover="([^"]*)"', svg).group(1).replace("&quot;", '"'))
    series = data["s"][0]
    assert series["n"] == "strategy" and series["v"][0] == 1.0 and series["v"][-1] == 2.0
    assert series["d"][0] == int(stamps[0].astype("datetime64[D]").astype(int))


def test_report_title_and_stats_say_halted():
    from types import SimpleNamespace

    from qt.reporting.summaries import run_report

    panel = SimpleNamespace(name="toy", n_assets=2, timestamps=DAYS.to_numpy())
    metrics = {"sharpe": 1.0, **halt_metrics(stops())}
    summary = SimpleNamespace(
        result=SimpleNamespace(panel=panel, nav=np.array([1.0])), metrics=metrics, timings={}, run_dir=Path("x")
    )
    report = run_report(summary, {}, None)
    assert report.title.endswith("- HALTED 2020-02-12")
    assert ("halted_at", "2020-02-12") in report.stats and ("derisk_events", "1") in report.stats
    assert report.subtitle.splitlines()[0].startswith("HALTED on 2020-02-12: drawdown_stop")
