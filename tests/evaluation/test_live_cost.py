"""What live cost, on result folders written by hand: every line worked out on paper.

Capital 1,000; three daily bars; marks at the last bar A 12, B 18, C 55.

backtest                                   live
d1 buy A 10 @ 10.00, fee 1.0               d1 buy A 10 @ 10.05, fee 1.2   (same bar: slippage)
d1 buy B  5 @ 20.00, fee 1.0 (filled d1)   d1 buy B  5 @ 21.00, fee 1.0   (filled d2: timing)
d1 buy C  2 @ 50.00, fee 0.0               d1 buy C  2 rejected by the broker
d2 buy A  5 @ 11.00, fee 0.5               halted at d2 by a drawdown stop: no decision

backtest NAV at d3 = 1000 - 101 - 101 - 100 - 55.5 + 15*12 + 5*18 + 2*55 = 1022.5
live NAV at d3     = 1000 - 101.7 - 106 + 10*12 + 5*18                    = 1002.3
difference -20.2 =
  slippage  10 * (10 - 10.05)   = -0.5
  timing     5 * (20 - 21)      = -5.0
  fees       (1 + 1 + 0.5) - (1.2 + 1) = +0.3
  rejected  -(2 * (55 - 50))    = -10.0
  halts     -(5 * (12 - 11))    = -5.0
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qt.evaluation.live_cost import FILE, LINES, attribute
from qt.evaluation.run_data import RunDirError, load_run

D = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"])
MARKS = {"A": 12.0, "B": 18.0, "C": 55.0}


def write_run(folder: Path, navs, orders, fills, *, events=(), decisions=(), mode="backtest", state="active") -> Path:
    """A run folder with the files the attribution reads (orders: id, decided, symbol, qty, status, reason)."""
    folder.mkdir(parents=True)
    nav = np.asarray(navs, float)
    ret = nav / np.r_[1000.0, nav[:-1]] - 1.0
    pd.DataFrame({"timestamp": D, "nav": nav, "cash": nav, "gross_exposure": 0.0, "net_exposure": 0.0,
                  "turnover": 0.0, "return": ret}).to_parquet(folder / "equity.parquet")  # fmt: skip
    pd.DataFrame({"timestamp": pd.to_datetime([]), "symbol": [], "weight_before": [], "target_weight": []}).to_parquet(
        folder / "weights.parquet"
    )
    pd.DataFrame(
        [{"order_id": i, "decided_at": D[t], "symbol": s, "side": "buy" if q > 0 else "sell", "quantity": abs(q),
          "status": st, "reason": r} for i, t, s, q, st, r in orders]
    ).to_parquet(folder / "orders.parquet")  # fmt: skip
    pd.DataFrame(
        [{"order_id": i, "timestamp": D[t], "symbol": s, "side": "buy" if q > 0 else "sell", "quantity": abs(q),
          "price": p, "fees": f, "notional": abs(q) * p} for i, t, s, q, p, f in fills]
    ).to_parquet(folder / "fills.parquet")  # fmt: skip
    pd.DataFrame(
        {"timestamp": D[list(decisions)], "status": "", "solver": "", "fallback_steps": "", "gross": 1.0, "n_names": 1}
    ).to_parquet(folder / "decisions.parquet")
    pd.DataFrame(
        {"timestamp": D[[t for t, _ in events]], "kind": [k for _, k in events], "detail": "", "scale": 0.0,
         "halt": [k != "resume" for _, k in events]}
    ).to_parquet(folder / "events.parquet")  # fmt: skip
    (folder / "metrics.json").write_text(json.dumps({"trading_state": state}))
    (folder / "performance.json").write_text(json.dumps({"final_marks": MARKS}))
    (folder / "manifest.json").write_text(json.dumps({"mode": mode, "broker": "paper" if mode == "live" else None}))
    return folder


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    """(live, backtest) of the module's docstring."""
    backtest = write_run(
        tmp_path / "backtest",
        [1000.0, 1010.0, 1022.5],
        [(1, 0, "A", 10, "filled", ""), (2, 0, "B", 5, "filled", ""), (3, 0, "C", 2, "filled", ""),
         (4, 1, "A", 5, "filled", "")],
        [(1, 0, "A", 10, 10.0, 1.0), (2, 0, "B", 5, 20.0, 1.0), (3, 0, "C", 2, 50.0, 0.0), (4, 1, "A", 5, 11.0, 0.5)],
        decisions=(0, 1),
    )  # fmt: skip
    live = write_run(
        tmp_path / "live",
        [1000.0, 995.0, 1002.3],
        [(1, 0, "A", 10, "filled", ""), (2, 0, "B", 5, "filled", ""),
         (3, 0, "C", 2, "rejected", "rejected by the broker: no shortable shares")],
        [(1, 0, "A", 10, 10.05, 1.2), (2, 1, "B", 5, 21.0, 1.0)],
        events=((1, "drawdown_stop"),), decisions=(0,), mode="live", state="halted",
    )  # fmt: skip
    return live, backtest


def test_each_line_is_the_hand_worked_value_and_they_sum_to_the_difference(runs):
    live, backtest = runs
    cost = attribute(load_run(live), load_run(backtest))
    assert cost.live_nav == 1002.3 and cost.backtest_nav == 1022.5
    expected = {"slippage": -0.5, "timing": -5.0, "fees": 0.3, "rejected": -10.0, "halts": -5.0}
    for key in LINES:
        assert cost.line(key) == pytest.approx(expected.get(key, 0.0), abs=1e-9), key
    assert sum(x.value for x in cost.lines) == pytest.approx(cost.total, abs=1e-12)
    assert cost.total == pytest.approx(-20.2, abs=1e-9)
    assert {x.key: x.orders for x in cost.lines}["rejected"] == 1


def test_a_backtest_decision_live_never_made_without_a_halt_is_a_missed_decision(runs, tmp_path):
    live, backtest = runs
    for name in ("events.parquet",):
        pd.read_parquet(live / name).iloc[0:0].to_parquet(live / name)  # no halt recorded
    (live / "metrics.json").write_text(json.dumps({"trading_state": "active"}))
    cost = attribute(load_run(live), load_run(backtest))
    assert cost.line("missed_decisions") == pytest.approx(-5.0) and cost.line("halts") == 0.0


def test_the_same_run_on_both_sides_costs_exactly_nothing(runs):
    _, backtest = runs
    run = load_run(backtest)
    cost = attribute(run, run)
    assert cost.total == 0.0 and all(x.value == 0.0 for x in cost.lines)


def test_runs_without_a_common_bar_are_one_clear_error(runs, tmp_path):
    live, _ = runs
    other = tmp_path / "other"
    other.mkdir()
    for f in live.iterdir():
        (other / f.name).write_bytes(f.read_bytes())
    eq = pd.read_parquet(other / "equity.parquet")
    eq["timestamp"] = eq["timestamp"] + pd.Timedelta(days=365)
    eq.to_parquet(other / "equity.parquet")
    with pytest.raises(RunDirError, match="share no bar"):
        attribute(load_run(live), load_run(other))


def test_qt_tearsheet_vs_backtest_writes_the_table_the_chart_and_live_cost_json(runs):
    live, backtest = runs
    proc = subprocess.run([sys.executable, "-m", "qt", "tearsheet", str(live), "--vs-backtest", str(backtest)],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "what live cost" in proc.stdout and "-20.20" in proc.stdout
    data = json.loads((live / FILE).read_text())
    assert data["difference"] == pytest.approx(-20.2)
    assert {x["key"]: x["value"] for x in data["lines"]}["timing"] == pytest.approx(-5.0)
    html = (live / "tearsheet.html").read_text()
    assert 'id="live-cost"' in html and 'data-chart="live-cost"' in html and 'data-chart="live-gap"' in html
    assert "orders rejected by the broker" in html


def test_vs_backtest_of_a_missing_folder_exits_2_naming_it(runs, tmp_path):
    live, _ = runs
    proc = subprocess.run([sys.executable, "-m", "qt", "tearsheet", str(live), "--vs-backtest", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 2 and "--vs-backtest" in proc.stderr and "nope" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_decision_live_made_late_is_timing_not_a_missed_decision(tmp_path):
    """The backtest buys A 10 @ 10 at d1; live, down over d1, decides at d2 and buys A 10 @ 11. Mark 12.

    backtest: 10 * (12 - 10) = 20; live: 10 * (12 - 11) = 10; timing 10 * (10 - 11) = -10, nothing else.
    """
    backtest = write_run(tmp_path / "b", [1000.0, 1010.0, 1020.0], [(1, 0, "A", 10, "filled", "")],
                         [(1, 0, "A", 10, 10.0, 0.0)], decisions=(0,))  # fmt: skip
    live = write_run(tmp_path / "l", [1000.0, 1000.0, 1010.0], [(1, 1, "A", 10, "filled", "")],
                     [(1, 1, "A", 10, 11.0, 0.0)], decisions=(1,), mode="live")  # fmt: skip
    cost = attribute(load_run(live), load_run(backtest))
    assert cost.total == pytest.approx(-10.0)
    assert {x.key: x.value for x in cost.lines if x.value} == {"timing": pytest.approx(-10.0)}


def test_refusals_are_told_apart_by_the_live_orders_outcome(tmp_path):
    """Backtest buys A 1 @ 10, B 2 @ 20, C 3 @ 50 at d1; live's orders: denied while halted, denied by the collar,
    lost. Marks A 12, B 18, C 55: halts -(1 * 2) = -2, denied -(2 * -2) = +4, lost -(3 * 5) = -15."""
    backtest = write_run(
        tmp_path / "b", [1000.0, 1000.0, 1013.0],
        [(1, 0, "A", 1, "filled", ""), (2, 0, "B", 2, "filled", ""), (3, 0, "C", 3, "filled", "")],
        [(1, 0, "A", 1, 10.0, 0.0), (2, 0, "B", 2, 20.0, 0.0), (3, 0, "C", 3, 50.0, 0.0)], decisions=(0,),
    )  # fmt: skip
    live = write_run(
        tmp_path / "l", [1000.0, 1000.0, 1000.0],
        [(1, 0, "A", 1, "denied", "trading is halted (qt live resume to trade again)"),
         (2, 0, "B", 2, "denied", "price 20.00 is 12.0% from the last price 22.73 (price_collar 10%)"),
         (3, 0, "C", 3, "lost", "no acknowledgement from the broker")],
        [], decisions=(0,), mode="live",
    )  # fmt: skip
    cost = attribute(load_run(live), load_run(backtest))
    assert {x.key: x.value for x in cost.lines if x.value} == {"halts": -2.0, "denied": 4.0, "lost": -15.0}
    assert cost.total == -13.0
