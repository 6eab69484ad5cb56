"""The order router over the real paper broker and a real SQLite store: ids, idempotency, fills, cancels, LOST.

No process and no fake: the router, the guard, the paper broker with its own book and qt's
store, in ``tmp_path``, stepped bar by bar in the driver's order. Expected ids, prices and fees
are worked out here (sha256 of the id's inputs; price x quantity x bps), not read from the code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from paper_kit import RUN_NAME, SYMBOLS, Desk, alerts, desk, placements

from qt.enums import Field, FillTiming, OrderStatus
from qt.execution.costs import BpsCosts
from qt.execution.simulator import ExecutionSimulator
from qt.execution.slippage import FixedBps
from qt.live.broker import BrokerOrder, Execution
from qt.live.history import BarRow
from qt.live.paper.broker import PaperBroker
from qt.live.recovery import reconcile
from qt.live.router import RoutedVenue
from qt.live.store import EventKind, OrderIntent, client_order_id
from qt.testing.panels import daily_panel
from qt.types import OrderBatch


@pytest.fixture
def close_desk(tmp_path: Path) -> Iterator[Desk]:
    """A desk filling at the decision bar's close, without costs."""
    d = desk(tmp_path)
    yield d
    d.close()


def restarted(d: Desk) -> RoutedVenue:
    """A router as a restarted process builds it: same store and broker, nothing in memory."""
    r = RoutedVenue(broker=d.broker, store=d.store, guard=d.router.guard, symbols=SYMBOLS, run_name=RUN_NAME)
    r.new_bar(d.router.bar_time, d.router.last_prices)
    return r


def expected_id(when: dt.datetime, symbol: str, n: int) -> str:
    digest = hashlib.sha256(f"{RUN_NAME}|{when.isoformat(timespec='microseconds')}|{symbol}|{n}".encode()).hexdigest()
    return f"{symbol}-{when:%Y%m%dT%H%M%S}-{n}-{digest[:10]}"


def test_client_ids_are_derived_from_run_time_symbol_and_intent_number_and_stored_before_sending(
    close_desk: Desk,
) -> None:
    d = close_desk
    when = d.bar([100, 50, 20, 10, 5])
    batches = d.send([0, 0, 2], [10, -4, 7])  # two orders in AAA at one bar: intent numbers 0 and 1
    ids = [expected_id(when, "AAA", 0), expected_id(when, "AAA", 1), expected_id(when, "CCC", 0)]
    assert ids[0] == client_order_id(RUN_NAME, when, "AAA", 0)
    assert sorted(o.client_order_id for o in d.store.orders()) == sorted(ids)
    assert sorted(placements(d.broker.book)) == sorted(ids)
    for cid in ids:  # the intent is in the log before the broker's acknowledgement
        seqs = {(e.kind.value, e.payload.get("status")): e.seq for e in d.store.events()
                if e.payload.get("client_order_id") == cid}  # fmt: skip
        assert seqs[("intent", None)] < seqs[("order_update", "submitted")] < seqs[("fill", None)]
    filled = {(int(a), float(q), float(p)) for b in batches for a, q, p in zip(b.orders.assets, b.orders.quantities,
                                                                              b.prices, strict=True)}  # fmt: skip
    assert filled == {(0, 10.0, 100.0), (0, -4.0, 100.0), (2, 7.0, 20.0)}
    assert d.store.positions() == {"AAA": 6.0, "CCC": 7.0} == d.broker.positions()
    assert d.store.cash() == pytest.approx(1e6 - 600 - 140, abs=1e-9)


def test_the_same_decision_submitted_again_after_a_restart_sends_nothing(close_desk: Desk) -> None:
    d = close_desk
    d.bar([100, 50, 20, 10, 5])
    d.send([0, 1], [10, 20])
    again = restarted(d)
    again.submit(_orders([0, 1], [10, 20], d.t), d.t)
    assert again.poll(d.t) == []
    assert set(placements(d.broker.book).values()) == {1} and len(placements(d.broker.book)) == 2
    assert d.store.positions() == {"AAA": 10.0, "BBB": 20.0}


def test_an_intent_never_sent_is_marked_not_sent_then_sent_exactly_once_with_an_alert(close_desk: Desk) -> None:
    d = close_desk
    when = d.bar([100, 50, 20, 10, 5])
    cid = expected_id(when, "BBB", 0)
    d.store.record_intent(OrderIntent(cid, RUN_NAME, when, "BBB", 30.0))  # stored, then the process died
    found = reconcile(d.store, d.broker, adopt=False, now=when)
    assert found.not_sent == [cid] and d.store.order(cid).status is OrderStatus.NOT_SENT  # type: ignore[union-attr]
    router = restarted(d)
    router.submit(_orders([1], [30.0], d.t), d.t)
    assert [(int(b.orders.assets[0]), float(b.prices[0])) for b in router.poll(d.t)] == [(1, 50.0)]
    assert any(cid in m and "never reached the broker" in m for m in alerts(d.store))
    for _ in range(2):  # a second and a third restart of the same decision: nothing more is sent
        r = restarted(d)
        r.submit(_orders([1], [30.0], d.t), d.t)
        r.poll(d.t)
    assert placements(d.broker.book) == {cid: 1}
    assert d.store.positions() == {"BBB": 30.0} == d.broker.positions()


def test_fills_are_booked_once_per_execution_id_through_repeated_recoveries(close_desk: Desk) -> None:
    d = close_desk
    when = d.bar([100, 50, 20, 10, 5])
    d.send([0, 3], [10, -5])
    for _ in range(3):  # three reconnects/restarts in a row: the broker reports every execution again
        assert reconcile(d.store, d.broker, adopt=False, now=when).fills_booked == 0
    exec_ids = [f.exec_id for f in d.store.fills()]
    assert len(exec_ids) == 2 == len(set(exec_ids))
    assert d.store.positions() == {"AAA": 10.0, "DDD": -5.0}
    assert d.store.integrity_check() == [] and d.broker.book.integrity_check() == []


def test_a_repeated_client_id_is_refused_by_the_paper_broker_and_visible_in_its_book(close_desk: Desk) -> None:
    d = close_desk
    d.bar([100, 50, 20, 10, 5])
    order = BrokerOrder("X-1", "AAA", 10.0)
    d.broker.place(order)
    d.broker.place(order)
    assert placements(d.broker.book) == {"X-1": 2}  # what the crash tests count
    assert d.broker.positions() == {"AAA": 10.0}  # filled once
    assert len(d.broker.executions()) == 1


def test_next_open_fills_at_the_next_bars_open_with_fees(tmp_path: Path) -> None:
    d = desk(tmp_path, timing="next_open", bps=5.0)
    try:
        d.bar([100, 50, 20, 10, 5])
        assert d.send([0, 1], [10, -20]) == []  # nothing fills at the decision bar
        assert {o.status for o in d.store.orders()} == {OrderStatus.SUBMITTED}
        d.bar([104, 52, 20, 10, 5], open_=[101, 49, 20, 10, 5])
        (batch,) = d.router.poll(d.t)
        assert batch.orders.decided_at == 0 and batch.filled_at == 1
        assert batch.prices.tolist() == [101.0, 49.0]
        np.testing.assert_allclose(batch.fees, [10 * 101 * 5e-4, 20 * 49 * 5e-4], rtol=1e-12)
        assert d.store.positions() == {"AAA": 10.0, "BBB": -20.0}
        assert d.store.cash() == pytest.approx(1e6 - 1010 + 980 - 0.505 - 0.49, abs=1e-9)
    finally:
        d.close()


def test_a_cancel_qt_asks_for_carries_its_reason(tmp_path: Path) -> None:
    d = desk(tmp_path, timing="next_open")
    try:
        d.bar([100, 50, 20, 10, 5])
        d.send([2], [40])
        d.router.cancel_open(d.t, "superseded by drawdown_stop")
        (batch,) = d.router.poll(d.t)
        assert batch.status.tolist() == ["cancelled"] and batch.reasons.tolist() == ["superseded by drawdown_stop"]
        (order,) = d.store.orders()
        assert order.status is OrderStatus.CANCELLED and order.reason == "superseded by drawdown_stop"
        assert d.broker.book.order(order.client_order_id).status is OrderStatus.CANCELLED  # type: ignore[union-attr]
        d.bar([100, 50, 20, 10, 5])
        assert d.router.poll(d.t) == [] and d.store.positions() == {}  # a cancelled order never fills
    finally:
        d.close()


def test_an_order_the_broker_never_acknowledges_is_lost_after_n_queries_and_never_resubmitted(tmp_path: Path) -> None:
    d = desk(tmp_path / "a", timing="next_open")
    try:
        d.bar([100, 50, 20, 10, 5])
        d.router.submit(_orders([4], [100], d.t), d.t)
        (order,) = d.store.orders()
        d.broker.updates()  # the acknowledgement never arrives ...
        # ... and the broker loses the order: the router now talks to a broker whose book never received it.
        amnesiac = PaperBroker.open(execution=d.broker.execution, symbols=SYMBOLS, state_dir=tmp_path / "b",
                                    capital=1e6, run_name=RUN_NAME)  # fmt: skip
        d.router.broker = amnesiac
        start = d.router._unacked[order.client_order_id].last_seen
        timeout = d.router.settings.ack_timeout_s
        assert d.router.check_acks(start + timeout / 2) == []  # not overdue yet: not even queried
        lost = [d.router.check_acks(start + k * timeout * 1.01) for k in (1, 2, 3)]
        assert lost == [[], [], [order.client_order_id]]
        assert d.store.order(order.client_order_id).status is OrderStatus.LOST  # type: ignore[union-attr]
        assert any(order.client_order_id in m and "lost" in m for m in alerts(d.store))
        assert placements(amnesiac.book) == {}  # never resubmitted
        amnesiac.close()
    finally:
        d.close()


def test_every_event_is_in_the_log_so_replaying_it_rebuilds_the_snapshot(close_desk: Desk) -> None:
    d = close_desk
    for prices in ([100, 50, 20, 10, 5], [101, 49, 21, 10, 6]):
        d.bar(prices)
        d.send([0, 1, 4], [3, -2, 50])
    assert d.store.replay() == d.store.snapshot()
    assert [e.kind for e in d.store.events(kinds=[EventKind.FILL])] == [EventKind.FILL] * 6


@pytest.mark.parametrize("timing", ["close", "next_open"])
def test_the_paper_broker_fills_with_the_backtests_fill_model(tmp_path: Path, timing: str) -> None:
    """Same orders, same bar: the paper broker's prices and fees are the simulator's, and both are the hand values.

    Slippage 20 bps, fees 10 bps with a $1 minimum. Buy 10 AAA at 100: 100 x 1.002 = 100.2, fee
    10 x 100.2 x 0.001 = 1.002. Sell 3 BBB at 50: 50 x 0.998 = 49.9, fee 0.1497 -> the $1 minimum.
    EEE has no price at the fill bar: cancelled, with the reason the backtest gives.
    """
    model = ExecutionSimulator(timing=FillTiming(timing), slippage=FixedBps(bps=20), costs=BpsCosts(bps=10, min_fee=1))
    fill_row = [100.0, 50.0, 20.0, 10.0, np.nan]  # the fill bar's close (timing close) or open (next_open)
    other = [90.0, 45.0, 18.0, 9.0, 4.0]
    if timing == "close":
        panel = daily_panel([fill_row], open_=[other])
    else:
        panel = daily_panel([other, other], open_=[other, fill_row])
    orders = OrderBatch(0, np.array([0, 1, 4], np.intp), np.array([10.0, -3.0, 7.0]))
    t = 0 if timing == "close" else 1
    simulated = model.fill(orders, t, panel)
    assert simulated.prices.tolist() == pytest.approx([100.2, 49.9, 0.0], rel=1e-15)
    assert simulated.fees.tolist() == pytest.approx([1.002, 1.0, 0.0], rel=1e-15)

    broker = PaperBroker.open(execution=model, symbols=SYMBOLS, state_dir=tmp_path, capital=1e6, run_name=RUN_NAME)
    try:
        for k in range(panel.n_bars):
            broker.on_bar(BarRow(panel.timestamps[k], {f: panel.fields[f][k] for f in (Field.OPEN, Field.CLOSE)}))
            if k == 0:
                assert broker.place_many([BrokerOrder(f"o{a}", SYMBOLS[a], float(q))
                                          for a, q in zip(orders.assets, orders.quantities, strict=True)]) == {}  # fmt: skip
        news = broker.updates()
        paper = {x.client_order_id: (x.price, x.fees) for x in news if isinstance(x, Execution)}
        assert paper == {"o0": (simulated.prices[0], simulated.fees[0]), "o1": (simulated.prices[1], simulated.fees[1])}
        cancelled = broker.order("o4")
        assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED
        assert cancelled.reason == simulated.reasons[2] == f"no {model.price_field.value} price at the fill bar"
    finally:
        broker.close()


def test_a_burst_is_one_transaction_of_the_paper_book(close_desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """A burst that fails after the book took two of its orders leaves none in the book (as a kill would).

    Recovery then finds every intent of the burst unknown to the broker: NOT_SENT, each sent once after.
    """
    d = close_desk
    when = d.bar([100, 50, 20, 10, 5])
    taken = []

    def crash(name: str) -> None:
        if name == "broker.mid_burst":
            taken.append(name)
            if len(taken) == 2:
                raise KeyboardInterrupt("killed mid-burst")

    monkeypatch.setattr("qt.live.paper.broker.fault_point", crash)
    with pytest.raises(KeyboardInterrupt):
        d.router.submit(_orders([0, 1, 2], [10, 20, 30], d.t), d.t)
    cids = [expected_id(when, s, 0) for s in ("AAA", "BBB", "CCC")]
    assert [d.store.order(c).status for c in cids] == [OrderStatus.NEW] * 3  # type: ignore[union-attr]
    assert placements(d.broker.book) == {} and d.broker.positions() == {}
    monkeypatch.undo()
    found = reconcile(d.store, d.broker, adopt=False, now=when)
    assert sorted(found.not_sent) == sorted(cids)
    router = restarted(d)
    router.submit(_orders([0, 1, 2], [10, 20, 30], d.t), d.t)
    router.poll(d.t)
    assert placements(d.broker.book) == dict.fromkeys(cids, 1)
    assert d.store.positions() == {"AAA": 10.0, "BBB": 20.0, "CCC": 30.0} == d.broker.positions()


def _orders(assets: list[int], quantities: list[float], t: int) -> OrderBatch:
    """A decision's orders at bar t."""
    return OrderBatch(t, np.asarray(assets, np.intp), np.asarray(quantities, float))
