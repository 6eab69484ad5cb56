"""``qt live halt|resume|flatten`` from a second process against a running ``qt run mode=live broker=paper``.

Every test drives real processes and reads what they recorded: qt's state store, the paper
broker's own book (the broker side of every order), and the result files. Orders rest until
the next bar's open (execution=next_open) so that there is something open to cancel; a feed
that goes silent after N bars (live.stall_after) pins the moment a request is applied.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
from pathlib import Path

import pandas as pd
import pytest
from live_procs import LiveProcess, as_dict, bar_every, bars, qt, read, wait_for

from qt.enums import OrderStatus, TradingState
from qt.live.store import open_state_dir

pytestmark = pytest.mark.slow
STALL = 20  # bars before the replay feed goes silent


def _broker(state: Path) -> Path:
    return state / "paper-broker"


def _resting(state: Path, proc: LiveProcess) -> list[str]:
    """Wait until the feed stalls after STALL bars with orders resting at the broker; their client order ids."""
    wait_for(state, lambda s: bars(s) == STALL and s.orders(open_only=True), "the feed stalled", proc=proc)
    ids = read(state, lambda s: [o.client_order_id for o in s.orders(open_only=True)])
    assert ids
    broker_open = read(_broker(state), lambda b: {o.client_order_id for o in b.orders(open_only=True)})
    assert broker_open == set(ids)  # the broker holds them too, waiting for an open that never comes
    return ids


def test_halt_cancels_open_orders_stops_trading_survives_a_restart_and_resume_trades_again(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = LiveProcess(tmp_path, state, "execution=next_open", f"live.stall_after={STALL}", name="first")
    second = None
    try:
        resting = _resting(state, first)
        done = qt("live", "halt", "--state-dir", str(state), "--reason", "risk desk says stop", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"HALTED {state}: risk desk says stop (halt from the command line by ")

        # the running process cancels every open order at the broker within a fraction of a second (no bar comes)
        wait_for(state, lambda s: not s.orders(open_only=True), "the cancels booked", proc=first)
        with open_state_dir(state) as store:
            for cid in resting:
                order = store.order(cid)
                assert order is not None and order.status is OrderStatus.CANCELLED, as_dict(order)
                assert order.reason.startswith("halted: risk desk says stop"), as_dict(order)
                assert store.fills(client_order_id=cid) == []
            status = store.trading_state()
            assert status.state is TradingState.HALTED
        with open_state_dir(_broker(state)) as book:
            assert {book.order(cid).status for cid in resting} == {OrderStatus.CANCELLED}  # type: ignore[union-attr]

        assert first.stop() == 0, first.output()
        metrics = json.loads((state / "metrics.json").read_text())
        assert metrics["trading_state"] == "halted"
        assert metrics["trading_state_reason"].startswith("risk desk says stop")

        # a restart finds the run halted: bars are recorded, nothing is decided or sent
        before = read(state, lambda s: (len(s.events(kinds=["decision"])), len(s.orders()), bars(s)))
        assert before is not None
        decisions, orders, seen = before
        second = LiveProcess(tmp_path, state, "execution=next_open", bar_every(0.25), name="second")
        wait_for(state, lambda s: bars(s) >= seen + 4, "four bars while halted", proc=second)
        with open_state_dir(state) as store:
            assert store.trading_state() == status  # the same state, reason and time: persisted, not re-set
            assert len(store.events(kinds=["decision"])) == decisions
            assert len(store.orders()) == orders
            for cid in resting:  # the next opens came and went: the cancelled orders never filled
                assert store.fills(client_order_id=cid) == []
            sent = sum(o.status is not OrderStatus.DENIED for o in store.orders())
        with open_state_dir(_broker(state)) as book:
            assert len(book.orders()) == sent  # nothing new reached the broker

        shown = qt("live", "status", "--state-dir", str(state), "--json", cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        report = json.loads(shown.stdout)
        assert report["trading_state"]["state"] == "halted"
        assert report["trading_state"]["reason"] == status.reason
        assert report["open_orders"] == []

        resumed_at = read(state, bars)
        assert qt("live", "resume", "--state-dir", str(state), cwd=tmp_path).returncode == 0
        # the next decision trades again: new orders reach the broker and fill at the following open
        wait_for(
            state, lambda s: any(f.time > _bar_time(s, resumed_at) for f in s.fills()), "a fill after resume",
            proc=second,
        )  # fmt: skip
        with open_state_dir(state) as store:
            assert store.trading_state().state is TradingState.ACTIVE
            assert len(store.events(kinds=["decision"])) > decisions
            new = [o for o in store.orders() if o.client_order_id not in _ids_before(store, orders)]
            assert new and all(o.status is not OrderStatus.DENIED for o in new)
        with open_state_dir(_broker(state)) as book:
            assert {o.client_order_id for o in new} <= {o.client_order_id for o in book.orders()}
        assert second.stop() == 0, second.output()
        decided = pd.read_parquet(state / "decisions.parquet")
        assert len(decided) > decisions
    finally:
        first.kill()
        if second is not None:
            second.kill()


def _bar_time(store, n: int) -> dt.datetime:  # type: ignore[no-untyped-def]
    """The market time of the n-th recorded bar (1-based)."""
    return store.events(kinds=["bar"])[n - 1].time


def _ids_before(store, n: int) -> set[str]:  # type: ignore[no-untyped-def]
    """The client order ids of the first ``n`` orders recorded."""
    intents = store.events(kinds=["intent"])[:n]
    return {e.payload["client_order_id"] for e in intents}


def test_flatten_from_another_process_closes_every_position_through_the_guard(tmp_path: Path) -> None:
    state = tmp_path / "state"
    live = LiveProcess(tmp_path, state, bar_every(0.25), name="live")
    try:
        wait_for(state, lambda s: len(s.positions()) >= 2, "positions held", proc=live)
        done = qt("live", "flatten", "--state-dir", str(state), "--reason", "end of rehearsal", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"REDUCING {state}: flatten requested (end of rehearsal (flatten from")
        wait_for(state, lambda s: not s.positions(), "every position closed", proc=live)
        with open_state_dir(state) as store:
            assert store.trading_state().state is TradingState.REDUCING
            [alert] = [e.payload["message"] for e in store.alerts() if e.payload["message"].startswith("flatten:")]
            health = store.last_health()
            assert health is not None and health.kind == "request_handled"
            assert health.payload["outcome"] == "flatten routed"
            decisions, seen = len(store.events(kinds=["decision"])), bars(store)
        with open_state_dir(_broker(state)) as book:  # the broker agrees: flat
            assert book.positions() == {}
        # REDUCING: bars keep coming, no new decision, nothing re-opened
        wait_for(state, lambda s: bars(s) >= seen + 3, "three more bars", proc=live)
        with open_state_dir(state) as store:
            assert store.positions() == {}
            assert len(store.events(kinds=["decision"])) == decisions
        assert live.stop() == 0, live.output()
        # the result files: one closing order per symbol held, filled, after which every symbol nets to zero
        orders = pd.read_parquet(state / "orders.parquet")
        closing = orders[orders["reason"] == "flatten requested"]
        assert alert == f"flatten: {len(closing)} closing orders routed"
        assert len(closing) >= 2 and closing["symbol"].is_unique and (closing["status"] == "filled").all()
        fills = pd.read_parquet(state / "fills.parquet")
        signed = fills["quantity"].where(fills["side"] == "buy", -fills["quantity"])
        net = signed.groupby(fills["symbol"]).sum()
        assert (net.abs() < 1e-6).all(), net  # the result files agree: every share bought was sold again
    finally:
        live.kill()


def test_requests_made_while_no_process_runs_apply_at_the_next_start(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = LiveProcess(tmp_path, state, "execution=next_open", f"live.stall_after={STALL}", name="first")
    procs = [first]
    try:
        resting = _resting(state, first)
        assert first.stop() == 0, first.output()  # cancel_on_exit is false: the orders stay working at the broker
        assert read(_broker(state), lambda b: len(b.orders(open_only=True))) == len(resting)

        assert qt("live", "halt", "--state-dir", str(state), cwd=tmp_path).returncode == 0
        second = LiveProcess(tmp_path, state, "execution=next_open", "live.stall_after=3", name="second")
        procs.append(second)
        wait_for(state, lambda s: bars(s) >= STALL + 3, "three bars after the restart", proc=second)
        with open_state_dir(state) as store:  # cancelled at the start, before the first open could fill them
            for cid in resting:
                order = store.order(cid)
                assert order is not None and order.status is OrderStatus.CANCELLED, as_dict(order)
                assert order.reason.startswith("halted: halt from the command line by "), as_dict(order)
                assert store.fills(client_order_id=cid) == []
            held = store.positions()
            assert held and store.trading_state().state is TradingState.HALTED
        assert second.stop() == 0, second.output()

        assert qt("live", "flatten", "--state-dir", str(state), cwd=tmp_path).returncode == 0
        third = LiveProcess(tmp_path, state, "execution=next_open", name="third")  # to the data's end, at max speed
        procs.append(third)
        assert third.wait(60) == 0, third.output()
        with open_state_dir(state) as store:
            assert store.positions() == {}
            assert store.trading_state().state is TradingState.REDUCING
            flattened = [
                o for o in store.orders() if o.intent.decided_at == store.events(kinds=["bar"])[STALL + 3].time
            ]
            assert {o.symbol for o in flattened} == set(held)
            assert all(o.status is OrderStatus.FILLED for o in flattened)
            assert store.integrity_check() == []
        with open_state_dir(_broker(state)) as book:
            assert book.positions() == {}
    finally:
        for proc in procs:
            proc.kill()


def test_sigterm_and_sigint_stop_cancel_open_orders_flush_and_exit_0(tmp_path: Path) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        state = tmp_path / f"state-{sig.name}"
        live = LiveProcess(tmp_path, state, "execution=next_open", bar_every(0.25), "live.cancel_on_exit=true",
                           name=sig.name)  # fmt: skip
        try:
            wait_for(state, lambda s: s.orders(open_only=True) and len(s.fills()) >= 4, "orders resting", proc=live)
            assert live.stop(sig) == 0, live.output()
        finally:
            live.kill()
        with open_state_dir(state) as store:
            assert store.orders(open_only=True) == []
            last = store.last_bar()
            assert last is not None
            cancelled = [o for o in store.orders() if o.status is OrderStatus.CANCELLED]
            assert cancelled and all(o.reason == "cancelled on shutdown" for o in cancelled)
            assert all(o.intent.decided_at == last.time for o in cancelled)  # the last decision's orders
            assert store.integrity_check() == []
            n_bars = bars(store)
        with open_state_dir(_broker(state)) as book:
            assert book.orders(open_only=True) == []
        # flushed: the result files cover every recorded bar, and the run stopped early
        equity = pd.read_parquet(state / "equity.parquet")
        assert len(equity) == n_bars < 200
        assert (state / "metrics.json").exists()
