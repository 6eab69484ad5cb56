"""Connection life cycle against the gateway simulator, with the real ib_async client."""

from __future__ import annotations

import asyncio
import struct

import pytest
from ib_async import IB, Stock

from qt.live.ibsim.broker import Broker
from qt.live.ibsim.script import EndMarker
from qt.live.ibsim.simulator import GatewaySimulator
from qt.live.ibsim.wire import SERVER_VERSION, InMsg


def test_pinned_server_version_is_178() -> None:
    assert SERVER_VERSION == 178


def test_handshake_negotiates_the_pinned_version_and_connect_sync_completes(run_gateway, connect) -> None:
    async def body(gw):
        gw.broker.set_position("MSFT", 50, 190.0)
        async with connect(gw) as ib:
            assert ib.client.serverVersion() == 178
            assert ib.isConnected()
            assert ib.managedAccounts() == ["DU0000001"]
            [pos] = ib.positions()
            assert (pos.contract.symbol, pos.position, pos.avgCost, pos.account) == ("MSFT", 50.0, 190.0, "DU0000001")
            assert ib.openTrades() == []
            values = {(v.tag, v.currency): v.value for v in ib.accountValues() if v.modelCode == ""}
            # cash 1,000,000 + 50 MSFT at the current close 203 (bar 3)
            assert float(values[("NetLiquidation", "USD")]) == pytest.approx(1_000_000 + 50 * 203.0)
            assert float(values[("TotalCashValue", "USD")]) == pytest.approx(1_000_000)
            [item] = ib.portfolio()
            assert (item.position, item.marketPrice, item.marketValue) == (50.0, 203.0, 50 * 203.0)
        names = [m.name for m in gw.record.messages]
        for needed in ("START_API", "REQ_POSITIONS", "REQ_OPEN_ORDERS", "REQ_COMPLETED_ORDERS", "REQ_EXECUTIONS"):
            assert needed in names
        assert gw.record.of(InMsg.START_API)[0].decoded["client_id"] == "7"

    run_gateway(body)


def test_an_older_pinned_version_is_negotiated_too(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            assert ib.client.serverVersion() == 176
            [c] = await ib.qualifyContractsAsync(Stock("GE", "SMART", "USD"))
            assert c.conId > 0

    run_gateway(body, server_version=176)


def test_a_client_whose_range_excludes_the_server_version_is_closed_cleanly(run_gateway) -> None:
    async def body(gw):
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        text = b"v100..150"
        writer.write(b"API\0" + struct.pack(">I", len(text)) + text)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 2.0)  # EOF, no version answered
        writer.close()
        return data

    assert run_gateway(body) == b""


def test_garbage_instead_of_the_handshake_is_closed(run_gateway) -> None:
    async def body(gw):
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 2.0)
        writer.close()
        return data

    assert run_gateway(body) == b""


def test_qualify_contracts_gives_a_stable_conid_per_symbol(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            aapl, msft = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"), Stock("MSFT", "SMART", "USD"))
            [unknown] = await ib.qualifyContractsAsync(Stock("ZZZZ", "SMART", "USD"))
        async with connect(gw, client_id=8) as ib2:
            [again] = await ib2.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        return aapl, msft, unknown, again

    aapl, msft, unknown, again = run_gateway(body)
    assert (aapl.symbol, aapl.secType, aapl.currency, aapl.exchange) == ("AAPL", "STK", "USD", "SMART")
    assert aapl.conId > 0 and aapl.conId != msft.conId
    assert again.conId == aapl.conId
    assert unknown is None


def test_same_client_id_twice_gets_326_and_the_first_session_stays(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw, client_id=7) as ib:
            second = IB()
            codes: list[int] = []
            second.errorEvent += lambda req_id, code, text, contract: codes.append(code)
            with pytest.raises((TimeoutError, ConnectionError)):
                await second.connectAsync("127.0.0.1", gw.port, clientId=7, timeout=1.0, raiseSyncErrors=True)
            assert 326 in codes
            assert ib.isConnected() and gw.client_ids == [7]

    run_gateway(body)


def test_withheld_end_marker_makes_connect_fail(run_gateway) -> None:
    async def body(gw):
        gw.script.withhold(EndMarker.OPEN_ORDER_END)
        ib = IB()
        with pytest.raises(ConnectionError, match="open orders request timed out"):
            await ib.connectAsync("127.0.0.1", gw.port, clientId=7, timeout=1.0, raiseSyncErrors=True)
        assert not ib.isConnected()
        gw.script.release()
        await ib.connectAsync("127.0.0.1", gw.port, clientId=7, timeout=2.0, raiseSyncErrors=True)
        ib.disconnect()

    run_gateway(body)


def test_connectivity_codes_reach_the_client(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
            gw.connectivity_lost()
            gw.connectivity_restored(data_lost=True)
            gw.connectivity_restored()
            assert await gw.wait_until(lambda: len(codes) == 3)
            return codes

    assert run_gateway(body) == [1100, 1101, 1102]


def test_drop_connections_disconnects_every_client(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw, client_id=7) as a, connect(gw, client_id=8) as b:
            await gw.drop_connections()
            ok = await gw.wait_until(lambda: not a.isConnected() and not b.isConnected())
            assert ok and gw.sessions == []

    run_gateway(body)


def test_restart_keeps_state_and_answers_a_lower_next_valid_id(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            [c] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
            for ref in ("a", "b", "c"):
                ib.placeOrder(c, _market("BUY", 10, ref))
            assert await gw.wait_until(lambda: len(gw.broker.executions) == 3)
            used = sorted(gw.broker.orders)
            await gw.restart(next_valid_id=1, downtime=0.05)
            assert await gw.wait_until(lambda: not ib.isConnected())
        async with connect(gw) as ib:
            # ids restart from the gateway's lower next valid id: the sync's reqAccountUpdatesMulti took 1,
            # reqExecutions 2, so the next request id is 3
            assert gw.record.of(InMsg.REQ_EXECUTIONS)[-1].decoded["req_id"] == "2"
            assert ib.client.getReqId() == 3
            assert ib.positions()[0].position == 30.0
            # reusing an id the gateway already used is refused as a duplicate
            trade = ib.placeOrder(c, _market("BUY", 10, "reused", order_id=used[0]))
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Cancelled")
            assert any("Duplicate order id" in e.message for e in trade.log)
        assert gw.broker.position("AAPL") == 30.0

    run_gateway(body)


def test_stop_never_hangs_with_a_silent_half_open_client(panel) -> None:
    async def main():
        gw = await GatewaySimulator(panel=panel, broker=Broker(), handshake_timeout=0.2).start()
        _reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(b"API\0")  # and then nothing
        loop = asyncio.get_running_loop()
        began = loop.time()
        await gw.stop(timeout=1.0)
        writer.close()
        return loop.time() - began

    assert asyncio.run(main()) < 1.5


def _market(action: str, quantity: float, ref: str, order_id: int = 0):
    from ib_async import MarketOrder

    return MarketOrder(action, quantity, orderRef=ref, orderId=order_id)


def test_pacing_over_the_limit_gets_error_100_and_a_disconnect(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
            ib.client.MaxRequests = 0  # switch off ib_async's own throttle (45 messages/s)
            for _ in range(40):
                ib.client.reqCurrentTime()
            assert await gw.wait_until(lambda: not ib.isConnected())
            assert codes == [100]
        assert gw.record.max_rate(1.0) > 30

    run_gateway(body, max_message_rate=30)


def test_ib_async_own_throttle_stays_under_the_limit(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            ib.client.MaxRequests, ib.client.RequestsInterval = 5, 0.2  # at most 5 in any 0.2 s
            for _ in range(25):
                ib.client.reqCurrentTime()
            assert await gw.wait_until(lambda: gw.record.count(InMsg.REQ_CURRENT_TIME) == 25, timeout=3.0)
            assert ib.isConnected()
        assert gw.record.max_rate(1.0) <= 50

    run_gateway(body, max_message_rate=50)
