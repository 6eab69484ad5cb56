"""The risk guard: each guard refuses an order that breaches it, DENIED with its reason, never placed.

The router, the real paper broker and a real SQLite store in ``tmp_path`` (see paper_kit.desk).
For every refusal: the store has the order DENIED with the guard's reason, the session gets a
``denied`` row with that reason, and the paper broker's book never saw the client order id.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from paper_kit import Desk, desk, placements

from qt.enums import OrderStatus, TradingState
from qt.live.guard import GuardSettings, RiskGuard
from qt.live.store import EventKind
from qt.types import FillBatch

PRICES = [100, 50, 20, 10, 5]


def assert_denied(d: Desk, batches: list[FillBatch], reason_start: str) -> None:
    """The last order sent was DENIED (store and session) with a reason starting ``reason_start``; never placed."""
    denied = [b for b in batches if (b.status == "denied").any()]
    assert len(denied) == 1 and denied[0].reasons[0].startswith(reason_start), batches
    order = d.store.order(d.store.events(kinds=[EventKind.INTENT])[-1].payload["client_order_id"])
    assert order is not None
    assert order.status is OrderStatus.DENIED and order.reason.startswith(reason_start)
    assert order.client_order_id not in placements(d.broker.book)
    assert d.broker.order(order.client_order_id) is None


def test_halted_denies_every_order(tmp_path: Path) -> None:
    d = desk(tmp_path)
    try:
        d.bar(PRICES)
        d.router.trading = TradingState.HALTED
        assert_denied(d, d.send([0], [-10]), "trading is halted")
        assert d.store.positions() == {} and placements(d.broker.book) == {}
    finally:
        d.close()


def test_reducing_denies_what_adds_exposure_and_lets_what_shrinks_a_position_go(tmp_path: Path) -> None:
    d = desk(tmp_path)
    try:
        d.bar(PRICES)
        d.send([0], [10])
        d.router.trading = TradingState.REDUCING
        assert_denied(d, d.send([0], [5]), "trading is reducing")
        assert_denied(d, d.send([1], [-1]), "trading is reducing")  # a new short is exposure too
        assert_denied(d, d.send([0], [-25]), "trading is reducing")  # through zero to a larger short
        (fill,) = d.send([0], [-4])
        assert fill.status.tolist() == ["filled"] and fill.orders.quantities.tolist() == [-4.0]
        assert d.store.positions() == {"AAA": 6.0} == d.broker.positions()
    finally:
        d.close()


def test_the_order_rate_holds_under_a_burst_deny_dont_queue(tmp_path: Path) -> None:
    """50 orders in one bar with max_orders_per_minute=10: the first 10 placed, 40 denied; next minute, 10 more."""
    d = desk(tmp_path, guard=GuardSettings(max_orders_per_minute=10))
    try:
        d.bar(PRICES)
        assets = [i % 5 for i in range(50)]
        batches = d.send(assets, [1.0] * 50)
        statuses = [s for b in batches for s in b.status.tolist()]
        assert statuses.count("filled") == 10 and statuses.count("denied") == 40
        assert len(placements(d.broker.book)) == 10
        denied = d.store.orders(status=OrderStatus.DENIED)
        assert len(denied) == 40 and all(o.reason.startswith("order rate: 10 orders") for o in denied)
        assert sum(d.broker.positions().values()) == 10.0
        d.bar(PRICES)  # a day later (market time in a replay): the window is empty again; nothing queued was sent
        assert len(placements(d.broker.book)) == 10
        batches = d.send(assets[:12], [1.0] * 12)
        assert [s for b in batches for s in b.status.tolist()].count("filled") == 10
    finally:
        d.close()


def test_the_price_collar_denies_an_order_priced_away_from_the_last_price() -> None:
    """|order price / last price - 1| > price_collar is denied with both prices; inside it, allowed."""
    guard = RiskGuard(GuardSettings(price_collar=0.05), clock=lambda: 0.0)
    reason = guard.check(10, 0, 106.0, 100.0, TradingState.ACTIVE)
    assert reason is not None and reason.startswith("price collar: order price 106 is 6.0% from the last price 100")
    assert guard.check(-10, 0, 94.0, 100.0, TradingState.ACTIVE) is not None
    assert guard.check(10, 0, 104.9, 100.0, TradingState.ACTIVE) is None
    assert guard.check(10, 0, 95.1, 100.0, TradingState.ACTIVE) is None


def test_an_order_without_a_usable_last_price_is_denied(tmp_path: Path) -> None:
    d = desk(tmp_path)
    try:
        d.bar([100, float("nan"), 20, 10, 5])
        assert_denied(d, d.send([1], [10]), "no usable price")
    finally:
        d.close()


def test_stale_data_denies_orders_until_a_bar_arrives(tmp_path: Path) -> None:
    now = [0.0]
    d = desk(tmp_path, guard=GuardSettings(stale_after_s=30), clock=lambda: now[0])
    try:
        d.bar(PRICES)
        now[0] = 29.0
        assert d.send([0], [1])[0].status.tolist() == ["filled"]
        now[0] = 31.0
        assert_denied(d, d.send([0], [1]), "stale data: no bar for 31.0 s")
        d.bar(PRICES)  # fresh data
        assert d.send([0], [1])[0].status.tolist() == ["filled"]
    finally:
        d.close()


@pytest.mark.parametrize("state", [TradingState.HALTED, TradingState.REDUCING])
def test_a_denied_order_is_distinct_from_a_broker_reject(tmp_path: Path, state: TradingState) -> None:
    """DENIED is qt's own refusal (never sent); no REJECTED appears, the broker having seen nothing."""
    d = desk(tmp_path)
    try:
        d.bar(PRICES)
        d.router.trading = state
        d.send([2], [10])
        assert {o.status for o in d.store.orders()} == {OrderStatus.DENIED}
        assert d.store.orders(status=OrderStatus.REJECTED) == [] and d.broker.book.orders() == []
    finally:
        d.close()
