"""Field lists of the gateway's messages, exactly as ib_async 2.1.0's decoder reads them at a given server version.

Each builder returns the fields of one message (``wire.encode`` frames them). Gates follow
ib_async's decoder: faProfile before 177, duration 159+, postToAts 160+, autoCancelParent
162+, the advanced-reject field of errors 166+, the peg/compete block 170+, an execution's
pendingPriceRevision 178+, contract details' size rules 164+.
"""

from __future__ import annotations

from qt.live.ibsim.broker import SimExecution, SimOrder, contract_id
from qt.live.ibsim.wire import InMsg, OutMsg

Fields = list[object]

#: Where the simulator says its stocks list (it is one venue; IB's real primary exchanges vary).
PRIMARY_EXCHANGE = "NYSE"


def _contract(symbol: str, exchange: str = "SMART", currency: str = "USD") -> Fields:
    """conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange, currency, localSymbol, tradingClass."""
    return [contract_id(symbol), symbol, "STK", "", 0.0, "", "", exchange, currency, symbol, symbol]


def error(req_id: int, code: int, text: str, version: int) -> Fields:
    """An error or notice; ``req_id`` is the order or request id, -1 for the connection."""
    fields: Fields = [OutMsg.ERROR, 2, req_id, code, text]
    if version >= 166:
        fields.append("")  # advancedOrderRejectJson
    return fields


def order_status(order: SimOrder) -> Fields:
    """orderStatus: status, filled, remaining, average and last fill price, perm id, client id."""
    return [
        OutMsg.ORDER_STATUS, order.order_id, order.status, order.filled, order.remaining,
        order.avg_fill_price, order.perm_id, 0, order.last_fill_price, order.client_id, "", 0.0,
    ]  # fmt: skip


def _order_head(order: SimOrder) -> Fields:
    """Action .. origin, orderRef: the fields openOrder and completedOrder share after the contract."""
    limit = order.limit_price if order.order_type == "LMT" else None
    return [
        order.action, order.quantity, order.order_type, limit, None, order.tif, "",
        order.account, "", 0, order.order_ref,
    ]  # fmt: skip


def open_order(order: SimOrder, version: int) -> Fields:
    """OpenOrder for a plain stock order (no combo legs, algo, conditions, scale or hedge parts)."""
    f: Fields = [OutMsg.OPEN_ORDER, order.order_id, *_contract(order.symbol, order.exchange, order.currency)]
    f += _order_head(order)
    f += [order.client_id, order.perm_id, 0, 0, None, "", "", "", "", ""]  # .. goodAfterTime, _, fa* x3
    if version < 177:
        f.append("")  # faProfile
    f += ["", "", "", None, "", 0, "", -1, 0, None, None, None, None, None, 0, 0, 0, 0, None, 0, 0, 0, None, 0, 0]
    f += [None, None, "", None]  # volatility, volatilityType, deltaNeutralOrderType, deltaNeutralAuxPrice
    f += [0, None, None, None, None, None, ""]  # continuousUpdate .. basisPointsType, comboLegsDescrip
    f += [0, 0, 0]  # combo legs, order combo legs, smart combo routing params
    f += [None, None, None]  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
    f += [""]  # hedgeType
    f += [0, "", "", 0, 0]  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld, no delta-neutral
    f += [""]  # algoStrategy
    f += [0, 0, order.status, "", "", "", "", "", "", "", "", "", None, None, None, "", "", 0, 0]
    f += [0]  # conditions
    f += ["", None, None, None, None, None, None, 0, "", "", "", None, 0, 0, 0, 0]
    if version >= 159:
        f.append(None)  # duration
    if version >= 160:
        f.append(None)  # postToAts
    if version >= 162:
        f.append(0)  # autoCancelParent
    if version >= 170:
        f += [None, None, None, None, None]  # minTradeQty .. midOffsetAtHalf
    return f


def completed_order(order: SimOrder, version: int) -> Fields:
    """CompletedOrder for a finished plain stock order."""
    f: Fields = [OutMsg.COMPLETED_ORDER, *_contract(order.symbol, order.exchange, order.currency)]
    f += _order_head(order)
    f += [order.perm_id, 0, 0, None, "", "", "", ""]  # permId .. goodAfterTime, fa* x3
    if version < 177:
        f.append("")  # faProfile
    f += ["", "", "", None, "", 0, "", -1, None, None, None, None, None, 0, 0, 0, None, 0, 0, None, None, "", None]
    f += [0, None, None, None, ""]  # continuousUpdate .. trailingPercent, comboLegsDescrip
    f += [0, 0, 0]  # combo legs, order combo legs, smart combo routing params
    f += [None, None, None, ""]  # scale sizes and increment, hedgeType
    f += ["", "", 0, 0]  # clearingAccount, clearingIntent, notHeld, no delta-neutral
    f += [""]  # algoStrategy
    f += [0, order.status, 0, 0]  # solicited, status, randomizeSize, randomizePrice
    f += [0]  # conditions
    f += [None, None, None, 0, 0, "", order.filled, 0, 0, "", 0, 0, 0, order.completed_time, order.completed_status]
    if version >= 170:
        f += [None, None, None, None, None]
    return f


def execution(req_id: int, ex: SimExecution, version: int, time_text: str) -> Fields:
    """ExecDetails of one fill (``req_id`` -1 for a live fill, the request's id for reqExecutions)."""
    o = ex.order
    f: Fields = [OutMsg.EXECUTION_DATA, req_id, o.order_id, *_contract(o.symbol, o.exchange, o.currency)]
    f += [ex.exec_id, time_text, o.account, "ISLAND", ex.side, ex.shares, ex.price, o.perm_id, o.client_id, 0]
    f += [ex.cum_qty, ex.avg_price, o.order_ref, "", None, "", 1]  # .. evRule, evMultiplier, modelCode, lastLiquidity
    if version >= 178:
        f.append(0)  # pendingPriceRevision
    return f


def commission_report(ex: SimExecution, currency: str) -> Fields:
    """CommissionReport of one execution."""
    return [OutMsg.COMMISSION_REPORT, 1, ex.exec_id, ex.commission, currency, ex.realized_pnl, None, None]


def position(account: str, symbol: str, quantity: float, avg_cost: float, currency: str) -> Fields:
    """One position (answer to reqPositions, and pushed after fills)."""
    return [OutMsg.POSITION_DATA, 3, account, *_contract(symbol, "", currency), quantity, avg_cost]


def portfolio_value(account: str, symbol: str, quantity: float, price: float, avg_cost: float, currency: str) -> Fields:
    """updatePortfolio: position, market price and value, average cost, unrealized and realized P&L."""
    c = _contract(symbol, currency=currency)
    value = quantity * price
    unrealized = value - quantity * avg_cost
    head = [c[0], c[1], c[2], c[3], c[4], c[5], c[6], PRIMARY_EXCHANGE, c[8], c[9], c[10]]
    return [OutMsg.PORTFOLIO_VALUE, 8, *head, quantity, price, value, avg_cost, unrealized, 0.0, account]


def account_value(key: str, value: object, currency: str, account: str) -> Fields:
    """UpdateAccountValue."""
    return [OutMsg.ACCOUNT_VALUE, 2, key, value, currency, account]


def contract_details(req_id: int, symbol: str, version: int, currency: str = "USD") -> Fields:
    """ContractDetails of a US stock routed SMART."""
    f: Fields = [OutMsg.CONTRACT_DATA] + ([6] if version < 164 else [])
    f += [req_id, symbol, "STK", "", 0.0, "", "SMART", currency, symbol, "NMS", symbol, contract_id(symbol), 0.01]
    if version < 164:
        f.append(1)  # mdSizeMultiplier
    f += ["", "ACTIVETIM,ADJUST,ALERT,ALLOC,DAY,GTC,LMT,MKT", f"SMART,{PRIMARY_EXCHANGE}", 1, 0, symbol]
    f += [PRIMARY_EXCHANGE, "", "", "", "", "US/Eastern", "", "", "", None, 0]  # .. evMultiplier, no secIds
    f += [1, "", "", "26", "", "COMMON"]  # aggGroup .. stockType
    if version == 163:
        f.append(1)  # suggestedSizeIncrement
    if version >= 164:
        f += [1, 1, 100]  # minSize, sizeIncrement, suggestedSizeIncrement
    return f


def historical_data(
    req_id: int, start: str, end: str, bars: list[tuple[str, float, float, float, float, float]]
) -> Fields:
    """historicalData: (date, open, high, low, close, volume) bars; WAP = close, bar count 1."""
    f: Fields = [OutMsg.HISTORICAL_DATA, req_id, start, end, len(bars)]
    for date, o, h, lo, c, v in bars:
        f += [date, o, h, lo, c, v, c, 1]
    return f


def realtime_bar(req_id: int, epoch: int, o: float, h: float, lo: float, c: float, v: float) -> Fields:
    """realtimeBar: one bar at ``epoch`` seconds; WAP = close, count 1."""
    return [OutMsg.REAL_TIME_BARS, 3, req_id, epoch, o, h, lo, c, v, c, 1]


def _at(fields: list[str], i: int) -> str:
    return fields[i] if i < len(fields) else ""


#: Positions of the decoded fields of each request (a contract occupies 12 fields from ``conId``).
_LAYOUT: dict[int, dict[str, int]] = {
    InMsg.PLACE_ORDER: {
        "order_id": 1, "con_id": 2, "symbol": 3, "sec_type": 4, "exchange": 9, "currency": 11,
        "action": 16, "quantity": 17, "order_type": 18, "limit_price": 19, "aux_price": 20, "tif": 21,
        "account": 23, "order_ref": 26, "transmit": 27,
    },
    InMsg.CANCEL_ORDER: {"order_id": 2},
    InMsg.START_API: {"client_id": 2, "optional_capabilities": 3},
    InMsg.REQ_IDS: {"num_ids": 2},
    InMsg.REQ_ACCOUNT_UPDATES: {"subscribe": 2, "account": 3},
    InMsg.REQ_EXECUTIONS: {"req_id": 2, "client_id": 3, "account": 4, "time": 5, "symbol": 6, "side": 9},
    InMsg.REQ_CONTRACT_DETAILS: {"req_id": 2, "con_id": 3, "symbol": 4, "sec_type": 5, "exchange": 10, "currency": 12},
    InMsg.REQ_HISTORICAL_DATA: {
        "req_id": 1, "con_id": 2, "symbol": 3, "sec_type": 4, "exchange": 9, "currency": 11,
        "end": 15, "bar_size": 16, "duration": 17, "use_rth": 18, "what_to_show": 19, "format_date": 20,
        "keep_up_to_date": 21,
    },
    InMsg.CANCEL_HISTORICAL_DATA: {"req_id": 2},
    InMsg.REQ_REAL_TIME_BARS: {"req_id": 2, "con_id": 3, "symbol": 4, "bar_size": 15, "what_to_show": 16},
    InMsg.CANCEL_REAL_TIME_BARS: {"req_id": 2},
    InMsg.REQ_ACCOUNT_SUMMARY: {"req_id": 2, "group": 3, "tags": 4},
    InMsg.CANCEL_ACCOUNT_SUMMARY: {"req_id": 2},
    InMsg.REQ_ACCOUNT_UPDATES_MULTI: {"req_id": 2, "account": 3, "model_code": 4},
    InMsg.CANCEL_ACCOUNT_UPDATES_MULTI: {"req_id": 2},
    InMsg.REQ_COMPLETED_ORDERS: {"api_only": 1},
    InMsg.REQ_MKT_DATA: {"req_id": 2, "con_id": 3, "symbol": 4},
    InMsg.CANCEL_MKT_DATA: {"req_id": 2},
}  # fmt: skip


def decode_request(fields: list[str]) -> dict[str, str]:
    """The named fields of a client request (empty for requests without any worth naming).

    Examples
    --------
    >>> decode_request(["4", "1", "12", ""])
    {'order_id': '12'}
    """
    try:
        msg_id = int(fields[0])
    except (IndexError, ValueError):
        return {}
    layout = _LAYOUT.get(msg_id, {})
    return {name: _at(fields, i) for name, i in layout.items()}
