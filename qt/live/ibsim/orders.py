"""The gateway simulator's order flow: placement as the script says, fills, cancels, and what clients are told.

Messages follow TWS's order: openOrder and orderStatus on acknowledgement; execDetails,
orderStatus and commissionReport on each fill; error 202 then orderStatus Cancelled on a
cancel; error 201 (or the script's code) alone on a reject, which ib_async shows as
Cancelled. Order updates go to the sessions of the client that placed the order; a fill
while that client is away is booked all the same and seen at its next synchronization.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from qt.live.ibsim import messages as msg
from qt.live.ibsim.broker import SimExecution, SimOrder
from qt.live.ibsim.script import BlackHole, Fill, OrderAction, Reject, Rest
from qt.live.ibsim.wire import InMsg

if TYPE_CHECKING:
    from qt.live.ibsim.simulator import GatewaySimulator, Session


def chunk_sizes(quantity: float, chunks: int) -> list[float]:
    """Split ``quantity`` into at most ``chunks`` whole-share parts, the remainder on the last.

    Examples
    --------
    >>> chunk_sizes(100, 3)
    [33.0, 33.0, 34.0]
    >>> chunk_sizes(2, 5)
    [1.0, 1.0]
    """
    n = max(1, min(chunks, int(quantity))) if quantity >= 1 else 1
    base = math.floor(quantity / n)
    return [float(base)] * (n - 1) + [float(quantity - base * (n - 1))]


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) or value >= 1e300 else value


def place(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """PLACE_ORDER: a new order goes through the script; a working order's id modifies it; a used id is error 103."""
    order_id = int(d["order_id"])
    existing = gw.broker.orders.get(order_id)
    if existing is not None:
        if existing.is_done or existing.client_id != s.client_id:
            s.send(msg.error(order_id, 103, "Duplicate order id", s.version))
            return
        _modify(gw, existing, d)
        return
    symbol = gw.symbol_for(d.get("symbol", ""), int(d.get("con_id") or 0))
    if symbol is None or d.get("sec_type") not in ("", "STK"):
        s.send(msg.error(order_id, 200, "No security definition has been found for the request", s.version))
        return
    order_type, quantity, limit = (
        d.get("order_type", ""),
        _number(d.get("quantity", "")),
        _number(d.get("limit_price", "")),
    )
    problem = _invalid(order_type, quantity, limit, d.get("action", ""))
    if problem is not None:
        code, text = problem
        s.send(msg.error(order_id, code, text, s.version))
        return
    action = gw.script.action_for(symbol, d.get("order_ref", ""))
    if isinstance(action, BlackHole):
        if action.drop_connections:
            gw.spawn(gw.drop_connections())
        return
    assert quantity is not None
    order = gw.broker.new_order(
        order_id=order_id, client_id=s.client_id or 0, symbol=symbol, action=d["action"], quantity=quantity,
        order_type=order_type, limit_price=limit, tif=d.get("tif", ""), order_ref=d.get("order_ref", ""),
        exchange=d.get("exchange") or "SMART", currency=d.get("currency") or "USD",
    )  # fmt: skip
    order.status = "PendingSubmit"
    gw.spawn(_work(gw, order, action))


def _invalid(order_type: str, quantity: float | None, limit: float | None, action: str) -> tuple[int, str] | None:
    """IB's error for an order the simulator does not take, or None."""
    if action not in ("BUY", "SELL"):
        return 201, f"Order rejected - reason:the simulator takes BUY or SELL orders, not {action!r}"
    if order_type not in ("MKT", "LMT"):
        return 387, f"Unsupported order type for this exchange and security type: {order_type!r} (MKT and LMT only)"
    if quantity is None or quantity <= 0:
        return 434, "The order size cannot be zero."
    if order_type == "LMT" and (limit is None or limit <= 0):
        return 201, "Order rejected - reason:a limit order needs a positive limit price"
    return None


async def _work(gw: GatewaySimulator, order: SimOrder, action: OrderAction) -> None:
    """Carry out the script's action for a new order."""
    if isinstance(action, Reject):
        await asyncio.sleep(action.delay)
        gw.broker.finish(order, "Cancelled", action.text)
        for s in gw.owners(order):
            s.send(msg.error(order.order_id, action.code, action.text, s.version))
        if action.drop_connections:
            await gw.drop_connections()
        return
    assert isinstance(action, Fill | Rest)
    await asyncio.sleep(action.ack_delay)
    if order.is_done:
        return
    order.status = "Submitted"
    gw.broker.changed()
    notify(gw, order, open_order=True)
    if action.drop_connections:
        await gw.drop_connections()
    if isinstance(action, Rest):
        return
    await asyncio.sleep(action.fill_delay)
    for i, part in enumerate(chunk_sizes(order.quantity, action.chunks)):
        if i:
            await asyncio.sleep(action.interval)
        price = action.price if action.price is not None else gw.market.last_price(order.symbol)
        if order.is_done or price is None or (action.price is None and not order.marketable(price)):
            return  # cancelled meanwhile, or a limit away from the market: it rests until a bar crosses it
        execute(gw, order, min(part, order.remaining), price)


def execute(gw: GatewaySimulator, order: SimOrder, shares: float, price: float) -> SimExecution:
    """Book a fill and tell the owner's sessions (execution, status, commission) and position/account subscribers."""
    ex = gw.broker.execute(order, shares, price)
    for s in gw.owners(order):
        s.send(msg.execution(-1, ex, s.version, gw.time_text(ex.time)))
        s.send(msg.order_status(order))
        s.send(msg.commission_report(ex, gw.broker.currency))
    b = gw.broker
    pos = b.positions.get(order.symbol)
    for s in gw.sessions:
        if s.positions_subscribed:
            qty, cost = (pos.quantity, pos.avg_cost) if pos else (0.0, 0.0)
            s.send(msg.position(b.account, order.symbol, qty, cost, b.currency))
    gw.account_changed(order.symbol)
    return ex


def notify(gw: GatewaySimulator, order: SimOrder, *, open_order: bool = False) -> None:
    """Send the order's status (and its openOrder) to the sessions of the client that placed it."""
    for s in gw.owners(order):
        if open_order:
            s.send(msg.open_order(order, s.version))
        s.send(msg.order_status(order))


def cancel(gw: GatewaySimulator, order: SimOrder, reason: str = "") -> None:
    """Cancel a working order: status Cancelled, then IB's error 202 with the reason."""
    if order.is_done:
        raise ValueError(f"order {order.order_id} is already {order.status}")
    gw.broker.finish(order, "Cancelled", "Cancelled" + (f": {reason}" if reason else ""))
    for s in gw.owners(order):
        s.send(msg.error(order.order_id, 202, f"Order Canceled - reason:{reason}", s.version))
    notify(gw, order)


def cancel_order(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """CANCEL_ORDER from a client: 10147 for an unknown id, 161 for an order that is no longer working."""
    order_id = int(d.get("order_id") or -1)
    order = gw.broker.orders.get(order_id)
    if order is None:
        s.send(msg.error(order_id, 10147, f"OrderId {order_id} that needs to be cancelled is not found.", s.version))
    elif order.is_done:
        s.send(msg.error(order_id, 161, f"Cancel attempted when order is not in a cancellable state.  Order permId ={order.perm_id}", s.version))  # fmt: skip
    else:
        cancel(gw, order)


def global_cancel(gw: GatewaySimulator, s: Session, d: dict[str, str]) -> None:
    """REQ_GLOBAL_CANCEL: cancel every working order of every client."""
    for order in gw.broker.working_orders():
        cancel(gw, order, "global cancel")


def _modify(gw: GatewaySimulator, order: SimOrder, d: dict[str, str]) -> None:
    """A PLACE_ORDER for a working order's id: new quantity and limit, acknowledged, then worked at the last price."""
    quantity, limit = _number(d.get("quantity", "")), _number(d.get("limit_price", ""))
    if quantity is not None and quantity > order.filled:
        order.quantity = quantity
    if order.order_type == "LMT" and limit is not None and limit > 0:
        order.limit_price = limit
    gw.broker.changed()
    notify(gw, order, open_order=True)
    _work_one(gw, order)


def _work_one(gw: GatewaySimulator, order: SimOrder) -> None:
    price = gw.market.last_price(order.symbol)
    if not order.is_done and order.status == "Submitted" and price is not None and order.order_type == "LMT":
        if order.marketable(price):
            execute(gw, order, order.remaining, price)


def work_resting(gw: GatewaySimulator) -> None:
    """After a new bar: fill every acknowledged limit order the new last price crosses, at that price."""
    for order in gw.broker.working_orders():
        _work_one(gw, order)


HANDLERS: dict[int, Callable[[GatewaySimulator, Session, dict[str, str]], None]] = {
    InMsg.PLACE_ORDER: place,
    InMsg.CANCEL_ORDER: cancel_order,
    InMsg.REQ_GLOBAL_CANCEL: global_cancel,
}
