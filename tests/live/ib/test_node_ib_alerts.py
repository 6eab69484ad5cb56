"""IB runs through the same live node as paper: its halts reach the reporters; an account holding positions with no store is refused.

A real `qt run mode=live broker=ib report=slack` process against the gateway simulator, which rejects
every order: one broker reject halts trading (``live.max_rejects=1``), the halt is recorded with its
cause and the webhook receives it, as it does for paper (tests/live/test_live_lock_and_alerts.py).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from ibharness import GatewayThread
from test_ib_process import qt_live, subscribed

from qt.data.sources.sample import SampleData
from qt.live.ibsim.script import Reject
from qt.live.store import EventKind, open_state_dir
from qt.testing.servers import webhook_server


def test_an_ib_halt_reaches_the_webhook_with_its_cause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sample = SampleData().load()
    lo, warm, live = 8200, 20, 3
    panel = sample.between(str(sample.timestamps[lo])[:10], str(sample.timestamps[lo + warm + live - 1])[:10])
    gt = GatewayThread(panel=panel, start=warm - 1)
    state = tmp_path / "state"
    proc = None
    with webhook_server() as received:
        try:
            gt.run(lambda: gt.gw.script.on_place(Reject(code=201, text="Order rejected - reason:test")))
            monkeypatch.setenv("QT_SLACK_WEBHOOK_URL", received.url + "/hook")
            proc = qt_live(
                gt, state, "strategy=xmom", "portfolio=equal", f"strategy.params.lookback={warm}",
                "strategy.params.skip=0", "strategy.params.frequency=daily", "report.tearsheet=false", "report=slack",
                "broker.warmup=1 Y", f"broker.stop_after_bars={live}", "live.max_rejects=1",
            )  # fmt: skip
            assert gt.wait_until(lambda: subscribed(gt, 20), timeout=60)
            for _ in range(live):
                gt.call(gt.gw.step(1))
                time.sleep(1.0)
            out, err = proc.communicate(timeout=90)
            assert proc.returncode == 0, out + err
            with open_state_dir(state) as store:
                halts = [e.payload for e in store.events(kinds=[EventKind.TRADING_STATE])]
            assert halts and halts[0]["state"] == "halted" and halts[0]["cause"] == "broker_rejects", halts
            texts = received.texts()
            assert any(
                "qt live halted: " in t and "broker rejects in 10 minutes (max_rejects 1)" in t for t in texts
            ), texts
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
            gt.stop()


def test_an_ib_account_with_positions_and_no_store_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    sample = SampleData().load()
    panel = sample.between(str(sample.timestamps[8200])[:10], str(sample.timestamps[8230])[:10])
    gt = GatewayThread(panel=panel, start=20)
    state = tmp_path / "state"
    try:
        gt.run(lambda: gt.gw.broker.set_position("AAPL", 100, 150.0))  # held before this run ever started
        proc = qt_live(gt, state, "strategy=xmom", "portfolio=equal", "report.tearsheet=false", "broker.warmup=1 Y")
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 2, out + err
        message = err.strip().splitlines()[-1]
        assert "is missing or empty, but the broker holds positions (AAPL 100)" in message
        assert "live.adopt_positions=true" in message and "Traceback" not in err
        assert not (state / "state.sqlite").exists() and not (state / "config.yaml").exists()
        assert gt.run(lambda: len(gt.gw.broker.orders)) == 0  # nothing was sent
    finally:
        gt.stop()
