"""The live-store contract, run on SQLite, PostgreSQL and Redis alike (the ``store`` fixture is parametrized)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from store_child import T0

from qt.enums import HaltCause, OrderStatus, OrderType, TradingState
from qt.live.journal import (
    Alert,
    BarRecorded,
    Connected,
    DecisionRecorded,
    ReconcileReport,
    Severity,
    TradingStateChanged,
)
from qt.live.store import (
    EventKind,
    FillRecord,
    LiveStore,
    OrderIntent,
    OrderUpdate,
    StoreError,
    UnknownOrderError,
)

NY = zoneinfo.ZoneInfo("America/New_York")


def intent(coid: str, symbol: str, qty: float, n: int = 0, at: dt.datetime = T0) -> OrderIntent:
    return OrderIntent(coid, "test-run", at, symbol, qty, intent_number=n)


def fill(exec_id: str, coid: str | None, symbol: str, qty: float, price: float, fees: float) -> FillRecord:
    return FillRecord(exec_id, coid, symbol, qty, price, fees, T0 + dt.timedelta(minutes=1))


def a_day(store: LiveStore) -> list[FillRecord]:
    """Deposit, two orders, three venue fills and one external fill; returns the fills."""
    store.deposit(10_000.0, reason="initial capital", time=T0)
    assert store.record_intent(intent("o-aapl", "AAPL", 10, 0))
    assert store.record_intent(intent("o-msft", "MSFT", -5, 1))
    store.record_order_update(OrderUpdate("o-aapl", OrderStatus.SUBMITTED, T0, broker_order_id="7"))
    store.record_order_update(OrderUpdate("o-msft", OrderStatus.SUBMITTED, T0, broker_order_id="12"))
    fills = [
        fill("e1", "o-aapl", "AAPL", 4, 100.0, 1.0),
        fill("e2", "o-aapl", "AAPL", 6, 101.0, 1.5),
        fill("e3", "o-msft", "MSFT", -5, 200.0, 2.0),
        fill("x1", None, "TSLA", 3, 50.0, 0.0),
    ]
    assert [store.record_fill(f) for f in fills] == [True] * 4
    return fills


def test_an_intent_is_stored_once(store: LiveStore) -> None:
    assert store.record_intent(intent("o1", "AAPL", 10))
    assert not store.record_intent(intent("o1", "AAPL", 10))
    assert not store.record_intent(intent("o1", "AAPL", 99))  # a replayed decision with another size: refused
    order = store.order("o1")
    assert order is not None
    assert (order.status, order.intent.quantity, order.filled) == (OrderStatus.NEW, 10.0, 0.0)
    assert [e.kind for e in store.events()] == [EventKind.INTENT]
    assert store.record_intents([intent("o1", "AAPL", 10), intent("o2", "MSFT", 3, 1)]) == [False, True]


def test_fills_are_booked_once_whatever_the_replays(store: LiveStore) -> None:
    fills = a_day(store)
    events = len(store.events())
    for _ in range(3):  # three reconnects replaying the same executions
        assert [store.record_fill(f) for f in fills] == [False] * 4
    assert len(store.events()) == events
    assert store.positions() == {"AAPL": 10.0, "MSFT": -5.0, "TSLA": 3.0}
    # 10,000 - (4*100 + 1) - (6*101 + 1.5) - (-5*200 + 2) - 3*50 = 9,839.5
    assert store.cash() == pytest.approx(9839.5, abs=1e-9)
    aapl = store.order("o-aapl")
    assert aapl is not None and aapl.status is OrderStatus.FILLED
    assert aapl.filled == 10.0 and aapl.avg_price == pytest.approx(100.6)  # (400 + 606) / 10
    assert [f.exec_id for f in store.fills()] == ["e1", "e2", "e3", "x1"]
    assert [f.exec_id for f in store.fills(client_order_id="o-aapl")] == ["e1", "e2"]
    assert store.fills()[3].source == "venue" and store.fills()[3].client_order_id is None


def test_order_life_cycle(store: LiveStore) -> None:
    store.record_intent(intent("o1", "AAPL", 10))
    assert store.record_order_update(OrderUpdate("o1", OrderStatus.SUBMITTED, T0, broker_order_id="41"))
    assert not store.record_order_update(OrderUpdate("o1", OrderStatus.SUBMITTED, T0))  # nothing new
    store.record_fill(fill("e1", "o1", "AAPL", 4, 100.0, 0.0))
    order = store.order("o1")
    assert order is not None
    assert (order.status, order.remaining, order.broker_order_id) == (OrderStatus.PARTIALLY_FILLED, 6.0, "41")
    assert store.record_order_update(OrderUpdate("o1", OrderStatus.CANCELLED, T0, reason="cancel-all"))
    assert not store.record_order_update(OrderUpdate("o1", OrderStatus.SUBMITTED, T0))  # final stays final
    cancelled = store.order("o1")
    assert cancelled is not None and (cancelled.status, cancelled.reason) == (OrderStatus.CANCELLED, "cancel-all")
    assert [o.client_order_id for o in store.orders(open_only=True)] == []
    store.record_intent(intent("o2", "MSFT", -3, 1))
    store.record_order_update(OrderUpdate("o2", OrderStatus.DENIED, T0, reason="max orders per minute"))
    assert [o.client_order_id for o in store.orders(status=OrderStatus.DENIED)] == ["o2"]
    assert [o.client_order_id for o in store.orders(status=[OrderStatus.DENIED, OrderStatus.CANCELLED])] == [
        "o1",
        "o2",
    ]


def test_lost_order_can_still_fill(store: LiveStore) -> None:
    store.record_intent(intent("o1", "AAPL", 10))
    store.record_order_update(OrderUpdate("o1", OrderStatus.LOST, T0, reason="3 queries unanswered"))
    store.record_fill(fill("e1", "o1", "AAPL", 10, 100.0, 0.0))
    order = store.order("o1")
    assert order is not None and order.status is OrderStatus.FILLED


def test_unknown_orders_are_refused_and_write_nothing(store: LiveStore) -> None:
    with pytest.raises(UnknownOrderError, match="'ghost'"):
        store.record_order_update(OrderUpdate("ghost", OrderStatus.SUBMITTED, T0))
    with pytest.raises(UnknownOrderError, match="client_order_id=None"):
        store.record_fill(fill("e1", "ghost", "AAPL", 1, 1.0, 0.0))
    store.record_intent(intent("o1", "AAPL", 10))
    with pytest.raises(StoreError, match="fill e2 is in MSFT but order 'o1' is in AAPL"):
        store.record_fill(fill("e2", "o1", "MSFT", 1, 1.0, 0.0))
    assert len(store.events()) == 1 and store.positions() == {} and store.fills() == []


def test_replaying_the_log_gives_the_snapshot(store: LiveStore) -> None:
    a_day(store)
    store.set_trading_state(TradingState.REDUCING, "drawdown", cause=HaltCause.DRAWDOWN_STOP, time=T0)
    store.record_decision(DecisionRecorded(3, (0.0, 0.0), (0.5, 0.0)), time=T0)
    store.record_bar(BarRecorded(3, 10_500.0, 9_839.5, 660.5, 660.5, 0.0), time=T0)
    store.record(Connected("127.0.0.1:4002", 178, False), time=T0)
    store.record(ReconcileReport(), time=T0)
    store.record_alert("halted on daily loss", severity="critical", time=T0)
    store.record_equity(10_500.0, 9_839.5, time=T0)
    assert [e.seq for e in store.events()] == list(range(1, 17))
    assert store.replay() == store.snapshot()
    assert store.integrity_check() == []
    assert store.rebuild_snapshot() == 16
    assert store.integrity_check() == []


def test_reads(store: LiveStore) -> None:
    a_day(store)
    decision = store.record_decision(DecisionRecorded(0, (0.0, 0.0), (0.5, -0.25)), time=T0)
    assert store.last_decision() == decision and store.last_decision().record.target == (0.5, -0.25)  # type: ignore[union-attr]
    assert store.last_bar() is None
    store.record_bar(BarRecorded(0, 10_000.0, 10_000.0, 0.0, 0.0, 0.0), time=T0)
    store.record_bar(BarRecorded(1, 10_100.0, 9_839.5, 260.5, 260.5, 0.0), time=T0 + dt.timedelta(days=1))
    last = store.last_bar()
    assert last is not None and (last.record.t, last.record.nav) == (1, 10_100.0)
    store.record_equity(10_000.0, 10_000.0, time=T0)
    store.record_equity(10_100.0, 9_839.5, time=T0 + dt.timedelta(days=1))
    assert [(p.equity, p.cash) for p in store.equity()] == [(10_000.0, 10_000.0), (10_100.0, 9_839.5)]
    store.record_alert("feed stalled")
    assert [a.record for a in store.alerts()] == [Alert("feed stalled", Severity.WARNING)]
    fills = store.events(since_seq=2, kinds=[EventKind.FILL])
    assert [e.record.exec_id for e in fills] == ["e1", "e2", "e3", "x1"]
    assert [e.record.exec_id for e in store.events(kinds=[FillRecord])] == ["e1", "e2", "e3", "x1"]
    assert [e.seq for e in store.events(since_seq=5, limit=2)] == [6, 7]
    assert store.max_broker_order_id() == 12  # "7" and "12": numerically, not as text
    meta = store.meta()
    assert (meta.run_name, meta.schema_version, meta.kind) == ("test-run", 2, store.kind)
    last = store.last_fill()
    assert last is not None and last.exec_id == "x1"


def test_summary_for_live_status(store: LiveStore) -> None:
    store.deposit(1_000.0, reason="initial capital", time=T0)
    store.record_intent(intent("o1", "AAPL", 10))
    store.record_intent(intent("o2", "MSFT", -2, 1))
    store.record_fill(fill("e1", "o1", "AAPL", 4, 100.0, 1.0))
    store.record_order_update(OrderUpdate("o2", OrderStatus.REJECTED, T0, reason="201: no shorting"))
    store.set_trading_state(TradingState.HALTED, "2 rejects in 5 minutes", cause=HaltCause.BROKER_REJECTS, time=T0)
    summary = store.summary()
    assert summary["trading_state"] == "halted" and summary["reason"] == "2 rejects in 5 minutes"
    assert summary["cause"] == "broker_rejects"
    assert summary["since"] == "2026-01-02T21:00:00+00:00"
    assert summary["positions"] == {"AAPL": 4.0} and summary["cash"] == 1_000.0 - 401.0
    assert [(o["client_order_id"], o["filled"], o["status"]) for o in summary["open_orders"]] == [
        ("o1", 4.0, "partially_filled")
    ]
    assert summary["last_decision"] is None and summary["events"] == 6


def test_max_broker_order_id_ignores_non_numeric_ids(store: LiveStore) -> None:
    assert store.max_broker_order_id() is None
    store.record_intent(intent("o1", "AAPL", 1))
    store.record_order_update(OrderUpdate("o1", OrderStatus.SUBMITTED, T0, broker_order_id="PAPER-9"))
    assert store.max_broker_order_id() is None


def test_trading_state_survives_reopen(opener) -> None:  # type: ignore[no-untyped-def]
    store = opener()
    assert store.trading_state().state is TradingState.ACTIVE
    since = dt.datetime(2026, 3, 2, 10, 0, tzinfo=NY)
    store.set_trading_state(TradingState.HALTED, "manual halt from ops", cause=HaltCause.OPERATOR, time=since)
    store.close()
    again = opener()
    assert not again.is_new
    status = again.trading_state()
    assert (status.state, status.reason, status.cause) == (TradingState.HALTED, "manual halt from ops",
                                                          HaltCause.OPERATOR)  # fmt: skip
    assert status.since == dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)  # EST is UTC-5
    with pytest.raises(StoreError, match="give a reason"):
        again.set_trading_state(TradingState.ACTIVE, "", cause=HaltCause.OPERATOR)


def test_times_are_stored_in_utc(store: LiveStore) -> None:
    at = dt.datetime(2026, 7, 1, 9, 30, tzinfo=NY)  # EDT: UTC-4
    store.record_intent(OrderIntent("o1", "test-run", at, "AAPL", 10, OrderType.LIMIT, 99.5))
    store.record_fill(FillRecord("e1", "o1", "AAPL", 10, 99.5, 0.0, dt.datetime(2026, 7, 1, 15, 0, tzinfo=NY)))
    order = store.order("o1")
    assert order is not None
    assert order.intent.decided_at == dt.datetime(2026, 7, 1, 13, 30, tzinfo=dt.UTC)
    assert order.intent.decided_at.utcoffset() == dt.timedelta(0)
    assert store.fills()[0].time.isoformat() == "2026-07-01T19:00:00+00:00"
    assert store.events()[0].time.isoformat() == "2026-07-01T13:30:00+00:00"
    assert store.integrity_check() == []
    with pytest.raises(StoreError, match="naive datetime"):
        store.record_bar(BarRecorded(0, 1.0, 1.0, 0.0, 0.0, 0.0), time=dt.datetime(2026, 7, 1, 9, 30))


def test_bad_payloads_are_refused(store: LiveStore) -> None:
    with pytest.raises(StoreError, match="not plain JSON"):
        store.record_decision(DecisionRecorded(0, (float("nan"),), (0.0,)), time=T0)
    with pytest.raises(StoreError, match="expected a qt.live.journal.BarRecorded"):
        store.record_bar({"t": 0}, time=T0)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="record_intent"):
        store.record(FillRecord("e1", None, "AAPL", 1, 1.0, 0.0, T0), time=T0)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="set_trading_state"):
        store.record(TradingStateChanged(TradingState.HALTED, "x", HaltCause.OPERATOR), time=T0)
    with pytest.raises(StoreError, match="severity 'loud'"):
        store.record_alert("x", severity="loud")
    with pytest.raises(StoreError, match="needs a limit price"):
        OrderIntent("o1", "r", T0, "AAPL", 1, OrderType.LIMIT)
    assert store.events() == []


def test_a_failed_batch_writes_nothing(store: LiveStore) -> None:
    store.record_intent(intent("o0", "AAPL", 1))
    with pytest.raises(RuntimeError, match="boom"), store.batch():
        store.record_intent(intent("o1", "AAPL", 10))
        store.record_fill(fill("e1", "o1", "AAPL", 10, 100.0, 1.0))
        assert store.order("o1") is not None  # visible inside the batch
        raise RuntimeError("boom")
    assert store.order("o1") is None and store.positions() == {} and len(store.events()) == 1
    with store.batch():
        store.record_intent(intent("o1", "AAPL", 10))
        store.record_fill(fill("e1", "o1", "AAPL", 4, 100.0, 1.0))
        store.record_fill(fill("e2", "o1", "AAPL", 6, 100.0, 1.0))
    assert store.positions() == {"AAPL": 10.0} and store.integrity_check() == []


def test_the_store_belongs_to_one_run(opener) -> None:  # type: ignore[no-untyped-def]
    opener()
    with pytest.raises(StoreError, match="belongs to run 'test-run', not 'other'"):
        opener(run_name="other")
    assert opener(run_name=None, create=False).meta().run_name == "test-run"


def test_opening_a_missing_store_without_create_fails(opener) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StoreError, match="no live state store"):
        opener(run_name=None, create=False)


def test_a_new_store_says_so(opener) -> None:  # type: ignore[no-untyped-def]
    first = opener()
    assert first.is_new and first.is_empty()
    first.deposit(1.0, reason="initial capital", time=T0)
    again = opener()
    assert not again.is_new and not again.is_empty()
