"""Orders against the gateway simulator: fills, chunks, rejects, cancels, black holes, state across sessions.

The fixture panel's closes at the current bar (bar 3) are AAPL 103, MSFT 203, GE 13; commission is
IB's fixed $0.005/share, $1 minimum, 1% of value maximum.
"""

from __future__ import annotations

from ib_async import ExecutionFilter, LimitOrder, MarketOrder, Stock

from qt.live.ibsim.script import BlackHole, Fill, Reject, Rest
from qt.live.ibsim.wire import InMsg


async def _contract(ib, symbol="AAPL"):
    [c] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    return c


def test_market_order_fills_at_the_last_price_with_execution_commission_and_position(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            c = await _contract(ib)
            trade = ib.placeOrder(c, MarketOrder("BUY", 100, orderRef="qt-1"))
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Filled" and ib.positions())
            assert await gw.wait_until(lambda: trade.fills and trade.fills[0].commissionReport.execId)
            [fill] = trade.fills
            assert (fill.execution.shares, fill.execution.price, fill.execution.side) == (100.0, 103.0, "BOT")
            assert fill.execution.orderRef == "qt-1"
            assert fill.commissionReport.commission == 1.0  # max($1, 100 x $0.005)
            assert trade.orderStatus.avgFillPrice == 103.0 and trade.orderStatus.remaining == 0.0
            [pos] = ib.positions()
            assert pos.position == 100.0
            assert pos.avgCost == (100 * 103.0 + 1.0) / 100  # IB folds the commission into the average cost
        assert gw.broker.cash == 1_000_000 - 100 * 103.0 - 1.0

    run_gateway(body)


def test_commission_caps_at_one_percent_and_scales_per_share(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            ge, msft = await _contract(ib, "GE"), await _contract(ib, "MSFT")
            small = ib.placeOrder(ge, MarketOrder("BUY", 5, orderRef="small"))  # value 65: 1% = 0.65 < $1
            big = ib.placeOrder(msft, MarketOrder("BUY", 1000, orderRef="big"))  # 1000 x 0.005 = 5
            assert await gw.wait_until(
                lambda: all(t.fills and t.fills[0].commissionReport.execId for t in (small, big))
            )
            return small.fills[0].commissionReport.commission, big.fills[0].commissionReport.commission

    assert run_gateway(body) == (0.65, 5.0)


def test_fill_in_chunks_then_complete(run_gateway, connect) -> None:
    async def body(gw):
        gw.script.on_place(Fill(chunks=3, interval=0.02), order_ref="chunky")
        async with connect(gw) as ib:
            c = await _contract(ib, "MSFT")
            trade = ib.placeOrder(c, MarketOrder("SELL", 100, orderRef="chunky"))
            assert await gw.wait_until(lambda: len(trade.fills) == 1)
            assert trade.orderStatus.status == "Submitted" and trade.orderStatus.filled == 33.0
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Filled")
            assert [f.execution.shares for f in trade.fills] == [33.0, 33.0, 34.0]
            assert [f.execution.cumQty for f in trade.fills] == [33.0, 66.0, 100.0]
            assert len({f.execution.execId for f in trade.fills}) == 3
            assert await gw.wait_until(lambda: ib.positions() and ib.positions()[0].position == -100.0)

    run_gateway(body)


def test_reject_201_shows_as_cancelled_with_the_text_in_the_trade_log(run_gateway, connect) -> None:
    async def body(gw):
        gw.script.on_place(Reject(code=201, text="Order rejected - reason:no shorting GE"), symbol="GE")
        async with connect(gw) as ib:
            c = await _contract(ib, "GE")
            trade = ib.placeOrder(c, MarketOrder("SELL", 10, orderRef="short-ge"))
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Cancelled")
            [entry] = [e for e in trade.log if e.errorCode == 201]
            assert "no shorting GE" in entry.message
            assert trade.fills == []
        assert gw.broker.position("GE") == 0.0
        assert gw.broker.find(order_ref="short-ge").status == "Cancelled"

    run_gateway(body)


def test_cancel_of_a_resting_limit_order(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            c = await _contract(ib)
            trade = ib.placeOrder(c, LimitOrder("BUY", 10, 90.0, orderRef="low-bid"))  # far below 103
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Submitted")
            assert [t.order.orderRef for t in ib.openTrades()] == ["low-bid"]
            ib.cancelOrder(trade.order)
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Cancelled")
            assert any(e.errorCode == 202 for e in trade.log)
            assert trade.fills == []
        assert gw.record.count(InMsg.CANCEL_ORDER, order_id=str(trade.order.orderId)) == 1

    run_gateway(body)


def test_a_resting_limit_fills_when_a_replayed_bar_crosses_it(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            c = await _contract(ib)
            trade = ib.placeOrder(c, LimitOrder("SELL", 10, 104.5, orderRef="offer"))
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Submitted")
            await gw.step()  # close 104: still below the limit
            assert trade.orderStatus.status == "Submitted"
            await gw.step()  # close 105 crosses 104.5: fills at the bar's price
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Filled")
            assert trade.fills[0].execution.price == 105.0

    run_gateway(body)


def test_marketable_limit_fills_at_the_last_price(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            trade = ib.placeOrder(await _contract(ib), LimitOrder("BUY", 10, 110.0, orderRef="lift"))
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Filled")
            return trade.fills[0].execution.price

    assert run_gateway(body) == 103.0


def test_black_holed_order_stays_pending_submit(run_gateway, connect) -> None:
    async def body(gw):
        gw.script.on_place(BlackHole(), order_ref="void")
        async with connect(gw) as ib:
            trade = ib.placeOrder(await _contract(ib), MarketOrder("BUY", 10, orderRef="void"))
            assert await gw.wait_until(lambda: gw.record.count(InMsg.PLACE_ORDER, order_ref="void") == 1)
            assert not await gw.wait_until(lambda: trade.orderStatus.status != "PendingSubmit", timeout=0.2)
        assert gw.broker.orders == {} and gw.broker.executions == []

    run_gateway(body)


def test_delayed_ack_and_fill(run_gateway, connect) -> None:
    async def body(gw):
        gw.script.on_place(Fill(ack_delay=0.15, fill_delay=0.15))
        async with connect(gw) as ib:
            trade = ib.placeOrder(await _contract(ib), MarketOrder("BUY", 10, orderRef="slow"))
            await gw.wait_until(lambda: False, timeout=0.05)
            assert trade.orderStatus.status == "PendingSubmit"
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Submitted", timeout=1.0)
            assert trade.fills == []
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Filled", timeout=1.0)

    run_gateway(body)


def test_broker_state_survives_reconnect_and_a_fill_while_no_client_is_connected(run_gateway, connect) -> None:
    async def body(gw):
        gw.script.on_place(Rest(), order_ref="later")
        async with connect(gw) as ib:
            c = await _contract(ib)
            done = ib.placeOrder(c, MarketOrder("BUY", 40, orderRef="now"))
            resting = ib.placeOrder(c, MarketOrder("BUY", 60, orderRef="later"))
            assert await gw.wait_until(lambda: done.isDone() and resting.orderStatus.status == "Submitted")
        assert await gw.wait_until(lambda: gw.sessions == [])
        gw.fill(order_ref="later")  # while qt is away
        async with connect(gw) as ib:
            [pos] = ib.positions()
            assert pos.position == 100.0
            fills = ib.fills()  # synchronized at connect, commission reports attached
            assert sorted(f.execution.orderRef for f in fills) == ["later", "now"]
            assert {f.execution.execId for f in fills} == {e.exec_id for e in gw.broker.executions}
            assert all(f.commissionReport.commission == 1.0 for f in fills)
            assert ib.openTrades() == []
            completed = await ib.reqCompletedOrdersAsync(False)
            assert sorted((t.order.orderRef, t.orderStatus.status) for t in completed) == [
                ("later", "Filled"),
                ("now", "Filled"),
            ]
            # executions can be requested again, filtered
            again = await ib.reqExecutionsAsync(ExecutionFilter(symbol="AAPL", side="BUY"))
            assert len(again) == 2
            assert await ib.reqExecutionsAsync(ExecutionFilter(symbol="MSFT")) == []

    run_gateway(body)


def test_open_orders_are_resynchronized_after_reconnect_and_can_be_cancelled(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            trade = ib.placeOrder(await _contract(ib), LimitOrder("BUY", 5, 50.0, orderRef="bid"))
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Submitted")
        async with connect(gw) as ib:
            [again] = ib.openTrades()
            assert (again.order.orderRef, again.order.lmtPrice, again.orderStatus.remaining) == ("bid", 50.0, 5.0)
            ib.cancelOrder(again.order)
            assert await gw.wait_until(lambda: again.orderStatus.status == "Cancelled")

    run_gateway(body)


def test_global_cancel_cancels_every_working_order(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            c = await _contract(ib)
            trades = [ib.placeOrder(c, LimitOrder("BUY", 1, 50.0 + i, orderRef=f"b{i}")) for i in range(3)]
            assert await gw.wait_until(lambda: all(t.orderStatus.status == "Submitted" for t in trades))
            ib.reqGlobalCancel()
            assert await gw.wait_until(lambda: all(t.orderStatus.status == "Cancelled" for t in trades))
        assert gw.broker.working_orders() == []

    run_gateway(body)


def test_record_counts_placements_per_order_ref(run_gateway, connect) -> None:
    async def body(gw):
        gw.script.on_place(BlackHole(), order_ref="twice", times=1)
        async with connect(gw) as ib:
            c = await _contract(ib)
            ib.placeOrder(c, MarketOrder("BUY", 1, orderRef="once"))
            ib.placeOrder(c, MarketOrder("BUY", 1, orderRef="twice"))
            ib.placeOrder(c, MarketOrder("BUY", 1, orderRef="twice"))  # a resend: the second is filled
            assert await gw.wait_until(lambda: len(gw.broker.executions) == 2)
        assert gw.record.placements_per_ref() == {"once": 1, "twice": 2}
        [first] = gw.record.placements("once")
        assert (first.decoded["symbol"], first.decoded["action"], first.decoded["quantity"]) == ("AAPL", "BUY", "1")
        assert first.decoded["order_type"] == "MKT" and first.client_id == 7

    run_gateway(body)


def test_drop_connections_after_an_acknowledgement(run_gateway, connect) -> None:
    async def body(gw):
        gw.script.on_place(Rest(drop_connections=True), order_ref="mid")
        async with connect(gw) as ib:
            ib.placeOrder(await _contract(ib), MarketOrder("BUY", 10, orderRef="mid"))
            assert await gw.wait_until(lambda: not ib.isConnected())
        assert gw.broker.find(order_ref="mid").status == "Submitted"

    run_gateway(body)


def test_a_twenty_stock_rebalance_fills_every_order(run_gateway, connect) -> None:
    from qt.data.sources.sample import SampleData

    panel = SampleData().load()

    async def body(gw):
        async with connect(gw) as ib:
            contracts = await ib.qualifyContractsAsync(*(Stock(s, "SMART", "USD") for s in panel.symbols))
            trades = [
                ib.placeOrder(c, MarketOrder("BUY", 10 + i, orderRef=f"rb-{c.symbol}")) for i, c in enumerate(contracts)
            ]
            assert await gw.wait_until(lambda: all(t.orderStatus.status == "Filled" for t in trades))
            assert await gw.wait_until(lambda: len(ib.positions()) == 20)
            return {p.contract.symbol: p.position for p in ib.positions()}, {
                t.contract.symbol: t.orderStatus.avgFillPrice for t in trades
            }

    positions, prices = run_gateway(body, panel=panel, start=-1)
    assert positions == {s: 10.0 + i for i, s in enumerate(panel.symbols)}
    assert prices == {s: float(panel.close[-1, j]) for j, s in enumerate(panel.symbols)}


def test_unsupported_order_types_are_refused_with_387(run_gateway, connect) -> None:
    from ib_async import StopOrder

    async def body(gw):
        async with connect(gw) as ib:
            trade = ib.placeOrder(await _contract(ib), StopOrder("SELL", 10, 90.0, orderRef="stop"))
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Cancelled")
            return [e.errorCode for e in trade.log if e.errorCode]

    assert run_gateway(body) == [387]


def test_placing_a_working_orders_id_again_modifies_it(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            trade = ib.placeOrder(await _contract(ib), LimitOrder("BUY", 10, 90.0, orderRef="bid"))
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Submitted")
            trade.order.lmtPrice = 103.0  # now marketable: fills at the last price
            ib.placeOrder(trade.contract, trade.order)
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Filled")
        assert gw.record.count(InMsg.PLACE_ORDER, order_ref="bid") == 2
        assert len(gw.broker.orders) == 1 and gw.broker.executions[0].price == 103.0

    run_gateway(body)


def test_gateway_side_fill_and_cancel_reach_a_connected_client(run_gateway, connect) -> None:
    async def body(gw):
        gw.script.on_place(Rest())
        async with connect(gw) as ib:
            c = await _contract(ib)
            a = ib.placeOrder(c, MarketOrder("BUY", 10, orderRef="a"))
            b = ib.placeOrder(c, MarketOrder("BUY", 10, orderRef="b"))
            assert await gw.wait_until(lambda: a.orderStatus.status == b.orderStatus.status == "Submitted")
            gw.fill(order_ref="a", quantity=4, price=99.5)
            assert await gw.wait_until(lambda: a.orderStatus.filled == 4.0)
            assert a.orderStatus.status == "Submitted" and a.fills[0].execution.price == 99.5
            gw.cancel(order_ref="b", reason="end of day")
            assert await gw.wait_until(lambda: b.orderStatus.status == "Cancelled")
            assert any("end of day" in e.message for e in b.log)

    run_gateway(body)


def test_portfolio_and_account_follow_fills_and_a_closed_position_leaves_the_portfolio(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            c = await _contract(ib)
            ib.placeOrder(c, MarketOrder("BUY", 10, orderRef="open"))
            assert await gw.wait_until(lambda: [p.position for p in ib.portfolio()] == [10.0])
            cash = {v.tag: float(v.value) for v in ib.accountValues() if v.currency == "USD" and v.modelCode == ""}
            assert cash["TotalCashValue"] == 1_000_000 - 10 * 103.0 - 1.0
            ib.placeOrder(c, MarketOrder("SELL", 10, orderRef="close"))
            assert await gw.wait_until(lambda: ib.portfolio() == [] and ib.positions() == [])
            realized = {v.tag: float(v.value) for v in ib.accountValues() if v.tag == "RealizedPnL"}
            assert realized["RealizedPnL"] == -2.0  # bought and sold at 103: two $1 commissions

    run_gateway(body)
