"""Real `qt run mode=live broker=ib` processes against a gateway simulator running in this test (its own thread)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import PARSE_ERRORS
from ibharness import GatewayThread

from qt.data.sources.sample import SampleData
from qt.enums import OrderStatus
from qt.live.ibsim.script import Rest
from qt.live.store.sqlite import SqliteStore

REPO = Path(__file__).resolve().parents[3]
DAILY = (
    "strategy=xmom", "portfolio=equal", "strategy.params.lookback=5", "strategy.params.skip=0",
    "strategy.params.frequency=daily", "report.tearsheet=false",
)  # fmt: skip


def qt_live(
    gt: GatewayThread, state: Path, *overrides: str, fault: str | None = None, account: str | None = None
) -> subprocess.Popen[str]:
    """Start `qt run mode=live broker=ib` on the simulator of ``gt`` (in the background)."""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_FAULT", "QT_IB_ACCOUNT")}
    if fault:
        env["QT_FAULT"] = fault
    if account:
        env["QT_IB_ACCOUNT"] = account
    args = ["run", "mode=live", "broker=ib", f"broker.port={gt.gw.port}", "broker.client_id=7",
            "broker.bar_settle_s=0.5", "live.run_name=ibrun", f"live.state_dir={state}",
            f"hydra.run.dir={state.parent / ('hydra-' + uuid.uuid4().hex[:8])}", *overrides]  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "qt", *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def subscribed(gt: GatewayThread, n: int) -> bool:
    """qt's session subscribed to the real-time bars of all ``n`` symbols (it is ready for a live bar)."""
    return any(len(s.real_time_bars) >= n for s in gt.gw.sessions if s.client_id == 7)  # run on the gateway's loop


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out + err


def no_decoder_errors(folder: Path) -> None:
    """The qt processes' ib_async logged no decoder error (their run.log files hold every record)."""
    logs = list(folder.rglob("*.log"))
    assert logs
    for log in logs:
        bad = [line for line in log.read_text().splitlines()
               if "[ib_async.decoder]" in line or (PARSE_ERRORS.search(line) and "[ib_async" in line)]  # fmt: skip
        assert not bad, f"{log}: ib_async decoder/parsing errors:\n" + "\n".join(bad)


@pytest.fixture(scope="module")
def sample() -> Any:
    return SampleData().load()


def test_sigkill_after_send_before_fill_books_the_fill_once_after_restart(sample: Any, tmp_path: Path) -> None:
    gt = GatewayThread(panel=sample, start=-30)
    gw = gt.gw
    state = tmp_path / "state"
    try:
        gt.run(gw.script.on_place, Rest())  # acknowledged, left working: qt dies before any fill
        proc = qt_live(gt, state, *DAILY, "broker.warmup=1 M", "broker.stop_after_bars=1",
                       fault="router.after_submit")  # fmt: skip
        assert gt.wait_until(lambda: subscribed(gt, 20), timeout=60), finish(proc, 5)
        gt.call(gw.step(1))
        code, text = finish(proc)
        assert code == -signal.SIGKILL, text
        working = gt.run(lambda: [o.order_ref for o in gw.broker.working_orders()])
        assert working, "the decision's orders reached the gateway before qt died"
        for ref in working:  # the gateway fills them while qt is down
            gt.run(gw.fill, order_ref=ref)
        gt.run(gw.script.clear)
        proc = qt_live(gt, state, *DAILY, "broker.warmup=1 M", "broker.stop_after_bars=1")
        assert gt.wait_until(lambda: subscribed(gt, 20), timeout=60), finish(proc, 5)
        gt.call(gw.step(1))
        code, text = finish(proc)
        assert code == 0, text
        assert gt.wait_until(lambda: not gw.broker.working_orders(), timeout=10)
        store = SqliteStore(path=state / "state.sqlite", create=False)
        try:
            for ref in working:
                fills = store.fills(client_order_id=ref)
                assert len(fills) == 1, ref  # recorded once
                order = store.order(ref)
                whole = float(np.floor(abs(order.intent.quantity) + 1e-9))
                assert abs(order.filled) == whole == abs(fills[0].quantity)
                if whole == abs(order.intent.quantity):
                    assert order.status is OrderStatus.FILLED
                else:  # IB trades whole shares: the sub-share remainder was never sent
                    assert order.status is OrderStatus.CANCELLED and "below one whole share" in order.reason
            execs = gt.run(lambda: sorted(e.exec_id for e in gw.broker.executions))
            assert sorted(f.exec_id for f in store.fills()) == execs
            broker_pos = gt.run(lambda: {s: p.quantity for s, p in gw.broker.positions.items()})
            assert store.positions() == pytest.approx(broker_pos)
            assert set(gt.run(gw.record.placements_per_ref).values()) == {1}  # exactly one placement per orderRef
            assert store.trading_state().state.value == "active"
            store.replay()  # the log rebuilds the snapshot
        finally:
            store.close()
        no_decoder_errors(tmp_path)
    finally:
        gt.stop()


def test_paper_over_ib_places_the_orders_of_the_backtest(sample: Any, tmp_path: Path) -> None:
    """The sample's bars replayed through the simulator at full speed: the same orders as `qt run` on them."""
    lo, warm, live = 8200, 20, 32  # the last bar, 2022-09-30, ends a week (a backtest also decides on its last bar)
    panel = sample.between(str(sample.timestamps[lo])[:10], str(sample.timestamps[lo + warm + live - 1])[:10])
    start, end = str(panel.timestamps[0])[:10], str(panel.timestamps[-1])[:10]
    config = ("strategy=xmom", "portfolio=equal", f"strategy.params.lookback={warm}", "strategy.params.skip=0",
              "strategy.params.frequency=weekly", "report.tearsheet=false", f"start={start}", f"end={end}")  # fmt: skip
    gt = GatewayThread(panel=panel, start=warm - 1)  # "now" is the last warm-up bar: momentum needs 20 bars back
    gw = gt.gw
    state = tmp_path / "state"
    try:
        account = gt.gw.broker.account  # the paper account's id, given as $QT_IB_ACCOUNT: never written anywhere
        proc = qt_live(gt, state, *config, "broker.warmup=1 Y", f"broker.stop_after_bars={live}",
                       "broker.whole_shares=false", account=account)  # fmt: skip
        assert gt.wait_until(lambda: subscribed(gt, 20), timeout=60), finish(proc, 5)
        store = SqliteStore(path=state / "state.sqlite", create=False)
        for k in range(live):
            gt.call(gw.step(1))
            day = np.datetime64(str(panel.timestamps[warm + k])[:10], "us")
            assert _wait(lambda day=day: _bar_done(store, day) and _all_placed(store, gt), timeout=60), _why(
                store, gt, day, proc
            )
        code, text = finish(proc)
        assert code == 0, text
        assert account not in text
        written = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert any(p.name == "config.yaml" for p in written) and any(p.suffix == ".log" for p in written)
        assert not [p for p in written if account.encode() in p.read_bytes()]
        no_decoder_errors(tmp_path)
        intents = {(o.intent.decided_at.date(), o.symbol): o.intent.quantity for o in store.orders()}
        fees = sum(f.fees for f in store.fills())
        store.close()
        bt = tmp_path / "backtest"
        run = subprocess.run([sys.executable, "-m", "qt", "run", *config, f"hydra.run.dir={bt}"], cwd=REPO,
                             capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        orders = pd.read_parquet(bt / "orders.parquet")
        expected = {(pd.Timestamp(r.decided_at).date(), r.symbol): float(r.quantity) * (1 if r.side == "buy" else -1)
                    for r in orders.itertuples()}  # fmt: skip
        assert len(expected) > 10
        assert sorted(intents) == sorted(expected)
        closes = {(str(t)[:10], s): float(panel.close[i, j]) for i, t in enumerate(panel.timestamps)
                  for j, s in enumerate(panel.symbols)}  # fmt: skip
        assert 0 < fees < 1_000
        for (day, symbol), q in expected.items():
            # the only difference: IB's commissions (the backtest runs costs=none) lower NAV, and so each target,
            # by at most what was paid in total; an order's value can differ by no more than that
            assert np.sign(intents[day, symbol]) == np.sign(q)
            assert abs(intents[day, symbol] - q) * closes[str(day), symbol] <= fees, (day, symbol)
    finally:
        gt.stop()


def _wait(predicate: Any, timeout: float) -> bool:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def _bar_done(store: SqliteStore, day: np.datetime64) -> bool:
    last = store.last_bar()
    return last is not None and np.datetime64(last.time.replace(tzinfo=None), "us") >= day


def _why(store: SqliteStore, gt: GatewayThread, day: np.datetime64, proc: Any) -> str:
    """What the wait saw: the last bar recorded, qt's orders by status, the gateway's orders and working ones."""
    last = store.last_bar()
    statuses: dict[str, int] = {}
    for o in store.orders():
        statuses[o.status.value] = statuses.get(o.status.value, 0) + 1
    at_gateway = gt.run(lambda: (len(gt.gw.broker.orders), len(gt.gw.broker.working_orders())))
    alive = proc.poll() is None
    return f"waiting for {day}: last bar {last.time if last else None}, qt orders {statuses}, gateway {at_gateway}, alive {alive}"


def _all_placed(store: SqliteStore, gt: GatewayThread) -> bool:
    """Every order qt stored has reached the gateway and is done there (filled at the bar it was decided on)."""
    sent = [o for o in store.orders() if o.status is not OrderStatus.DENIED]
    return bool(gt.run(lambda: len(gt.gw.broker.orders) >= len(sent) and not gt.gw.broker.working_orders()))
