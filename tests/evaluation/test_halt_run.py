"""A backtest whose drawdown stop halts trading says so in the summary, run.log, metrics.json and the tearsheet.

README's risk example over 2006 to mid-2009: the stop fires on 2008-10-07. The date is
checked against the saved equity (the first close 25% below the running peak) and the
fills (none after it), not against the events the engine wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
HALTED = (
    "strategy=xmom", "portfolio=meanvar", "risk_model=ledoit_wolf", "constraints=long_only_capped",
    "risk=conservative", "start=2006-01-01", "end=2009-06-30",
)  # fmt: skip
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def halted(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("halted")
    done = subprocess.run(
        [sys.executable, "-m", "qt", "run", *HALTED, f"hydra.run.dir={run_dir}"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return run_dir, done


def test_the_halt_date_is_where_the_drawdown_first_reaches_the_stop(halted):
    run_dir, _ = halted
    equity = pd.read_parquet(run_dir / "equity.parquet")
    curve = np.r_[1_000_000.0, equity["nav"].to_numpy()]
    drawdown = curve[1:] / np.maximum.accumulate(curve)[1:] - 1.0
    first = int(np.argmax(drawdown <= -0.25))
    assert str(equity["timestamp"].iloc[first])[:10] == "2008-10-07"
    fills = pd.read_parquet(run_dir / "fills.parquet")
    assert fills["timestamp"].max() <= pd.Timestamp("2008-10-07")  # nothing traded after the halt


def test_summary_log_metrics_and_tearsheet_say_it_halted(halted):
    run_dir, done = halted
    reason = "drawdown_stop: drawdown 26.92% >= max_drawdown 25.00%"
    assert f"HALTED on 2008-10-07: {reason}" in done.stdout  # the console summary
    assert "HALTED 2008-10-07" in done.stdout  # in the table's title too
    assert f"WARNING: trading halted on 2008-10-07 by {reason} (flattened)" in done.stderr
    log = (run_dir / "run.log").read_text()
    assert f"[qt][WARNING] - trading halted on 2008-10-07 by {reason} (flattened)" in log
    metrics = json.loads((run_dir / "metrics.json").read_text())
    events = pd.read_parquet(run_dir / "events.parquet")
    assert metrics["halted_at"] == "2008-10-07"
    assert metrics["halt_reason"] == reason
    assert metrics["halts"] == 1
    assert metrics["derisk_events"] == int(((~events["halt"]) & (events["scale"] < 1)).sum()) >= 1
    html = (run_dir / "tearsheet.html").read_text()
    assert f'id="halt-banner">HALTED on 2008-10-07: {escape(reason)}' in html
    equity_chart = html.split('data-chart="equity"', 1)[1].split("</svg>", 1)[0]
    assert equity_chart.count('class="mark mark-halt"') == 1


def test_contribution_sums_to_the_runs_pnl(halted):
    run_dir, _ = halted
    perf = json.loads((run_dir / "performance.json").read_text())
    nav_end = float(pd.read_parquet(run_dir / "equity.parquet")["nav"].iloc[-1])
    assert sum(perf["contribution"].values()) == pytest.approx(nav_end - 1_000_000.0, rel=1e-9)
    assert perf["summary"]["round_trips"] > 0


def test_final_marks_are_each_symbols_last_finite_price():
    from types import SimpleNamespace

    from qt.evaluation.finish import final_marks

    marks = np.array([[10.0, 20.0, np.nan], [11.0, np.nan, np.nan], [12.0, np.nan, np.nan]])
    result = SimpleNamespace(panel=SimpleNamespace(mark_prices=marks, symbols=("A", "B", "C")))
    assert final_marks(result) == {"A": 12.0, "B": 20.0}  # C never priced: no mark


def test_contribution_of_a_run_ending_with_open_positions_sums_to_its_pnl(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "qt", "run", "data=synthetic", "data.n_assets=25", "data.n_days=400",
         "strategy.params.lookback=63", f"hydra.run.dir={tmp_path}"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    perf = json.loads((tmp_path / "performance.json").read_text())
    equity = pd.read_parquet(tmp_path / "equity.parquet")
    assert equity["gross_exposure"].iloc[-1] > 0.5  # the book is open at the end: final marks matter
    assert sum(perf["contribution"].values()) == pytest.approx(equity["nav"].iloc[-1] - 1_000_000.0, rel=1e-9)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["halted_at"] is None and metrics["halt_reason"] is None and metrics["derisk_events"] == 0
