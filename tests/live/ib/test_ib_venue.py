"""qt's IB venue (router + IBBroker + store) against the gateway simulator, through the real ib_async client."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ibharness import GatewayThread, ib_commission, open_venue

from qt.data.sources.sample import SampleData
from qt.enums import OrderStatus, TradingState
from qt.errors import ConfigError
from qt.live.ib.connection import IBConnectionError
from qt.live.ibsim.script import EndMarker, Fill, Reject, Rest
from qt.live.ibsim.simulator import GatewaySimulator
from qt.live.ibsim.wire import InMsg
from qt.types import OrderBatch


@pytest.fixture(scope="module")
def sample() -> Any:
    return SampleData().load()


def run(coro: Any, timeout: float = 20.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_full_20_asset_rebalance_fills_once_each_with_ib_commissions(sample: Any, tmp_path: Path) -> None:
    async def body() -> None:
        async with GatewaySimulator(panel=sample, start=-5) as gw:
            v = await open_venue(gw, tmp_path)
            orders = {s: float(10 * (i + 1)) * (1 if i % 2 == 0 else -1) for i, s in enumerate(v.symbols)}
            v.submit(orders)
            assert await v.settle(lambda: all(v.store.order(o.client_order_id).status is OrderStatus.FILLED
                                              for o in v.store.orders()))  # fmt: skip
            assert len(v.store.orders()) == 20
            assert v.store.positions() == pytest.approx(orders)
            assert {s: p.quantity for s, p in gw.broker.positions.items()} == pytest.approx(orders)
            assert set(gw.record.placements_per_ref().values()) == {1}
            for f in v.store.fills():
                price = gw.market.last_price(f.symbol)
                assert f.price == pytest.approx(price)
                assert f.fees == pytest.approx(ib_commission(f.quantity, price))
                assert f.time.utcoffset().total_seconds() == 0
            booked = sum(len(b.orders.assets) for b in v.batches if b.filled.any())
            assert booked == 20
            await v.close()
            assert gw.errors == []

    run(body())


def test_partial_fill_then_fill_books_each_execution(sample: Any, tmp_path: Path) -> None:
    async def body() -> None:
        async with GatewaySimulator(panel=sample, start=-5) as gw:
            gw.script.on_place(Rest())
            v = await open_venue(gw, tmp_path)
            v.submit({"AAPL": 100.0})
            [order] = v.store.orders()
            cid = order.client_order_id
            assert await gw.wait_until(lambda: gw.broker.orders and gw.broker.find(order_ref=cid).status == "Submitted")
            gw.fill(order_ref=cid, quantity=40)
            assert await v.settle(lambda: v.store.order(cid).filled == 40)
            assert v.store.order(cid).status is OrderStatus.PARTIALLY_FILLED
            assert v.store.positions() == {"AAPL": 40.0}
            gw.fill(order_ref=cid)
            assert await v.settle(lambda: v.store.order(cid).status is OrderStatus.FILLED)
            assert [f.quantity for f in v.store.fills()] == [40.0, 60.0]
            assert v.store.positions() == {"AAPL": 100.0} == {"AAPL": gw.broker.position("AAPL")}
            rows = [float(q) for b in v.batches for q in b.orders.quantities[b.filled]]
            assert rows == [40.0, 60.0]  # the session's book moves per execution
            await v.close()

    run(body())


def test_reject_is_recorded_rejected_with_ibs_text(sample: Any, tmp_path: Path) -> None:
    async def body() -> None:
        async with GatewaySimulator(panel=sample, start=-5) as gw:
            gw.script.on_place(Reject(code=201, text="Order rejected - reason:no shorting allowed"), symbol="GE")
            v = await open_venue(gw, tmp_path)
            v.submit({"GE": -50.0, "AAPL": 10.0})
            ge = next(o for o in v.store.orders() if o.symbol == "GE")
            assert await v.settle(lambda: v.store.order(ge.client_order_id).status is OrderStatus.REJECTED
                                  and v.store.positions() == {"AAPL": 10.0})  # fmt: skip
            assert "no shorting allowed" in v.store.order(ge.client_order_id).reason
            assert v.store.positions() == {"AAPL": 10.0}
            assert v.router.rejected_at  # counted toward the automatic halt
            await v.close()

    run(body())


def test_cancel_reaches_the_gateway(sample: Any, tmp_path: Path) -> None:
    async def body() -> None:
        async with GatewaySimulator(panel=sample, start=-5) as gw:
            gw.script.on_place(Rest())
            v = await open_venue(gw, tmp_path)
            v.submit({"MSFT": 30.0})
            [order] = v.store.orders()
            cid = order.client_order_id
            assert await gw.wait_until(lambda: bool(gw.broker.orders))
            v.router.cancel_open(0, "test")
            assert await v.settle(lambda: v.store.order(cid).status is OrderStatus.CANCELLED)
            assert gw.broker.find(order_ref=cid).status == "Cancelled"
            assert gw.record.count(InMsg.CANCEL_ORDER) == 1
            assert v.store.positions() == {}
            await v.close()

    run(body())


def test_disconnect_mid_rebalance_resyncs_without_a_duplicate(sample: Any, tmp_path: Path) -> None:
    async def body() -> None:
        async with GatewaySimulator(panel=sample, start=-5) as gw:
            gw.script.on_place(Fill(fill_delay=0.2, drop_connections=True), symbol="GE", times=1)
            v = await open_venue(gw, tmp_path)
            orders = {s: 10.0 for s in v.symbols}
            v.submit(orders)
            assert await gw.wait_until(lambda: v.connection.reconnects == 1, timeout=5)
            # every fill the gateway made, also while qt was disconnected, is booked once
            assert await v.settle(lambda: len(v.store.fills()) == len(gw.broker.executions), timeout=5)
            broker_pos = {s: p.quantity for s, p in gw.broker.positions.items()}
            assert v.store.positions() == pytest.approx(broker_pos)
            assert v.broker.positions() == pytest.approx(broker_pos)
            assert set(gw.record.placements_per_ref().values()) == {1}  # nothing sent twice
            assert v.store.trading_state().state.value == "active"
            # orders are accepted again after the resync, and go out once
            v.router.new_bar(v.router.bar_time.replace(day=8), v.router.last_prices)
            v.submit({"AAPL": 1.0})
            assert await v.settle(lambda: v.store.positions()["AAPL"] == broker_pos["AAPL"] + 1)
            await v.close()

    run(body())


def test_no_order_while_disconnected_is_denied_never_sent(sample: Any, tmp_path: Path) -> None:
    async def body() -> None:
        async with GatewaySimulator(panel=sample, start=-5) as gw:
            v = await open_venue(gw, tmp_path)
            gw.connectivity_lost()
            assert await gw.wait_until(lambda: not v.broker.available)
            v.submit({"AAPL": 5.0})
            [order] = v.store.orders()
            assert order.status is OrderStatus.DENIED and "disconnected" in order.reason
            gw.connectivity_restored(data_lost=False)
            assert await gw.wait_until(lambda: v.broker.available)
            assert gw.record.count(InMsg.PLACE_ORDER) == 0
            await v.close()

    run(body())


def test_withheld_end_marker_means_no_connection_and_no_order(sample: Any, tmp_path: Path) -> None:
    async def body() -> None:
        async with GatewaySimulator(panel=sample, start=-5) as gw:
            gw.script.withhold(EndMarker.OPEN_ORDER_END)
            with pytest.raises(IBConnectionError, match=r"did not finish synchronizing.*no order"):
                await open_venue(gw, tmp_path, connect_timeout_s=0.5, connect_attempts=1)
            assert gw.record.count(InMsg.PLACE_ORDER) == 0

    run(body())


def test_restarted_gateway_with_lower_next_id_never_gets_an_id_twice(sample: Any, tmp_path: Path) -> None:
    async def body() -> None:
        async with GatewaySimulator(panel=sample, start=-5) as gw:
            v = await open_venue(gw, tmp_path)
            v.submit({"AAPL": 1.0, "MSFT": 2.0})
            assert await v.settle(lambda: len(v.store.fills()) == 2)
            await v.close()
            await gw.restart(next_valid_id=1)
            v2 = await open_venue(gw, tmp_path)  # a new qt process: the store remembers the ids
            v2.router.new_bar(v2.router.bar_time.replace(day=8), v2.router.last_prices)
            v2.submit({"AAPL": 1.0, "MSFT": 2.0})
            assert await v2.settle(lambda: len(v2.store.fills()) == 4)
            ids = [int(m.decoded["order_id"]) for m in gw.record.placements()]
            assert len(ids) == len(set(ids)) == 4
            assert min(ids[2:]) > max(ids[:2])
            await v2.close()
            assert gw.errors == []

    run(body())


def test_server_version_outside_the_supported_range_is_refused(sample: Any, tmp_path: Path) -> None:
    async def body() -> None:
        async with GatewaySimulator(panel=sample, start=-5, server_version=170) as gw:
            with pytest.raises(IBConnectionError, match=r"server version 170; qt supports 176\.\.178"):
                await open_venue(gw, tmp_path, connect_attempts=1)

    run(body())


def test_client_id_in_use_names_the_key(sample: Any, tmp_path: Path) -> None:
    async def body() -> None:
        from ib_async import IB

        async with GatewaySimulator(panel=sample, start=-5) as gw:
            other = IB()
            await other.connectAsync("127.0.0.1", gw.port, clientId=7, timeout=3)
            with pytest.raises(ConfigError, match=r"broker\.client_id: client id 7 is already in use"):
                await open_venue(gw, tmp_path, client_id=7, connect_attempts=1)
            other.disconnect()

    run(body())


def test_pacing_spreads_a_500_order_burst_below_50_a_second(sample: Any, tmp_path: Path) -> None:
    gt = GatewayThread(panel=sample, start=-5, max_message_rate=50)  # TWS's limit: above 50/s, error 100 and out
    gw = gt.gw

    async def body() -> None:
        v = await open_venue(gw, tmp_path, max_messages_per_second=40)
        assets = np.repeat(np.arange(20, dtype=np.intp), 25)  # 500 orders: 25 per symbol, each its own intent
        v.router.submit(OrderBatch(0, assets, np.ones(500)), 0)
        assert len(v.store.orders()) == 500
        # a burst of 10 went out at once, the rest wait their turn (a few more as tokens come while 500 are stored)
        assert len(v.broker.pacer.waiting()) >= 450
        assert await v.settle(lambda: len(v.store.fills()) == 500, timeout=25)
        assert all(o.status is OrderStatus.FILLED for o in v.store.orders())
        assert v.store.positions() == {s: 25.0 for s in v.symbols}
        await v.close()

    try:
        run(body(), timeout=60)
        placements = gt.run(lambda: [m.time for m in gw.record.placements()])
        assert len(placements) == 500
        assert set(gt.run(gw.record.placements_per_ref).values()) == {1}
        assert gt.run(lambda: gw.record.max_rate(1.0)) < 50  # every message of the session, not only orders
        assert placements[-1] - placements[0] >= 500 / 40 - 1  # spread, not bunched: none dropped, none refused
    finally:
        gt.stop()


def test_readonly_connects_and_reconciles_but_denies_every_order(sample: Any, tmp_path: Path) -> None:
    async def body() -> None:
        async with GatewaySimulator(panel=sample, start=-5) as gw:
            gw.broker.set_position("AAPL", 10, 150.0)  # held before qt started: reconciliation sees it
            v = await open_venue(gw, tmp_path, readonly=True)
            assert v.store.trading_state().state.value == "halted"  # a break qt cannot explain halts
            assert "AAPL: qt 0 vs broker 10" in v.store.trading_state().reason
            v.router.trading = TradingState.ACTIVE  # even when trading is allowed ...
            v.submit({"MSFT": 5.0})
            [order] = v.store.orders()
            assert order.status is OrderStatus.DENIED and "read-only" in order.reason  # ... nothing is sent
            assert gw.record.count(InMsg.PLACE_ORDER) == 0
            await v.close()

    run(body())


def test_three_reconnects_in_a_row_change_nothing(sample: Any, tmp_path: Path) -> None:
    async def body() -> None:
        async with GatewaySimulator(panel=sample, start=-5) as gw:
            v = await open_venue(gw, tmp_path)
            v.submit({"AAPL": 10.0, "MSFT": -4.0})
            assert await v.settle(lambda: len(v.store.fills()) == 2)
            events = len(v.store.events())
            for n in (1, 2, 3):
                await gw.drop_connections()
                assert await gw.wait_until(lambda n=n: v.connection.reconnects == n and v.broker.available, 5)
                await v.settle(lambda: False, timeout=0.1)
            assert len(v.store.fills()) == 2
            assert v.store.positions() == {"AAPL": 10.0, "MSFT": -4.0}
            assert gw.record.count(InMsg.PLACE_ORDER) == 2
            kinds = {e.kind.value for e in v.store.events()[events:]}
            assert kinds <= {"reconcile", "alert"}  # reconnect alerts and clean reconciliations only
            await v.close()

    run(body())


def test_connectivity_restored_with_data_lost_resubscribes_bars(sample: Any, tmp_path: Path) -> None:
    from qt.enums import Field
    from qt.live.ib.config import IBSettings
    from qt.live.ib.feed import IBFeed

    async def body() -> None:
        async with GatewaySimulator(panel=sample, start=-5) as gw:
            v = await open_venue(gw, tmp_path)
            feed = IBFeed(ib=v.ib, broker=v.broker, fields=(Field.CLOSE,), settings=IBSettings(bar_settle_s=0.2))
            feed.subscribe()
            assert await gw.wait_until(lambda: gw.record.count(InMsg.REQ_REAL_TIME_BARS) == 20)

            async def resync(resubscribe: bool) -> None:
                if resubscribe:
                    feed.subscribe()

            v.connection.on_resync = resync
            gw.connectivity_lost()
            assert await gw.wait_until(lambda: not v.broker.available)
            gw.connectivity_restored(data_lost=True)
            assert await gw.wait_until(lambda: v.broker.available and gw.record.count(InMsg.REQ_REAL_TIME_BARS) == 40)
            await gw.step(1)
            bar = await asyncio.wait_for(feed.bars().__anext__(), 3)
            assert str(bar.timestamp)[:10] == str(sample.timestamps[-4])[:10]
            assert bar.values[Field.CLOSE].tolist() == sample.close[-4].tolist()
            await v.close()

    run(body())


def test_an_order_never_acknowledged_is_lost_with_an_alert_and_never_resent(sample: Any, tmp_path: Path) -> None:
    from qt.live.ibsim.script import BlackHole
    from qt.live.router import RouterSettings

    async def body() -> None:
        async with GatewaySimulator(panel=sample, start=-5) as gw:
            gw.script.on_place(BlackHole(), symbol="PFE")
            v = await open_venue(gw, tmp_path)
            v.router.settings = RouterSettings(ack_timeout_s=0.05, max_ack_misses=2)
            v.submit({"PFE": 10.0, "KO": 5.0})
            pfe = next(o.client_order_id for o in v.store.orders() if o.symbol == "PFE")
            lost: list[str] = []
            loop = asyncio.get_running_loop()
            end = loop.time() + 3
            while not lost and loop.time() < end:
                await v.settle(lambda: False, timeout=0.06)
                lost += v.router.check_acks(time.monotonic())
            assert lost == [pfe]
            assert v.store.order(pfe).status is OrderStatus.LOST
            assert any(pfe in a.payload["message"] for a in v.store.alerts())
            assert v.store.positions() == {"KO": 5.0}  # the acknowledged order filled; the other is not resent
            assert gw.record.count(InMsg.PLACE_ORDER, order_ref=pfe) == 1
            await v.close()

    run(body())


def test_limit_orders_are_priced_off_the_last_price(sample: Any, tmp_path: Path) -> None:
    async def body() -> None:
        async with GatewaySimulator(panel=sample, start=-5) as gw:
            v = await open_venue(gw, tmp_path, order_type="limit", limit_offset_bps=25)
            last = {s: gw.market.last_price(s) for s in ("AAPL", "XOM")}
            v.broker.last_prices.update(last)
            v.submit({"AAPL": 10.0, "XOM": -10.0})
            assert await v.settle(lambda: len(v.store.fills()) == 2)  # marketable: filled at the last price
            sent = {m.decoded["order_ref"][:4].rstrip("-"): m.decoded for m in gw.record.placements()}
            assert sent["AAPL"]["order_type"] == sent["XOM"]["order_type"] == "LMT"
            assert float(sent["AAPL"]["limit_price"]) == round(last["AAPL"] * 1.0025, 2)  # buys pay up to +25 bps
            assert float(sent["XOM"]["limit_price"]) == round(last["XOM"] * 0.9975, 2)  # sells take down to -25 bps
            await v.close()

    run(body())


def test_a_long_disconnect_raises_one_alert_and_reconnects_with_capped_jittered_backoff(
    sample: Any, tmp_path: Path
) -> None:
    import random

    from qt.live.ib.config import IBSettings

    s = IBSettings(reconnect_base_s=1, reconnect_cap_s=30, reconnect_jitter=0.25)
    waits = [s.backoff(k, random.Random(k)) for k in range(8)]
    nominal = [1, 2, 4, 8, 16, 30, 30, 30]
    assert all(0.75 * w <= x <= 1.25 * w for x, w in zip(waits, nominal, strict=True))  # capped, jittered
    assert len({round(x / w, 6) for x, w in zip(waits, nominal, strict=True)}) > 1  # the jitter varies

    async def body() -> None:
        async with GatewaySimulator(panel=sample, start=-5) as gw:
            v = await open_venue(gw, tmp_path, alert_after_disconnect_minutes=0.005)  # 0.3 s
            await gw.restart(downtime=0.8)  # the gateway is gone for 0.8 s
            assert await gw.wait_until(lambda: v.connection.reconnects == 1 and v.broker.available, 5)
            messages = [a.payload["message"] for a in v.store.alerts()]
            assert sum("disconnected for" in m for m in messages) == 1
            assert [a.payload["severity"] for a in v.store.alerts() if "disconnected for" in a.payload["message"]] == [
                "critical"
            ]
            await v.close()

    run(body())


def test_another_run_on_the_account_is_foreign_reported_never_booked(sample: Any, tmp_path: Path) -> None:
    """Run A trades; run B (its own store, client id 8) connects: A's executions explain A's positions, B books none."""

    async def body() -> None:
        async with GatewaySimulator(panel=sample, start=-5) as gw:
            a = await open_venue(gw, tmp_path / "a")
            a.submit({"AAPL": 10.0, "MSFT": -4.0})
            assert await a.settle(lambda: len(a.store.fills()) == 2)
            b = await open_venue(gw, tmp_path / "b", client_id=8)
            report = b.store.last_reconcile().payload  # type: ignore[union-attr]
            assert report["others"] == {"AAPL": 10.0, "MSFT": -4.0}  # explained: A's executions made them
            assert sorted(report["foreign_executions"]) == sorted(f.exec_id for f in a.store.fills())
            assert report["breaks"] == {} and b.store.trading_state().state is TradingState.ACTIVE
            assert any("other owners" in m.payload["message"] and "AAPL: 10 shares" in m.payload["message"]
                       for m in b.store.alerts())  # fmt: skip
            b.submit({"GE": 7.0} if "GE" in b.symbols else {b.symbols[-1]: 7.0})
            assert await b.settle(lambda: len(b.store.fills()) == 1)
            a.submit({"AAPL": 5.0})
            assert await a.settle(lambda: len(a.store.fills()) == 3)
            await gw.drop_connections()  # both resynchronize: every execution on the account comes again
            assert await gw.wait_until(lambda: a.connection.reconnects == 1 and b.connection.reconnects == 1, 5)
            await a.settle(lambda: False, timeout=0.2)
            await b.settle(lambda: False, timeout=0.2)
            assert len(b.store.fills()) == 1 and len(a.store.fills()) == 3  # neither booked the other's
            assert set(b.broker.foreign) == {f.exec_id for f in a.store.fills()}
            assert set(a.broker.foreign) == {f.exec_id for f in b.store.fills()}
            for v in (a, b):
                assert v.store.trading_state().state is TradingState.ACTIVE
            await a.close()
            await b.close()

    run(body())
