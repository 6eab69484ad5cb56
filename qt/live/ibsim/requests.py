"""The gateway simulator's answers to the requests that read state.

Positions, orders, executions, account data, contract details, historical and real-time bars.
Each handler takes the simulator, the asking session and the request's decoded fields
(see ``messages.decode_request``) and writes its answer to that session.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from qt.live.ibsim import messages as msg
from qt.live.ibsim.market import HistoryRequestError
from qt.live.ibsim.script import EndMarker
from qt.live.ibsim.wire import InMsg, OutMsg

if TYPE_CHECKING:
    from qt.live.ibsim.simulator import GatewaySimulator, Session

Handler = Callable[["GatewaySimulator", "Session", dict[str, str]], None]


def _end(gw: GatewaySimulator, s: Session, marker: EndMarker, fields: list[object]) -> None:
    """Send an end marker unless the script withholds it."""
    if marker not in gw.script.withheld:
        s.send(fields)


def _int(text: str, default: int = 0) -> int:
    try:
        return int(text)
    except ValueError:
        return default


def req_positions(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """Every position, then positionEnd; later fills push position updates to this session."""
    b = gw.broker
    for symbol, pos in sorted(b.positions.items()):
        s.send(msg.position(b.account, symbol, pos.quantity, pos.avg_cost, b.currency))
    s.positions_subscribed = True
    _end(gw, s, EndMarker.POSITION_END, [OutMsg.POSITION_END, 1])


def cancel_positions(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """Stop pushing position updates."""
    s.positions_subscribed = False


def req_open_orders(gw: GatewaySimulator, s: Session, d: dict[str, str], *, every_client: bool = False) -> None:
    """The acknowledged working orders of this client (of every client for reqAllOpenOrders), then openOrderEnd."""
    for order in gw.broker.working_orders():
        if order.status != "PendingSubmit" and (every_client or s.client_id in (0, order.client_id)):
            s.send(msg.open_order(order, s.version))
            s.send(msg.order_status(order))
    _end(gw, s, EndMarker.OPEN_ORDER_END, [OutMsg.OPEN_ORDER_END, 1])


def req_all_open_orders(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """Working orders of every client."""
    req_open_orders(gw, s, d, every_client=True)


def req_completed_orders(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """Filled, cancelled and rejected orders, then completedOrdersEnd."""
    for order in gw.broker.done_orders():
        s.send(msg.completed_order(order, s.version))
    _end(gw, s, EndMarker.COMPLETED_ORDERS_END, [OutMsg.COMPLETED_ORDERS_END])


def req_executions(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """Executions matching the filter (client id, account, symbol, side, time), each with its commission report."""
    req_id = _int(d["req_id"], -1)
    client_id, symbol, side = _int(d.get("client_id", "")), d.get("symbol", ""), d.get("side", "").upper()
    since = d.get("time", "").strip()
    for ex in gw.broker.executions:
        o = ex.order
        if (client_id and o.client_id != client_id) or (symbol and o.symbol != symbol):
            continue
        if (side and side not in (ex.side, o.action)) or (d.get("account") and d["account"] != o.account):
            continue
        if since and ex.time.strftime("%Y%m%d %H:%M:%S") < since.replace("-", " ")[:17]:
            continue
        s.send(msg.execution(req_id, ex, s.version, gw.time_text(ex.time)))
        s.send(msg.commission_report(ex, gw.broker.currency))
    _end(gw, s, EndMarker.EXEC_DETAILS_END, [OutMsg.EXECUTION_DATA_END, 1, req_id])


def account_values(gw: GatewaySimulator) -> dict[str, float]:
    """Cash, positions at their last price, net liquidation, P&L: the account tags the simulator reports."""
    b, gross, unrealized = gw.broker, 0.0, 0.0
    for symbol, pos in b.positions.items():
        price = gw.market.last_price(symbol) or pos.avg_cost
        gross += abs(pos.quantity * price)
        unrealized += pos.quantity * (price - pos.avg_cost)
    net = b.cash + sum(p.quantity * (gw.market.last_price(s) or p.avg_cost) for s, p in b.positions.items())
    return {
        "NetLiquidation": net, "TotalCashValue": b.cash, "CashBalance": b.cash, "SettledCash": b.cash,
        "GrossPositionValue": gross, "AvailableFunds": net, "BuyingPower": 4 * net, "EquityWithLoanValue": net,
        "UnrealizedPnL": unrealized, "RealizedPnL": b.realized_pnl,
    }  # fmt: skip


def push_account(gw: GatewaySimulator, s: Session, symbols: list[str] | None = None) -> None:
    """Account values, portfolio lines (of ``symbols``, default every position) and the update time.

    reqAccountUpdates' answer, and what subscribers get after fills (a closed position is sent
    with quantity 0, which removes it from the client's portfolio).
    """
    b = gw.broker
    s.send(msg.account_value("AccountCode", b.account, "", b.account))
    for key, value in account_values(gw).items():
        s.send(msg.account_value(key, round(value, 2), b.currency, b.account))
    for symbol in sorted(b.positions) if symbols is None else symbols:
        pos = b.positions.get(symbol)
        qty, cost = (pos.quantity, pos.avg_cost) if pos else (0.0, 0.0)
        price = gw.market.last_price(symbol) or cost
        s.send(msg.portfolio_value(b.account, symbol, qty, price, cost, b.currency))
    s.send([OutMsg.ACCOUNT_UPDATE_TIME, 1, datetime.now(UTC).strftime("%H:%M")])


def req_account_updates(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """Subscribe (or unsubscribe) to account updates; the first answer ends with accountDownloadEnd."""
    s.account_subscribed = d.get("subscribe") == "1"
    if s.account_subscribed:
        push_account(gw, s)
        _end(gw, s, EndMarker.ACCOUNT_DOWNLOAD_END, [OutMsg.ACCOUNT_DOWNLOAD_END, 1, gw.broker.account])


def req_account_updates_multi(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """Account values for one account and model, then accountUpdateMultiEnd."""
    req_id, b = _int(d["req_id"], -1), gw.broker
    for key, value in account_values(gw).items():
        s.send(
            [
                OutMsg.ACCOUNT_UPDATE_MULTI,
                1,
                req_id,
                b.account,
                d.get("model_code", ""),
                key,
                round(value, 2),
                b.currency,
            ]
        )
    _end(gw, s, EndMarker.ACCOUNT_UPDATE_MULTI_END, [OutMsg.ACCOUNT_UPDATE_MULTI_END, 1, req_id])


def req_account_summary(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """The requested tags the simulator knows, then accountSummaryEnd."""
    req_id, b = _int(d["req_id"], -1), gw.broker
    wanted = {t.strip() for t in d.get("tags", "").split(",") if t.strip()}
    values: dict[str, object] = {k: round(v, 2) for k, v in account_values(gw).items()}
    values["AccountType"] = "INDIVIDUAL"
    for tag, value in values.items():
        if tag in wanted:
            currency = "" if tag == "AccountType" else b.currency
            s.send([OutMsg.ACCOUNT_SUMMARY, 1, req_id, b.account, tag, value, currency])
    s.send([OutMsg.ACCOUNT_SUMMARY_END, 1, req_id])


def req_contract_details(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """One US stock per known symbol (by symbol or conId); error 200 otherwise."""
    req_id = _int(d["req_id"], -1)
    symbol = gw.symbol_for(d.get("symbol", ""), _int(d.get("con_id", "")))
    sec_type = d.get("sec_type", "")
    if symbol is None or sec_type not in ("", "STK"):
        s.send(msg.error(req_id, 200, "No security definition has been found for the request", s.version))
        return
    s.send(msg.contract_details(req_id, symbol, s.version, gw.broker.currency))
    _end(gw, s, EndMarker.CONTRACT_DETAILS_END, [OutMsg.CONTRACT_DATA_END, 1, req_id])


def req_historical_data(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """Daily bars up to the replay cursor; error 162 for what the data cannot answer."""
    req_id = _int(d["req_id"], -1)
    symbol = gw.symbol_for(d.get("symbol", ""), _int(d.get("con_id", "")))
    if symbol is None:
        s.send(msg.error(req_id, 200, "No security definition has been found for the request", s.version))
        return
    try:
        bars = gw.market.history(symbol, d.get("end", ""), d.get("duration", ""), d.get("bar_size", ""))
    except HistoryRequestError as exc:
        s.send(msg.error(req_id, 162, f"Historical Market Data Service error message:{exc}", s.version))
        return
    epoch = d.get("format_date") == "2"
    rows = [(str(int(ts.timestamp())) if epoch else ts.strftime("%Y%m%d"), *bar) for ts, bar in bars]
    first = bars[0][0] if bars else gw.market.timestamp()
    s.send(
        msg.historical_data(
            req_id, first.strftime("%Y%m%d %H:%M:%S"), gw.market.timestamp().strftime("%Y%m%d %H:%M:%S"), rows
        )
    )
    if d.get("keep_up_to_date") == "1":
        s.live_history[req_id] = symbol


def req_real_time_bars(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """Subscribe to the replay: every bar the cursor reaches is sent as one real-time bar."""
    req_id = _int(d["req_id"], -1)
    symbol = gw.symbol_for(d.get("symbol", ""), _int(d.get("con_id", "")))
    if symbol is None:
        s.send(msg.error(req_id, 200, "No security definition has been found for the request", s.version))
        return
    s.real_time_bars[req_id] = symbol


def req_mkt_data(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """Last and close ticks of the current bar, and a last tick at every replayed bar."""
    req_id = _int(d["req_id"], -1)
    symbol = gw.symbol_for(d.get("symbol", ""), _int(d.get("con_id", "")))
    if symbol is None:
        s.send(msg.error(req_id, 200, "No security definition has been found for the request", s.version))
        return
    s.market_data[req_id] = symbol
    price = gw.market.last_price(symbol)
    if price is not None:
        for tick_type in (4, 9):  # LAST, CLOSE
            s.send([1, 6, req_id, tick_type, price, 0, 0])


def _cancel(attr: str) -> Handler:
    def handler(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
        getattr(s, attr).pop(_int(d.get("req_id", ""), -1), None)

    return handler


def _ignore(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """Requests recorded but needing no answer (market data type, auto-bind of manual orders)."""


def req_ids(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """The next valid order id."""
    s.send([OutMsg.NEXT_VALID_ID, 1, gw.broker.next_valid_id])


def req_managed_accounts(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """The managed account list."""
    s.send([OutMsg.MANAGED_ACCOUNTS, 1, gw.broker.account])


def req_current_time(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """The gateway's clock, in epoch seconds."""
    s.send([OutMsg.CURRENT_TIME, 1, int(datetime.now(UTC).timestamp())])


HANDLERS: dict[int, Handler] = {
    InMsg.REQ_POSITIONS: req_positions,
    InMsg.CANCEL_POSITIONS: cancel_positions,
    InMsg.REQ_OPEN_ORDERS: req_open_orders,
    InMsg.REQ_ALL_OPEN_ORDERS: req_all_open_orders,
    InMsg.REQ_AUTO_OPEN_ORDERS: _ignore,
    InMsg.REQ_COMPLETED_ORDERS: req_completed_orders,
    InMsg.REQ_EXECUTIONS: req_executions,
    InMsg.REQ_ACCOUNT_UPDATES: req_account_updates,
    InMsg.REQ_ACCOUNT_UPDATES_MULTI: req_account_updates_multi,
    InMsg.CANCEL_ACCOUNT_UPDATES_MULTI: _ignore,
    InMsg.REQ_ACCOUNT_SUMMARY: req_account_summary,
    InMsg.CANCEL_ACCOUNT_SUMMARY: _ignore,
    InMsg.REQ_CONTRACT_DETAILS: req_contract_details,
    InMsg.REQ_HISTORICAL_DATA: req_historical_data,
    InMsg.CANCEL_HISTORICAL_DATA: _cancel("live_history"),
    InMsg.REQ_REAL_TIME_BARS: req_real_time_bars,
    InMsg.CANCEL_REAL_TIME_BARS: _cancel("real_time_bars"),
    InMsg.REQ_MKT_DATA: req_mkt_data,
    InMsg.CANCEL_MKT_DATA: _cancel("market_data"),
    InMsg.REQ_MARKET_DATA_TYPE: _ignore,
    InMsg.REQ_IDS: req_ids,
    InMsg.REQ_MANAGED_ACCOUNTS: req_managed_accounts,
    InMsg.REQ_CURRENT_TIME: req_current_time,
}
