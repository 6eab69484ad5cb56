"""The ``--record`` names of the gateway's messages agree with what ib_async's own decoder reads; the state file round-trips.

The recorder names fields by position; a position off by one would name the wrong value, so each named
field is checked against the attribute ib_async decodes from the same bytes, at every server version.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ib_async.decoder import Decoder

from qt.live.ibsim import messages as msg
from qt.live.ibsim import state as account_state
from qt.live.ibsim.broker import Broker
from qt.live.ibsim.recorder import REDACTED, Recorder
from qt.live.ibsim.wire import SUPPORTED_SERVER_VERSIONS, OutMsg, decode, encode

VERSIONS = list(SUPPORTED_SERVER_VERSIONS)


class Capture:
    """A stand-in for ib_async's Wrapper keeping every call the decoder makes."""

    defaultTimezone = UTC

    class ib:
        TimezoneTWS = ""

    def __init__(self) -> None:
        self.calls: dict[str, tuple] = {}

    def __getattr__(self, name: str):
        def record(*args):
            self.calls[name] = args

        return record


def _both(fields: list[object], version: int, tmp_path: Path) -> tuple[dict[str, str], dict[str, tuple]]:
    """(what the recorder names, what ib_async decodes) for one message."""
    path = tmp_path / f"r{version}.jsonl"
    path.unlink(missing_ok=True)
    r = Recorder(path, own_account="DU0000001", environ={})
    r.sent(1, 7, fields)
    r.close()
    wrapper = Capture()
    Decoder(wrapper, version).interpret(decode(encode(fields)[4:]))
    return json.loads(path.read_text())["fields"], wrapper.calls


def _filled_broker() -> tuple[Broker, object, object]:
    b = Broker()
    o = b.new_order(
        order_id=12, client_id=7, symbol="AAPL", action="SELL", quantity=300, order_type="LMT",
        limit_price=101.5, tif="GTC", order_ref="qt-abc",
    )  # fmt: skip
    ex = b.execute(o, 120, 101.75, datetime(2024, 1, 4, 15, 0, tzinfo=UTC))
    return b, o, ex


@pytest.mark.parametrize("version", VERSIONS)
def test_order_messages_are_named_as_ib_async_reads_them(version: int, tmp_path: Path) -> None:
    b, o, ex = _filled_broker()
    named, calls = _both(msg.open_order(o, version), version, tmp_path)
    order_id, contract, order, _ = calls["openOrder"]
    assert named["order_id"] == str(order_id) and named["symbol"] == contract.symbol
    assert (named["action"], float(named["quantity"]), named["order_type"]) == (
        order.action, order.totalQuantity, order.orderType,
    )  # fmt: skip
    assert (float(named["limit_price"]), named["tif"], named["account"]) == (order.lmtPrice, order.tif, order.account)
    assert (named["order_ref"], int(named["client_id"]), int(named["perm_id"])) == (
        order.orderRef, order.clientId, order.permId,
    )  # fmt: skip

    b.finish(o, "Cancelled", "Cancelled")
    named, calls = _both(msg.completed_order(o, version), version, tmp_path)
    contract, order, _ = calls["completedOrder"]
    assert (named["symbol"], named["action"], float(named["quantity"]), named["order_type"]) == (
        contract.symbol, order.action, order.totalQuantity, order.orderType,
    )  # fmt: skip
    assert (float(named["limit_price"]), named["tif"], named["account"], named["order_ref"]) == (
        order.lmtPrice, order.tif, order.account, order.orderRef,
    )  # fmt: skip
    assert int(named["perm_id"]) == order.permId

    named, calls = _both(msg.order_status(o), version, tmp_path)
    args = calls["orderStatus"]
    assert (int(named["order_id"]), named["status"], float(named["filled"]), float(named["remaining"])) == args[:4]
    assert (float(named["avg_fill_price"]), int(named["perm_id"])) == args[4:6]
    assert (float(named["last_fill_price"]), int(named["client_id"])) == args[7:9]

    named, calls = _both(msg.execution(-1, ex, version, "20240104 15:00:00 UTC"), version, tmp_path)
    req_id, contract, e = calls["execDetails"]
    assert (int(named["req_id"]), int(named["order_id"]), named["symbol"]) == (req_id, e.orderId, contract.symbol)
    assert (named["exec_id"], named["account"], named["side"]) == (e.execId, e.acctNumber, e.side)
    assert (float(named["shares"]), float(named["price"]), int(named["perm_id"]), int(named["client_id"])) == (
        e.shares, e.price, e.permId, e.clientId,
    )  # fmt: skip
    assert (float(named["cum_qty"]), float(named["avg_price"]), named["order_ref"]) == (
        e.cumQty,
        e.avgPrice,
        e.orderRef,
    )

    named, calls = _both(msg.commission_report(ex, "USD"), version, tmp_path)
    [report] = calls["commissionReport"]
    assert (named["exec_id"], float(named["commission"]), named["currency"], float(named["realized_pnl"])) == (
        report.execId, report.commission, report.currency, report.realizedPNL,
    )  # fmt: skip


@pytest.mark.parametrize("version", VERSIONS)
def test_session_and_account_messages_are_named_as_ib_async_reads_them(version: int, tmp_path: Path) -> None:
    named, calls = _both(msg.error(12, 202, "Order Canceled - reason:", version), version, tmp_path)
    assert (int(named["req_id"]), int(named["code"]), named["text"]) == calls["error"][:3]
    named, calls = _both([OutMsg.NEXT_VALID_ID, 1, 41], version, tmp_path)
    assert int(named["order_id"]) == calls["nextValidId"][0] == 41
    named, calls = _both([OutMsg.MANAGED_ACCOUNTS, 1, "DU0000001"], version, tmp_path)
    assert named["accounts"] == calls["managedAccounts"][0]
    named, calls = _both(msg.position("DU0000001", "MSFT", -40.0, 310.25, "USD"), version, tmp_path)
    account, contract, position, cost = calls["position"]
    assert (named["account"], named["symbol"], float(named["position"]), float(named["avg_cost"])) == (
        account, contract.symbol, position, cost,
    )  # fmt: skip
    named, calls = _both(msg.account_value("NetLiquidation", 1234.5, "USD", "DU0000001"), version, tmp_path)
    assert (named["key"], named["value"], named["currency"], named["account"]) == calls["updateAccountValue"]
    bars = [("20240103", 1.0, 2.0, 0.5, 1.5, 100.0), ("20240104", 1.5, 2.5, 1.0, 2.0, 200.0)]
    named, calls = _both(msg.historical_data(5, "20240101", "20240105", bars), version, tmp_path)
    assert (int(named["req_id"]), named["start"], named["end"]) == calls["historicalDataEnd"]
    assert int(named["bars"]) == 2
    named, calls = _both(msg.realtime_bar(9, 1704412800, 1.0, 2.0, 0.5, 1.5, 300.0), version, tmp_path)
    args = calls["realtimeBar"]
    assert (int(named["req_id"]), int(named["time"])) == (args[0], args[1])
    assert [float(named[k]) for k in ("open", "high", "low", "close", "volume")] == list(args[2:7])
    update = [OutMsg.HISTORICAL_DATA_UPDATE, 4, 1, "20240105", 1.0, 2.5, 3.0, 0.5, 2.5, 10.0]
    named, calls = _both(update, version, tmp_path)
    req_id, bar = calls["historicalDataUpdate"]
    assert (int(named["req_id"]), float(named["close"])) == (req_id, bar.close)


def test_received_and_sent_accounts_other_than_the_simulators_own_and_the_environments_are_redacted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.jsonl"
    r = Recorder(path, own_account="DU0000001", environ={"QT_IB_ACCOUNT": "U1111111"})
    r.received(1, 7, ["6", "2", "1", "U2222222"], {"subscribe": "1", "account": "U2222222"})  # a client's own
    r.received(1, 7, ["74", "1", "9", "U1111111", ""], {})  # unnamed fields: the environment's account
    r.received(1, 7, ["74", "1", "9", "F3333333", ""], {})  # unnamed fields: anything shaped like an account
    r.sent(1, 7, msg.account_value("AccountCode", "DU0000001", "", "DU0000001"))
    r.event("start", account="U1111111")
    r.close()
    text = path.read_text()
    assert "U1111111" not in text and "U2222222" not in text and "F3333333" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["fields"]["account"] == REDACTED and lines[1]["fields"] == ["1", "9", REDACTED, ""]
    assert lines[2]["fields"][2] == REDACTED
    assert lines[3]["fields"]["account"] == "DU0000001"  # the simulator's own account is written as it is
    assert lines[4]["account"] == REDACTED


def test_the_state_round_trips_and_a_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch) -> None:
    b, _, _ = _filled_broker()
    b.set_position("MSFT", -40, 310.25)
    b.new_order(
        order_id=13, client_id=3, symbol="MSFT", action="BUY", quantity=40, order_type="MKT", limit_price=None,
        tif="DAY", order_ref="qt-def",
    )  # fmt: skip
    now = datetime(2024, 1, 4, tzinfo=UTC)
    path = tmp_path / "gw.json"
    account_state.save(path, b, now)
    state = account_state.load(path, symbols=("AAPL", "MSFT"))
    assert state is not None and state.now == now
    back = account_state.restore(state, account="DU0000001")
    assert back == b  # orders, executions (and the order each belongs to), positions, cash, ids
    assert back.executions[0].order is back.orders[12]
    assert (back.cash, back.next_valid_id, back._next_perm_id, back._exec_seq) == (b.cash, 14, b._next_perm_id, 1)

    before = path.read_bytes()
    b.execute(b.orders[13], 40, 300.0)

    def broken(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="No space"):
        account_state.save(path, b, now)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["gw.json"]
