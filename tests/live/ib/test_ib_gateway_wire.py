"""The simulator's messages read by ib_async's own decoder, field by field, and the paper account's arithmetic.

A message with one field too many or too few shifts every later field; the tests put distinct
values in the last fields and check they land in the attributes ib_async reads them into.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from ib_async.decoder import Decoder

from qt.live.ibsim import messages as msg
from qt.live.ibsim.broker import Broker, contract_id
from qt.live.ibsim.market import parse_duration, parse_end
from qt.live.ibsim.orders import chunk_sizes
from qt.live.ibsim.wire import SUPPORTED_SERVER_VERSIONS, decode, encode, field_text


class Capture:
    """A stand-in for ib_async's Wrapper that keeps what the decoder hands it."""

    defaultTimezone = UTC

    class ib:
        TimezoneTWS = ""

    def __init__(self) -> None:
        self.calls: dict[str, tuple] = {}

    def __getattr__(self, name: str):
        def record(*args):
            self.calls[name] = args

        return record


def _decode(fields: list[object], version: int) -> dict[str, tuple]:
    wrapper = Capture()
    Decoder(wrapper, version).interpret(decode(encode(fields)[4:]))
    return wrapper.calls


def _order(broker: Broker):
    o = broker.new_order(
        order_id=12, client_id=7, symbol="AAPL", action="BUY", quantity=300, order_type="LMT",
        limit_price=101.5, tif="DAY", order_ref="qt-abc",
    )  # fmt: skip
    o.status = "Submitted"
    return o


VERSIONS = [157, 163, 164, 170, 176, 177, 178]


@pytest.mark.parametrize("version", VERSIONS)
def test_open_order_fields_line_up_with_ib_async(version: int) -> None:
    order = _order(Broker())
    fields = msg.open_order(order, version)
    if version >= 170:
        fields[-5:] = [11, 12, 0.13, 0.14, 0.15]
    calls = _decode(fields, version)
    order_id, contract, o, state = calls["openOrder"]
    assert (order_id, contract.symbol, contract.conId, contract.secType) == (12, "AAPL", contract_id("AAPL"), "STK")
    assert (o.action, o.totalQuantity, o.orderType, o.lmtPrice, o.orderRef) == ("BUY", 300.0, "LMT", 101.5, "qt-abc")
    assert (o.clientId, o.permId, o.whatIf, state.status) == (7, order.perm_id, False, "Submitted")
    if version >= 170:
        assert (o.minTradeQty, o.minCompeteSize, o.competeAgainstBestOffset) == (11, 12, 0.13)
        assert (o.midOffsetAtWhole, o.midOffsetAtHalf) == (0.14, 0.15)


@pytest.mark.parametrize("version", VERSIONS)
def test_completed_order_fields_line_up_with_ib_async(version: int) -> None:
    broker = Broker()
    order = _order(broker)
    broker.execute(order, 300, 101.0, datetime(2024, 1, 4, 15, 0, tzinfo=UTC))
    fields = msg.completed_order(order, version)
    if version >= 170:
        fields[-5:] = [21, 22, 0.23, 0.24, 0.25]
    contract, o, state = _decode(fields, version)["completedOrder"]
    assert (contract.symbol, o.orderRef, o.permId, o.totalQuantity, o.filledQuantity) == (
        "AAPL",
        "qt-abc",
        order.perm_id,
        300.0,
        300.0,
    )
    assert (state.status, state.completedStatus, state.completedTime) == ("Filled", "Filled", "20240104 15:00:00 UTC")
    if version >= 170:
        assert (o.minTradeQty, o.midOffsetAtHalf) == (21, 0.25)


@pytest.mark.parametrize("version", VERSIONS)
def test_execution_and_commission_fields_line_up_with_ib_async(version: int) -> None:
    broker = Broker()
    ex = broker.execute(_order(broker), 100, 101.0, datetime(2024, 1, 4, 15, 0, tzinfo=UTC))
    fields = msg.execution(-1, ex, version, "20240104 10:00:00 US/Eastern")
    if version >= 178:
        fields[-1] = 1  # pendingPriceRevision
    req_id, contract, e = _decode(fields, version)["execDetails"]
    assert (req_id, contract.symbol, e.orderId, e.execId, e.side, e.shares, e.price) == (
        -1,
        "AAPL",
        12,
        ex.exec_id,
        "BOT",
        100.0,
        101.0,
    )
    assert (e.permId, e.clientId, e.cumQty, e.avgPrice, e.orderRef, e.lastLiquidity) == (
        ex.order.perm_id,
        7,
        100.0,
        101.0,
        "qt-abc",
        1,
    )
    assert e.time == datetime(2024, 1, 4, 15, 0, tzinfo=UTC)  # 10:00 New York in winter
    assert e.pendingPriceRevision is (version >= 178)
    (report,) = _decode(msg.commission_report(ex, "USD"), version)["commissionReport"]
    assert (report.execId, report.commission, report.currency) == (ex.exec_id, 1.0, "USD")


@pytest.mark.parametrize("version", VERSIONS)
def test_contract_details_fields_line_up_with_ib_async(version: int) -> None:
    fields = msg.contract_details(5, "MSFT", version)
    if version >= 163:
        fields[-1] = 77  # suggestedSizeIncrement
    req_id, cd = _decode(fields, version)["contractDetails"]
    c = cd.contract
    assert (req_id, c.symbol, c.secType, c.conId, c.exchange, c.primaryExchange, c.currency) == (
        5, "MSFT", "STK", contract_id("MSFT"), "SMART", "NYSE", "USD",
    )  # fmt: skip
    assert (cd.minTick, cd.longName, cd.timeZoneId, cd.stockType) == (0.01, "MSFT", "US/Eastern", "COMMON")
    if version >= 163:
        assert cd.suggestedSizeIncrement == 77


def test_fixed_size_messages_decode_exactly() -> None:
    v = 178
    account, contract, qty, cost = _decode(msg.position("DU1", "GE", -5.0, 12.5, "USD"), v)["position"]
    assert (account, contract.symbol, qty, cost) == ("DU1", "GE", -5.0, 12.5)
    args = _decode(msg.portfolio_value("DU1", "GE", 10.0, 13.0, 12.0, "USD"), v)["updatePortfolio"]
    assert args[1:] == (10.0, 13.0, 130.0, 12.0, 10.0, 0.0, "DU1")
    assert _decode(msg.error(4, 201, "Order rejected", v), v)["error"] == (4, 201, "Order rejected", "")
    assert _decode(msg.error(4, 201, "Order rejected", 165), 165)["error"] == (4, 201, "Order rejected", "")
    order = _order(Broker())
    order.last_fill_price = 101.25
    status = _decode(msg.order_status(order), v)["orderStatus"]
    assert status[:3] == (12, "Submitted", 0.0) and status[7:9] == (101.25, 7)
    bar = _decode(msg.realtime_bar(3, 1704412800, 1.0, 2.0, 0.5, 1.5, 10.0), v)["realtimeBar"]
    assert bar == (3, 1704412800, 1.0, 2.0, 0.5, 1.5, 10.0, 1.5, 1)


def test_every_supported_version_is_one_ib_async_accepts() -> None:
    from ib_async.client import Client

    assert SUPPORTED_SERVER_VERSIONS.start == Client.MinClientVersion
    assert SUPPORTED_SERVER_VERSIONS.stop - 1 == Client.MaxClientVersion


def test_field_text_blanks_ib_unset_values() -> None:
    assert [field_text(v) for v in (1.7976931348623157e308, 2147483647, float("nan"), False, 0.1)] == [
        "",
        "",
        "",
        "0",
        "0.1",
    ]


def test_the_log_guard_catches_a_decoder_error(ib_log_guard) -> None:
    Decoder(Capture(), 178).interpret(["61", "3", "DU1", "not-an-int"])  # a position message cut short
    assert any("ib_async.Decoder" in p for p in ib_log_guard.problems)
    ib_log_guard.problems.clear()  # caught: this test is about the guard, not a failure


def test_the_log_guard_ignores_ordinary_ib_errors(ib_log_guard) -> None:
    logging.getLogger("ib_async.wrapper").error("Error 201, reqId 4: Order rejected - reason:no")
    assert ib_log_guard.problems == []


def test_broker_average_cost_realized_pnl_and_cash_by_hand() -> None:
    b = Broker(cash=10_000.0)
    buy = b.new_order(
        order_id=1,
        client_id=1,
        symbol="X",
        action="BUY",
        quantity=300,
        order_type="MKT",
        limit_price=None,
        tif="DAY",
        order_ref="a",
    )
    b.execute(buy, 300, 10.0)  # commission max(1, 1.5) = 1.5
    assert b.positions["X"].avg_cost == pytest.approx((3000 + 1.5) / 300)
    sell = b.new_order(
        order_id=2,
        client_id=1,
        symbol="X",
        action="SELL",
        quantity=500,
        order_type="MKT",
        limit_price=None,
        tif="DAY",
        order_ref="b",
    )
    ex = b.execute(sell, 500, 12.0)  # closes 300, opens 200 short; commission 2.5
    assert ex.realized_pnl == pytest.approx(300 * (12.0 - 3001.5 / 300) - 2.5)
    assert b.positions["X"].quantity == -200 and b.positions["X"].avg_cost == 12.0
    assert b.cash == pytest.approx(10_000 - 3000 - 1.5 + 6000 - 2.5)
    assert b.next_valid_id == 3
    with pytest.raises(KeyError, match="orderRef 'zz'"):
        b.find(order_ref="zz")


def test_chunks_durations_and_end_times() -> None:
    assert chunk_sizes(10, 4) == [2.0, 2.0, 2.0, 4.0]
    assert chunk_sizes(0.5, 3) == [0.5]
    end = datetime(2024, 3, 15, tzinfo=UTC)
    assert parse_duration("1 Y", end).days == 366  # 2023-03-15 .. 2024-03-15 spans Feb 29
    assert parse_duration("3 D", end).days == 3
    assert parse_end("20240315-12:00:00") == datetime(2024, 3, 15, 12, tzinfo=UTC)
    assert parse_end("20240701 12:00:00 Europe/London") == datetime(2024, 7, 1, 11, tzinfo=UTC)
