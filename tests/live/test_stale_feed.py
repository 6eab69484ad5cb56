"""A feed that goes silent: no decision on stale prices, an alert, HALTED with the reason; SIGTERM still flushes.

The replay feed stops after ``live.stall_after`` bars, as a data connection that dies without a
word; ``live.guard.stale_after_s=0.5`` is how long the driver waits before calling the data stale.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest
from live_procs import LiveProcess, bars, qt, read, wait_for

from qt.enums import OrderStatus, TradingState
from qt.live.store import open_state_dir

pytestmark = pytest.mark.slow
STALL = 15
STALE = ("live.guard.stale_after_s=0.5",)


def test_a_silent_feed_halts_with_an_alert_denies_orders_and_sigterm_flushes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    live = LiveProcess(tmp_path, state, f"live.stall_after={STALL}", *STALE, name="stalled")
    try:
        wait_for(state, lambda s: s.trading_state().state is TradingState.HALTED, "the stale-data halt", proc=live)
        with open_state_dir(state) as store:
            status = store.trading_state()
            assert status.reason.startswith("stale data: no bar for ")
            assert status.reason.endswith("(stale_after_s 0.5)")
            assert bars(store) == STALL
            last_bar = store.last_bar()
            decision = store.last_decision()
            assert last_bar is not None and decision is not None
            assert decision.time == last_bar.time  # every bar decides here: the last one that came, and no later
            [alert] = [a for a in store.alerts() if a.payload["message"].startswith("stale data")]
            assert alert.payload["severity"] == "critical"
            assert "no new decision until bars arrive again" in alert.payload["message"]
            health = store.last_health()
            assert health is not None and health.kind == "feed_stale" and health.payload == {"reason": status.reason}
            assert status.cause == "stale_data"
            decisions = len(store.events(kinds=["decision"]))
            held = store.positions()
            assert held

        shown = qt("live", "status", "--state-dir", str(state), "--json", cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        report = json.loads(shown.stdout)
        assert report["health"]["stale"] is True
        assert report["trading_state"] == {
            "state": "halted",
            "cause": "stale_data",
            "reason": status.reason,
            "since": status.since.isoformat(),
        }
        text = qt("live", "status", "--state-dir", str(state), cwd=tmp_path, env={"COLUMNS": "80"})
        assert "STALE DATA" in text.stdout and "HALTED" in text.stdout

        # flatten on stale prices: the closing orders are stored and DENIED by qt with the reason, never sent
        assert qt("live", "flatten", "--state-dir", str(state), cwd=tmp_path).returncode == 0
        denied = wait_for(state, lambda s: s.orders(status=OrderStatus.DENIED), "the flatten denied", proc=live)
        assert {o.symbol for o in denied} == set(held)
        assert all(o.reason.startswith("stale data: no bar for ") for o in denied)
        with open_state_dir(state / "paper-broker") as book:
            assert not {o.client_order_id for o in denied} & {o.client_order_id for o in book.orders()}
        # ... and the driver halts again (the data is still stale) instead of trading
        wait_for(state, lambda s: s.trading_state().state is TradingState.HALTED, "halted again", proc=live)

        time.sleep(1.0)  # still silent: nothing new is decided
        assert read(state, lambda s: (len(s.events(kinds=["decision"])), bars(s))) == (decisions, STALL)
        assert read(state, lambda s: s.positions()) == held

        assert live.stop() == 0, live.output()  # SIGTERM while stale: stop, flush, exit 0
        equity = pd.read_parquet(state / "equity.parquet")
        assert len(equity) == STALL
        metrics = json.loads((state / "metrics.json").read_text())
        assert metrics["trading_state"] == "halted"
        assert metrics["trading_state_reason"].startswith("stale data: no bar for ")
        assert read(state, lambda s: s.integrity_check()) == []
    finally:
        live.kill()


def test_trading_resumes_by_itself_when_bars_arrive_again(tmp_path: Path) -> None:
    state = tmp_path / "state"
    stalled = LiveProcess(tmp_path, state, f"live.stall_after={STALL}", *STALE, name="stalled")
    try:
        wait_for(state, lambda s: s.trading_state().reason.startswith("stale data"), "the stale halt", proc=stalled)
        assert stalled.stop() == 0, stalled.output()
    finally:
        stalled.kill()
    decisions = read(state, lambda s: len(s.events(kinds=["decision"])))
    # the feed is back (a restart replays the rest of the data): fresh bars end the stale-data halt
    fresh = LiveProcess(tmp_path, state, *STALE, name="fresh")
    try:
        assert fresh.wait(60) == 0, fresh.output()
    finally:
        fresh.kill()
    with open_state_dir(state) as store:
        status = store.trading_state()
        assert status.state is TradingState.ACTIVE and status.reason == "fresh data: bars arrive again"
        assert any(a.payload["message"].startswith("fresh data") for a in store.alerts())
        assert decisions is not None and len(store.events(kinds=["decision"])) > decisions + 100
