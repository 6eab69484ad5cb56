"""A live run reports as live, and ``qt tearsheet LIVE_DIR`` says what live cost against its backtest.

Real `qt run mode=live broker=paper` processes on small synthetic data (tests/live/paper_kit.py).
A paper replay is the backtest of its config byte for byte, so its cost is exactly zero on every
line; a replay with slippage and a halt, set beside the backtest without them, has its slippage,
fees and halt lines checked against a computation made here from the two runs' fill files.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from paper_kit import REPO, SMALL, ok, run_backtest, run_live

from qt.evaluation.live_cost import LINES

pytestmark = pytest.mark.slow
FILES = ("equity", "orders", "fills", "decisions", "weights", "events")


def tearsheet(*args: str) -> subprocess.CompletedProcess[str]:
    """`qt tearsheet ARGS`."""
    return subprocess.run([sys.executable, "-m", "qt", "tearsheet", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip


def cost(state: Path) -> dict:
    """live_cost.json's lines by key, with the total."""
    data = json.loads((state / "live_cost.json").read_text())
    return {**{x["key"]: x["value"] for x in data["lines"]}, "total": data["difference"]}


def test_a_paper_replay_reports_as_live_and_costs_nothing_against_its_backtest(tmp_path: Path) -> None:
    state = tmp_path / "paper"
    proc = ok(run_live(state, *SMALL, "portfolio=meanvar"))
    assert "qt live (paper) - synthetic" in proc.stdout and "qt backtest" not in proc.stdout
    assert "live loop" in proc.stdout and "decisions, median" in proc.stdout and "engine 0.000s" not in proc.stdout
    timings = json.loads((state / "manifest.json").read_text())["timings"]
    assert timings["bars"] == 160 and timings["decisions"] > 10 and timings["decision_ms"] > 0
    assert timings["loop_s"] > 0 and timings["engine_s"] >= timings["loop_s"]
    run_log = next((tmp_path).glob("hydra-*/*.log")).read_text()
    solves = [line for line in run_log.splitlines() if "optimizer:" in line]
    assert solves and "median 0.0 ms, max 0.0 ms" not in solves[0]

    ts = ok(tearsheet(str(state)))
    assert "what live cost" in ts.stdout
    for name in FILES:  # the backtest beside it is the replay's own run, value for value
        pd.testing.assert_frame_equal(pd.read_parquet(state / "backtest" / f"{name}.parquet"),
                                      pd.read_parquet(state / f"{name}.parquet"), check_exact=True)  # fmt: skip
    lines = cost(state)
    assert lines["total"] == 0.0 and all(lines[k] == 0.0 for k in LINES), lines
    html = (state / "tearsheet.html").read_text()
    assert "<h1>xmom — lookback 40, skip 5, quantile 0.5, weekly — live (paper) paper</h1>" in html
    assert "strategy: xmom" in html and "portfolio: meanvar" in html and "no .hydra/config.yaml" not in html
    assert 'id="live-cost"' in html

    plain = ok(tearsheet(str(state), "--no-vs-backtest"))
    assert "what live cost" not in plain.stdout and 'id="live-cost"' not in (state / "tearsheet.html").read_text()


def test_a_replay_from_live_start_is_compared_with_the_backtest_of_the_same_bars(tmp_path: Path) -> None:
    """Bars before live.start are history (warm-up) for live and for the backtest beside it: zero difference."""
    state = tmp_path / "paper"
    ok(run_live(state, *SMALL, "live.start=2000-04-03"))
    ok(tearsheet(str(state)))
    equity = pd.read_parquet(state / "equity.parquet")
    assert str(equity["timestamp"].iloc[0])[:10] == "2000-04-03"
    for name in FILES:
        pd.testing.assert_frame_equal(pd.read_parquet(state / "backtest" / f"{name}.parquet"),
                                      pd.read_parquet(state / f"{name}.parquet"), check_exact=True)  # fmt: skip
    assert all(v == 0.0 for v in cost(state).values())
    config = (state / "config.yaml").read_text()  # data that lacks the live bars: one error, exit 2
    (state / "config.yaml").write_text(config.replace("n_days: 160", "n_days: 100"))
    short = tearsheet(str(state))
    assert (
        short.returncode == 2
        and "data: the backtest's data" in short.stderr
        and "lacks 60 of the live run's" in short.stderr
    )
    assert "--no-vs-backtest" in short.stderr and "Traceback" not in short.stderr


def test_slippage_fees_and_a_halt_are_attributed_as_computed_from_the_fills(tmp_path: Path) -> None:
    """Live pays 20 bps of slippage and 5 bps of fees and halts on a 1% daily loss; the backtest pays neither."""
    config = (*SMALL, "data.n_days=400", "risk=conservative", "risk.post_trade.0.max_drawdown=0.9",
              "risk.post_trade.1.max_loss=0.01")  # fmt: skip
    backtest, state = tmp_path / "backtest", tmp_path / "paper"
    ok(run_backtest(backtest, *config))
    ok(run_live(state, *config, "slippage=fixed_bps", "slippage.bps=20", "costs=bps"))
    assert json.loads((state / "metrics.json").read_text())["trading_state"] == "halted"
    proc = ok(tearsheet(str(state), "--vs-backtest", str(backtest)))
    lines = cost(state)

    def keyed(folder: Path) -> pd.DataFrame:
        orders = pd.read_parquet(folder / "orders.parquet")[["order_id", "decided_at"]]
        fills = pd.read_parquet(folder / "fills.parquet").merge(orders, on="order_id")
        fills["q"] = np.where(fills["side"] == "buy", 1.0, -1.0) * fills["quantity"]
        return fills

    live, bt = keyed(state), keyed(backtest)
    both = live.merge(bt, on=["decided_at", "symbol"], suffixes=("_l", "_b"))
    same_bar = both[both["timestamp_l"] == both["timestamp_b"]]
    slippage = float((same_bar["q_l"] * (same_bar["price_b"] - same_bar["price_l"])).sum())
    assert slippage < 0 and lines["slippage"] == pytest.approx(slippage, rel=1e-9)
    assert lines["fees"] == pytest.approx(float(bt["fees"].sum() - live["fees"].sum()), rel=1e-9)
    assert lines["fees"] < 0

    marks = json.loads((state / "performance.json").read_text())["final_marks"]
    events = pd.read_parquet(state / "events.parquet")  # a daily loss: de-risks a backtest, halts live
    halted_at = events.loc[events["kind"] == "daily_loss", "timestamp"].min()
    after = bt[bt["decided_at"] > halted_at]
    live_keys = set(zip(live["decided_at"], live["symbol"], strict=True))
    unmatched = after[[k not in live_keys for k in zip(after["decided_at"], after["symbol"], strict=True)]]
    halts = -float((unmatched["q"] * (unmatched["symbol"].map(marks) - unmatched["price"])).sum())
    assert len(unmatched) > 0 and lines["halts"] == pytest.approx(halts, rel=1e-9)

    nav = lambda f: float(pd.read_parquet(f / "equity.parquet")["nav"].iloc[-1])  # noqa: E731
    assert lines["total"] == pytest.approx(nav(state) - nav(backtest), rel=1e-12)
    assert sum(lines[k] for k in LINES) == pytest.approx(lines["total"], abs=1e-6)
    assert abs(lines["residual"]) < 1e-6 and "halts" in proc.stdout


def test_live_bar_seconds_must_be_positive_and_not_beside_speed(tmp_path: Path) -> None:
    bad = run_live(tmp_path / "a", *SMALL, "live.bar_seconds=0")
    assert bad.returncode == 2 and "live.bar_seconds" in bad.stderr and "greater than 0" in bad.stderr
    both = run_live(tmp_path / "b", *SMALL, "live.bar_seconds=0.1", "live.speed=60")
    assert both.returncode == 2 and "live.speed or live.bar_seconds" in both.stderr
    assert "Traceback" not in bad.stderr + both.stderr and not (tmp_path / "a" / "equity.parquet").exists()


def test_a_paced_replay_shows_bars_with_a_total_rate_and_time_left_on_a_terminal(tmp_path: Path) -> None:
    """160 bars at 0.02 s a bar take 3.2 s (the pace is kept against the clock) and show `k/160 bars`."""
    main, child = pty.openpty()
    args = ["run", "mode=live", "broker=paper", *SMALL, "live.bar_seconds=0.02", f"live.state_dir={tmp_path / 's'}",
            f"hydra.run.dir={tmp_path / 'h'}"]  # fmt: skip
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160"}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "qt", *args], cwd=REPO, stdin=child, stdout=child, stderr=child,
                            env=env, close_fds=True)  # fmt: skip
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=120)
    os.close(main)
    text = b"".join(chunks).decode(errors="replace")
    assert code == 0, text
    assert "live (paper)" in text and "/160" in text and "bars/s" in text and "left" in text
    timings = json.loads((tmp_path / "s" / "manifest.json").read_text())["timings"]
    assert 159 * 0.02 <= timings["engine_s"] < 159 * 0.02 + 10.0 and time.monotonic() - started >= 3.18


def test_an_ib_run_reports_as_live_and_its_cost_adds_up(tmp_path: Path) -> None:
    """`qt run mode=live broker=ib` against `qt ib-gateway` (the sample, a bar a second): the same live report."""
    gateway = subprocess.Popen([sys.executable, "-m", "qt", "ib-gateway", "--port", "0", "--data", "sample",
                                "--bar-interval", "1"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)  # fmt: skip
    try:
        assert gateway.stdout is not None
        first = gateway.stdout.readline()
        port = first.split("127.0.0.1:")[1].split()[0]
        state = tmp_path / "ib"
        proc = subprocess.run(
            [sys.executable, "-m", "qt", "run", "mode=live", "broker=ib", f"broker.port={port}",
             "broker.stop_after_bars=5", "strategy.params.frequency=weekly", f"live.state_dir={state}",
             f"hydra.run.dir={tmp_path / 'h'}"], cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)
    ok(proc)
    assert "qt live (ib) - sp500_20" in proc.stdout and "live loop" in proc.stdout and "over 5 bars" in proc.stdout
    manifest = json.loads((state / "manifest.json").read_text())
    assert manifest["mode"] == "live" and manifest["broker"] == "ib" and manifest["choices"]["strategy"] == "xmom"
    assert manifest["timings"]["engine_s"] > 0 and manifest["timings"]["bars"] == 5
    assert (state / "stress.json").is_file()
    ok(tearsheet(str(state)))  # the gateway replays the sample: the backtest beside it runs on the same bars
    lines = cost(state)
    assert sum(lines[k] for k in LINES) == pytest.approx(lines["total"], abs=1e-6) and abs(lines["residual"]) < 1e-6
    html = (state / "tearsheet.html").read_text()
    assert "— live (ib) ib</h1>" in html and 'id="live-cost"' in html
