"""The live-store contract, run on SQLite, PostgreSQL and Redis alike (the ``store`` fixture is parametrized)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
import zoneinfo
from pathlib import Path

import numpy as np
import pytest
from store_child import T0, settings_of
from v1_fixture import plant_v1, raw

from qt.enums import HaltCause, OrderStatus, OrderType, TradingState
from qt.live.journal import (
    Alert,
    BarRecorded,
    CashMoved,
    Connected,
    DecidedOrders,
    DecisionRecorded,
    EquityRecorded,
    FeedStale,
    HistoryOrigin,
    OperatorRequest,
    ReconcileReport,
    RecordedFills,
    Request,
    RequestHandled,
    Severity,
    TradingStateChanged,
    decode,
)
from qt.live.store import (
    DamagedStoreError,
    EventKind,
    FillRecord,
    LiveStore,
    OrderIntent,
    OrderUpdate,
    SchemaVersionError,
    StoreError,
    UnknownOrderError,
    open_from_settings,
)
from qt.live.store.redis_store import RedisStore
from qt.live.store.sql import SqlStore
from qt.risk.stops.base import RiskEvent
from qt.types import SolveReport

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
    assert store.last_seq() == store.events()[-1].seq == 15
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
    with pytest.raises(StoreError, match=r"expected a qt\.live\.journal\.BarRecorded"):
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


def test_held_writes_are_committed_by_sync(opener) -> None:  # type: ignore[no-untyped-def]
    """Group commit: held writes are read at once by this store object, by others after ``sync``."""
    writer = opener()
    writer.deposit(10_000.0, reason="initial capital", time=T0)
    looker = opener(run_name=None, create=False)
    assert writer.holds_writes is isinstance(writer, SqlStore)  # Redis reads the server: it commits every write
    writer.hold()
    assert writer.holding is writer.holds_writes
    writer.record_intent(intent("o1", "AAPL", 10))
    writer.record_fill(fill("e1", "o1", "AAPL", 10, 100.0, 1.0))
    writer.record_bar(BarRecorded(0, 10_000.0, 8_999.0, 1_000.0, 1_000.0, 1_000.0), time=T0)
    assert writer.positions() == {"AAPL": 10.0} and writer.cash() == 10_000.0 - 1_001.0
    assert writer.order("o1").status is OrderStatus.FILLED and writer.last_bar().record.t == 0  # type: ignore[union-attr]
    seen = looker.positions()
    assert seen == ({} if writer.holds_writes else {"AAPL": 10.0})
    writer.sync()
    assert looker.positions() == {"AAPL": 10.0} and looker.last_bar() is not None
    assert writer.holding is writer.holds_writes  # sync commits; holding goes on until release
    writer.record_alert("held, then released", time=T0)
    writer.release()
    assert not writer.holding
    assert [a.record.message for a in looker.alerts()] == ["held, then released"]
    writer.hold()
    writer.record_alert("held at close", time=T0)
    writer.close()  # closing commits what is held
    assert [a.record.message for a in looker.alerts()] == ["held, then released", "held at close"]
    assert looker.integrity_check() == []


def test_a_sync_inside_a_batch_waits_for_the_batch(opener) -> None:  # type: ignore[no-untyped-def]
    """A sync asked for inside a batch (a cancel routed while a bar is recorded) commits when the batch ends."""
    writer = opener()
    looker = opener(run_name=None, create=False)
    writer.hold()
    with writer.batch():
        writer.record_alert("first of the batch", time=T0)
        writer.sync()
        assert looker.alerts() == [] or not writer.holds_writes  # the batch is not cut in two
        writer.record_alert("second of the batch", time=T0)
    assert [a.record.message for a in looker.alerts()] == ["first of the batch", "second of the batch"]
    writer.release()


def test_a_failed_write_inside_a_hold_rolls_the_group_back(store: LiveStore) -> None:
    """A write that fails in a held group drops the whole group (as a crash would), never part of a write."""
    store.record_intent(intent("o0", "AAPL", 1))
    store.hold()
    store.record_intent(intent("o1", "AAPL", 10))
    with pytest.raises(RuntimeError, match="boom"), store.batch():
        store.record_fill(fill("e1", "o1", "AAPL", 10, 100.0, 1.0))
        raise RuntimeError("boom")
    assert store.fills() == [] and store.positions() == {}  # the failed batch: gone on every backend
    assert (store.order("o1") is None) is store.holds_writes  # the held group with it (Redis: committed before)
    store.record_alert("after the failure", time=T0)
    store.release()
    assert store.alerts()[-1].record.message == "after the failure" and store.integrity_check() == []


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


# -- the typed journal ------------------------------------------------------------------------
REFUSED = RecordedFills(3, 3, (0, 1), (10.0, -4.0), ("filled", "rejected"), (101.5, 0.0), (1.25, 0.0),
                        ("", "201: no shorting"))  # fmt: skip
STOP = RiskEvent(4, "drawdown_stop", "drawdown 12.0% beyond 10.0%", 0.0, True, 5)


def every_entry() -> list[object]:
    """One record of every journal class, with every optional field set somewhere."""
    return [
        CashMoved(100_000.0, "initial capital"),
        Connected("127.0.0.1:4002", 178, False),
        HistoryOrigin("2025-01-02T00:00:00.000000"),
        ReconcileReport(
            1,
            ("MSFT-2",),
            ("AAPL-0",),
            ("FOREIGN-7",),
            {"AAPL": (10.0, 12.0)},
            False,
            {"MSFT": 113.0},
            ("0001f4e8.01",),
        ),
        DecisionRecorded(
            3,
            (0.0, 0.0),
            (0.5, -0.25),
            {"var": 0.0125, "cvar": None},
            SolveReport("optimal", "CLARABEL", ("clip",), 4.5),
            DecidedOrders((0, 1), (10.0, -4.0), ("", "max position")),
            REFUSED,
        ),
        DecisionRecorded(4, (0.5, -0.25), (0.5, -0.25)),
        BarRecorded(3, 99_998.75, 98_983.75, 1_015.0, 1_015.0, 1_015.0, (REFUSED,), 100_000.0, 9),
        BarRecorded(4, 99_000.0, 98_983.75, 16.25, -16.25, 0.0),
        EquityRecorded(99_998.75, 98_983.75),
        Alert("drawdown_stop: drawdown 12.0% beyond 10.0%", Severity.CRITICAL, STOP),
        Alert("duplicate client order id AAPL-1: refused", Severity.CRITICAL, None, "AAPL-1"),
        Alert("fresh data: bars arrive again; trading resumes", Severity.INFO),
        OperatorRequest(Request.FLATTEN, "flatten from the command line by ops"),
        RequestHandled(13, "flatten routed"),
        FeedStale("stale data: no bar within 5 s"),
    ]


def test_every_journal_class_round_trips(opener) -> None:  # type: ignore[no-untyped-def]
    store = opener()
    entries = every_entry()
    for i, entry in enumerate(entries):
        store.record(entry, time=T0 + dt.timedelta(minutes=i))  # type: ignore[arg-type]
    change = store.set_trading_state(TradingState.HALTED, "stale data", cause=HaltCause.STALE_DATA, time=T0)
    typed = [intent("o1", "AAPL", 10), OrderUpdate("o1", OrderStatus.SUBMITTED, T0, broker_order_id="7"),
             FillRecord("e1", "o1", "AAPL", 10, 101.5, 1.25, T0)]  # fmt: skip
    store.record_intent(typed[0])  # type: ignore[arg-type]
    store.record_order_update(typed[1])  # type: ignore[arg-type]
    store.record_fill(typed[2])  # type: ignore[arg-type]
    store.close()
    again = opener()  # a new connection: every record decoded from what the backend stored
    expected = [*entries, TradingStateChanged(TradingState.HALTED, "stale data", HaltCause.STALE_DATA), *typed]
    assert [e.record for e in again.events()] == expected
    assert [type(e.record) for e in again.events()] == [type(r) for r in expected]
    assert again.trading_state() == change
    assert [e.record for e in again.events(kinds=[OperatorRequest, RequestHandled])] == entries[12:14]
    assert again.last_health().record == FeedStale("stale data: no bar within 5 s")  # type: ignore[union-attr]
    assert again.last_reconcile().record == entries[3]  # type: ignore[union-attr]
    assert again.last_bar().record == entries[7] and again.last_decision().record == entries[5]  # type: ignore[union-attr]
    assert [a.record for a in again.alerts()] == entries[9:12]
    assert again.integrity_check() == []


def test_journal_records_convert_to_what_the_engine_uses() -> None:
    batch = REFUSED.to_batch()
    assert batch.orders.assets.dtype == np.intp and batch.prices.tolist() == [101.5, 0.0]
    assert RecordedFills.from_batch(batch) == REFUSED
    decision = every_entry()[4]
    assert isinstance(decision, DecisionRecorded)
    figures = decision.risk_figures()
    assert figures["var"] == 0.0125 and np.isnan(figures["cvar"])
    assert decision.order_batch(7).decided_at == 7 and decision.order_batch(7).quantities.tolist() == [10.0, -4.0]
    with pytest.raises(StoreError, match="a bar event does not decode"):
        decode(EventKind.BAR, {"t": 1})


# -- schema version 1 -> 2 -----------------------------------------------------------------------
def _t(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


V1_BATCH = RecordedFills(3, 3, (0, 1), (10.0, -4.0), ("filled", "rejected"), (101.5, 0.0), (1.25, 0.0),
                         ("", "201: no shorting"))  # fmt: skip
V1_RECORDS = [  # what qt 1 wrote (data/make_v1_stores.py), read by hand into today's journal
    CashMoved(100_000.0, "initial capital"),
    Connected("127.0.0.1:4002", 178, False),
    HistoryOrigin("2025-01-02T00:00:00.000000"),
    ReconcileReport(0, (), (), ("FOREIGN-7",), {}, False),
    Alert("foreign order FOREIGN-7 at the broker: reported, left alone"),
    DecisionRecorded(
        3,
        (0.0, 0.0),
        (0.5, -0.25),
        {"var": 0.0125, "cvar": None},
        SolveReport("optimal", "CLARABEL", ("clip",)),
        DecidedOrders((0, 1), (10.0, -4.0), ("", "max position")),
        V1_BATCH,
    ),
    OrderIntent("AAPL-1", "v1-run", _t(1), "AAPL", 10.0),
    OrderIntent("MSFT-1", "v1-run", _t(1), "MSFT", -4.0, intent_number=1),
    OrderUpdate("AAPL-1", OrderStatus.SUBMITTED, _t(1), broker_order_id="7"),
    OrderUpdate("MSFT-1", OrderStatus.REJECTED, _t(1), reason="201: no shorting"),
    FillRecord("exec-1", "AAPL-1", "AAPL", 10.0, 101.5, 1.25, _t(2)),
    BarRecorded(3, 99_998.75, 98_983.75, 1_015.0, 1_015.0, 1_015.0, (V1_BATCH,), 100_000.0, None),
    EquityRecorded(99_998.75, 98_983.75),
    Alert(
        "drawdown_stop: drawdown 12.0% beyond 10.0%",
        Severity.WARNING,
        RiskEvent(4, "drawdown_stop", "drawdown 12.0% beyond 10.0%", 0.0, True),
    ),
    TradingStateChanged(TradingState.HALTED, "drawdown_stop: drawdown 12.0% beyond 10.0%", HaltCause.DRAWDOWN_STOP),
    TradingStateChanged(TradingState.ACTIVE, "trading resumes", HaltCause.NONE),
    TradingStateChanged(TradingState.REDUCING, "flatten from the command line by ops", HaltCause.OPERATOR),
    OperatorRequest(Request.FLATTEN, "flatten from the command line by ops"),
    RequestHandled(18, "flatten routed"),
    FeedStale("stale data: no bar within 5 s"),
    TradingStateChanged(TradingState.HALTED, "stale data: no bar within 5 s", HaltCause.STALE_DATA),
    Alert("stale data: no bar within 5 s: no new decision until bars arrive again", Severity.CRITICAL),
    Alert("duplicate client order id AAPL-1: refused", Severity.CRITICAL, None, "AAPL-1"),
    TradingStateChanged(TradingState.HALTED, "3 broker rejects in 5 minutes (max_rejects 3)", HaltCause.BROKER_REJECTS),
    ReconcileReport(1, ("MSFT-2",), (), (), {"AAPL": (10.0, 12.0)}, False),
]


def test_a_v1_store_is_migrated_in_place(spec, opener) -> None:  # type: ignore[no-untyped-def]
    plant_v1(spec)
    store = opener(run_name="v1-run")
    assert not store.is_new and store.meta().schema_version == 2
    events = store.events()
    assert [e.record for e in events] == V1_RECORDS
    assert [e.seq for e in events] == list(range(1, 26))  # the same sequence numbers ...
    assert events[-1].time == _t(10) and events[0].time == _t(0)  # ... and times
    status = store.trading_state()
    assert (status.state, status.cause, status.since) == (TradingState.HALTED, HaltCause.BROKER_REJECTS, _t(9))
    assert store.positions() == {"AAPL": 10.0} and store.cash() == 100_000.0 - (10 * 101.5 + 1.25)
    assert store.last_health().record == FeedStale("stale data: no bar within 5 s")  # type: ignore[union-attr]
    assert [a.record for a in store.alerts()] == [V1_RECORDS[i] for i in (4, 13, 21, 22)]
    assert store.integrity_check() == []
    store.close()
    before = raw(spec)
    again = opener(run_name="v1-run")  # already version 2: nothing migrated twice
    assert [e.record for e in again.events()] == V1_RECORDS and raw(spec) == before


def test_a_v1_store_qt_1_never_wrote_is_refused_and_left_as_it_was(spec, opener) -> None:  # type: ignore[no-untyped-def]
    plant_v1(spec)
    if spec["kind"] == "redis":
        import redis

        client = redis.Redis.from_url(spec["url"], decode_responses=True)
        event = json.loads(client.lindex(f"{spec['namespace']}:events", 1))
        client.lset(f"{spec['namespace']}:events", 1, json.dumps({**event, "payload": {"feed": "ok"}}))
        client.close()
    elif spec["kind"] == "postgres":
        import psycopg

        with psycopg.connect(spec["dsn"], autocommit=True) as conn:
            conn.execute(f'UPDATE {spec["namespace"]}.events SET payload = \'{{"feed": "ok"}}\' WHERE seq = 2')
    else:
        import sqlite3

        with contextlib.closing(sqlite3.connect(f"{spec['state_dir']}/state.sqlite")) as conn, conn:
            conn.execute('UPDATE events SET payload = \'{"feed":"ok"}\' WHERE seq = 2')
    before = raw(spec)
    with pytest.raises(SchemaVersionError, match=r"schema version 1\) cannot be migrated: event 2 \(health\)"):
        opener(run_name="v1-run")
    assert raw(spec) == before


def test_a_read_only_look_at_a_v1_store_writes_nothing(spec, opener) -> None:  # type: ignore[no-untyped-def]
    plant_v1(spec)
    before = raw(spec)
    with pytest.raises(StoreError, match="schema version 1; it is migrated to 2 when opened for writing"):
        open_from_settings(settings_of(spec), state_dir=spec["state_dir"], run_name=None, create=False,
                           read_only=True)  # fmt: skip
    assert raw(spec) == before


# -- foreign and damaged state ---------------------------------------------------------------------
def test_someone_elses_state_is_refused_untouched(spec, opener) -> None:  # type: ignore[no-untyped-def]
    if spec["kind"] == "sqlite":
        import sqlite3

        Path(spec["state_dir"]).mkdir(parents=True)
        with contextlib.closing(sqlite3.connect(f"{spec['state_dir']}/state.sqlite")) as conn, conn:
            conn.execute("CREATE TABLE people (name TEXT)")
            conn.execute("INSERT INTO people VALUES ('ada')")
    elif spec["kind"] == "postgres":
        import psycopg

        with psycopg.connect(spec["dsn"], autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {spec['namespace']}")
            conn.execute(f"CREATE TABLE {spec['namespace']}.people (name TEXT)")
    else:
        import redis

        client = redis.Redis.from_url(spec["url"], decode_responses=True)
        client.set(f"{spec['namespace']}:people", "ada")
        client.close()
    before = raw(spec)
    with pytest.raises(DamagedStoreError, match=r"not a qt live state store.*people.*changed nothing"):
        opener()
    assert raw(spec) == before


def test_a_store_missing_its_log_is_refused_untouched(spec, opener) -> None:  # type: ignore[no-untyped-def]
    store = opener()
    store.deposit(1_000.0, reason="initial capital", time=T0)
    if isinstance(store, SqlStore):
        store._run("DROP TABLE events", [])
    else:
        assert isinstance(store, RedisStore)
        store._r.delete(store._key("events"))
    store.close()
    before = raw(spec)
    with pytest.raises(DamagedStoreError, match=r"damaged: .*events.*missing"):
        opener()
    assert raw(spec) == before


# -- threads (an event loop's asyncio.to_thread) ------------------------------------------------------
def test_worker_threads_share_one_store(store: LiveStore) -> None:
    """Eight threads, each writing 20 one-transaction bursts (intent + fill) and reading between them."""
    store.deposit(1_000_000.0, reason="initial capital", time=T0)

    def worker(w: int) -> None:
        for i in range(20):
            with store.batch():
                cid = f"w{w}-{i}"
                store.record_intent(intent(cid, "AAPL", 1.0, n=100 * w + i))
                store.record_fill(fill(f"x-{cid}", cid, "AAPL", 1.0, 100.0, 0.0))
            assert store.order(cid) is not None and store.fills(client_order_id=cid)

    async def main() -> None:
        await asyncio.gather(*(asyncio.to_thread(worker, w) for w in range(8)))

    asyncio.run(main())
    assert store.positions() == {"AAPL": 160.0} and store.cash() == 1_000_000.0 - 160 * 100.0
    kinds = [e.kind for e in store.events()]
    assert len(kinds) == 1 + 8 * 20 * 2 and store.integrity_check() == []
    # each burst is contiguous in the log: no thread's write landed inside another's transaction
    pairs = [e.record for e in store.events()[1:]]
    assert all(a.client_order_id == b.client_order_id for a, b in zip(pairs[::2], pairs[1::2], strict=True))


def test_reads_of_some_kinds_after_a_point(store: LiveStore) -> None:
    """What the control loop polls: the few requests after a seq number, among hundreds of bars."""
    with store.batch():
        for i in range(600):
            store.record_bar(BarRecorded(i, 1.0, 1.0, 0.0, 0.0, 0.0), time=T0)
            if i in (10, 300, 590):
                store.record(OperatorRequest(Request.FLATTEN, f"request {i}"), time=T0)
    everything = store.events()
    assert len(everything) == 603 and store.last_seq() == 603

    def expected(kinds: set[EventKind], since: int, limit: int | None = None) -> list[int]:
        seqs = [e.seq for e in everything if e.kind in kinds and e.seq > since]
        return seqs if limit is None else seqs[:limit]

    for since in (0, 11, 12, 302, 593, 603):
        got = store.events(since_seq=since, kinds=[OperatorRequest])
        assert [e.seq for e in got] == expected({EventKind.REQUEST}, since)
        assert [e.record.reason for e in got] == [
            everything[q - 1].record.reason for q in expected({EventKind.REQUEST}, since)
        ]
        assert [e.seq for e in store.events(since_seq=since, kinds=[OperatorRequest], limit=1)] == expected(
            {EventKind.REQUEST}, since, 1
        )
    both = {EventKind.BAR, EventKind.REQUEST}
    assert [e.seq for e in store.events(since_seq=100, kinds=both, limit=70)] == expected(both, 100, 70)
    assert [e.seq for e in store.events(since_seq=250, kinds=[BarRecorded])] == expected({EventKind.BAR}, 250)
    assert [e.seq for e in store.events(since_seq=600, limit=2)] == [601, 602]
    assert store.events(limit=0) == [] and store.integrity_check() == []


def test_a_look_from_another_process_neither_waits_for_nor_sees_an_open_write(opener) -> None:  # type: ignore[no-untyped-def]
    """`qt live status` (snapshot, replay, integrity check) while the live process is inside a transaction."""
    writer = opener()
    a_day(writer)
    looker = opener(run_name=None, create=False)
    with writer.batch():
        writer.record_alert("inside an open transaction", time=T0)
        started = time.monotonic()
        assert looker.integrity_check() == []
        assert looker.snapshot().alerts == [] and looker.replay().positions == {"AAPL": 10.0, "MSFT": -5.0, "TSLA": 3.0}
        assert time.monotonic() - started < 2.0  # the writers' lock is held: a look that took it would wait 20 s
    assert [a.record.message for a in looker.alerts()] == ["inside an open transaction"]
