"""Reconciliation at start, with real processes: what changed at the broker while qt was down.

A first `qt run mode=live broker=paper` stops at ``end=2000-05-31`` (the feed ends); the test then
changes the paper broker's own book as a broker would while qt is down; the restart (without
``end``) continues from the next bar. A position qt cannot explain halts trading with a report
naming the symbol, and nothing is sent, unless ``live.adopt_positions=true`` books it as external.
A foreign open order is reported and left alone.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from paper_kit import SMALL, alerts, close_enough, ok, open_book, open_store, placements, run_live

from qt.enums import OrderStatus, TradingState
from qt.live.store import EventKind, FillRecord, OrderIntent, OrderUpdate

pytestmark = pytest.mark.slow
WHILE_DOWN = dt.datetime(2000, 6, 1, 3, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder whose run stopped at the end of May 2000 holding a book (S1 not held)."""
    state = tmp_path_factory.mktemp("first") / "state"
    ok(run_live(state, *SMALL, "end=2000-05-31"))
    store = open_store(state)
    try:
        assert store.positions() and "S1" not in store.positions()
        assert store.trading_state().state is TradingState.ACTIVE
    finally:
        store.close()
    return state


@pytest.fixture
def stopped(first_run: Path, tmp_path: Path) -> Path:
    """A copy of the first run's state folder (stores, WAL files and all) for one test."""
    return Path(shutil.copytree(first_run, tmp_path / "state"))


def external_fill(state: Path, symbol: str, quantity: float) -> None:
    """A fill at the broker that qt never sent (a manual trade in the account, say)."""
    book = open_book(state)
    try:
        assert book.record_fill(
            FillRecord("manual-1", None, symbol, quantity, 50.0, 0.0, WHILE_DOWN, source="external")
        )
    finally:
        book.close()


def test_a_position_changed_at_the_broker_halts_with_a_report_and_sends_nothing(stopped: Path) -> None:
    external_fill(stopped, "S1", 123.0)
    before = placements(open_book(stopped))
    ok(run_live(stopped, *SMALL))
    store, book = open_store(stopped), open_book(stopped)
    try:
        status = store.trading_state()
        assert status.state is TradingState.HALTED
        assert "reconciliation" in status.reason and "S1: qt 0 vs broker 123" in status.reason
        assert any("S1: qt 0 vs broker 123" in m and "adopt_positions" in m for m in alerts(store))
        assert store.last_reconcile().payload["breaks"] == {"S1": [0.0, 123.0]}  # type: ignore[union-attr]
        assert placements(book) == before  # not one order reached the broker after the restart
        assert all(o.status is not OrderStatus.NEW for o in store.orders())
        assert "S1" not in store.positions() and book.positions()["S1"] == 123.0
        later = [e for e in store.events(kinds=[EventKind.BAR]) if e.time.date() > dt.date(2000, 5, 31)]
        assert later, "the restarted run processed no bar"
        assert not [e for e in store.events(kinds=[EventKind.DECISION]) if e.time.date() > dt.date(2000, 5, 31)]
    finally:
        store.close()
        book.close()


def test_with_adopt_positions_the_broker_position_is_booked_external_and_trading_goes_on(stopped: Path) -> None:
    external_fill(stopped, "S1", 123.0)
    before = placements(open_book(stopped))
    ok(run_live(stopped, *SMALL, "live.adopt_positions=true"))
    store, book = open_store(stopped), open_book(stopped)
    try:
        assert store.trading_state().state is TradingState.ACTIVE
        external = [f for f in store.fills() if f.source == "external"]
        assert [(f.symbol, f.quantity) for f in external] == [("S1", 123.0)]
        assert any("adopted" in m and "S1" in m for m in alerts(store))
        after = placements(book)
        assert set(after) > set(before) and all(n == 1 for n in after.values())  # trading continued
        assert close_enough(store.positions(), book.positions())
        assert store.integrity_check() == [] and book.integrity_check() == []
    finally:
        store.close()
        book.close()


def test_a_foreign_order_is_reported_and_left_alone(stopped: Path) -> None:
    book = open_book(stopped)
    try:
        book.record_intent(OrderIntent("FOREIGN-7", "someone-else", WHILE_DOWN, "S1", 50.0))
        book.record_order_update(OrderUpdate("FOREIGN-7", OrderStatus.SUBMITTED, WHILE_DOWN))
    finally:
        book.close()
    ok(run_live(stopped, *SMALL))
    store, book = open_store(stopped), open_book(stopped)
    try:
        assert any("foreign order FOREIGN-7" in m and "left alone" in m for m in alerts(store))
        assert store.last_reconcile().payload["foreign"] == ["FOREIGN-7"]  # type: ignore[union-attr]
        assert book.order("FOREIGN-7").status is OrderStatus.SUBMITTED  # type: ignore[union-attr]  # still open
        assert "cancel" not in " ".join(str(e.payload) for e in book.events(kinds=[EventKind.ORDER_UPDATE])
                                        if e.payload["client_order_id"] == "FOREIGN-7")  # fmt: skip
        assert store.order("FOREIGN-7") is None
        assert store.trading_state().state is TradingState.ACTIVE
        assert close_enough(store.positions(), book.positions())
    finally:
        store.close()
        book.close()
