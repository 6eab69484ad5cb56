"""The Interactive Brokers venue: qt's broker contract over ib_async.

Orders carry qt's client order id as ``orderRef``; contracts are qualified once and cached;
order ids are ``max(nextValidId, highest id stored or seen + 1)`` so a restarted gateway that
answers a lower next valid id never gets an id twice. Executions and their commission reports
become ``Execution`` s once per execution id, with times in UTC whatever zone the gateway writes.
A reject (error 201 and friends, which ib_async shows as ``Cancelled``) is REJECTED with IB's text.
Orders and cancels are paced below IB's 50 messages a second; while disconnected or read-only,
``place`` raises ``BrokerUnavailable`` and the router records the order DENIED.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from qt.enums import OrderStatus
from qt.live.broker import BrokerOrder, BrokerUnavailable, Execution, OrderState
from qt.live.ib.config import IBSettings
from qt.live.ib.pacing import Pacer
from qt.live.namespace import in_namespace
from qt.live.store.faults import fault_point

log = logging.getLogger("qt")

#: ib_async status -> qt status (Cancelled and Inactive are decided with the error seen for the order).
_STATUS = {
    "PendingSubmit": OrderStatus.SUBMITTED,
    "ApiPending": OrderStatus.SUBMITTED,
    "PreSubmitted": OrderStatus.SUBMITTED,
    "Submitted": OrderStatus.SUBMITTED,
    "PendingCancel": OrderStatus.SUBMITTED,
    "ValidationError": OrderStatus.SUBMITTED,
    "Filled": OrderStatus.FILLED,
    "ApiCancelled": OrderStatus.CANCELLED,
    "Cancelled": OrderStatus.CANCELLED,
    "Inactive": OrderStatus.REJECTED,
}
#: Error codes that only confirm a cancel qt (or the gateway's operator) asked for.
CANCEL_CODES = frozenset({202, 10147, 10148})
_IB_PREFIX = re.compile(r"^(?:Error|Warning) -?\d+, reqId -?\d+: ")
#: Seconds an execution waits for its commission report before it is booked without one.
COMMISSION_WAIT_S = 2.0


def utc(stamp: dt.datetime) -> dt.datetime:
    """An IB time as aware UTC (a naive time is taken as UTC).

    Examples
    --------
    >>> from zoneinfo import ZoneInfo
    >>> utc(dt.datetime(2024, 1, 2, 16, 0, tzinfo=ZoneInfo("America/New_York"))).isoformat()
    '2024-01-02T21:00:00+00:00'
    """
    return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp.astimezone(dt.UTC)


class IBBroker:
    """qt's ``Broker`` over a connected ``ib_async.IB`` (the connection manager flips ``available``)."""

    fills_arrive_later = True  # executions come over the network: the session books them at the next bar

    def __init__(
        self,
        *,
        ib: Any,
        settings: IBSettings,
        symbols: Iterable[str],
        stored_max_id: int | None = None,
        intents: Callable[[str], float | None] = lambda client_order_id: None,
        run_name: str | None = None,
    ) -> None:
        """``intents``: the quantity qt asked for under a client order id (the store's), for whole-share remainders.

        ``run_name``: this run's client-order-id namespace; executions outside it (another run or program on
        the account) are foreign: kept in ``foreign``, never handed to the router as this run's fills.
        """
        self.ib = ib
        self.settings = settings
        self.symbols = tuple(symbols)
        self.available = False
        self.contracts: dict[str, Any] = {}
        self.last_prices: dict[str, float] = {}
        self.pacer = Pacer.below(settings.max_messages_per_second, settings.burst_messages)
        self._next_id = (stored_max_id or 0) + 1
        self._updates: list[OrderState | Execution] = []
        self._emitted: set[str] = set()  # exec ids already handed to the router
        self._pending_exec: dict[str, tuple[float, Any]] = {}  # exec id -> (monotonic time, fill) awaiting commission
        self._errors: dict[int, tuple[int, str]] = {}  # order id -> last (code, text) the gateway sent
        self._cancel_asked: set[str] = set()
        self._queued: dict[str, OrderState] = {}  # waiting in the pacer
        self._placed: dict[str, Any] = {}  # client order id -> ib_async Trade placed in this process
        self._intents = intents
        self._rounded: dict[str, float] = {}  # client order id -> shares asked, when fewer (whole) shares were sent
        self._remainders: set[str] = set()  # orders whose sub-share remainder was reported cancelled
        self._done_shares: dict[str, float] = {}  # client order id -> shares executed so far (this process)
        self.run_name = run_name
        self.foreign: dict[str, Execution] = {}  # exec id -> an execution of another owner on the account
        ib.orderStatusEvent += self._on_status
        ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_commission
        ib.errorEvent += self._on_error

    # -- connection ---------------------------------------------------------------------
    async def on_connected(self) -> None:
        """After a (re)connect: qualify contracts once, move the id counter past every id seen."""
        missing = [s for s in self.symbols if s not in self.contracts]
        if missing:
            await self._qualify(missing)
        seen = [t.order.orderId for t in self.ib.trades() if t.order.orderId] + [
            f.execution.orderId for f in self.ib.fills() if f.execution.orderId
        ]
        gateway = self.ib.client.getReqId()  # nextValidId as the gateway told it (request ids share the counter)
        self._next_id = max(self._next_id, gateway, max(seen, default=0) + 1)
        self.ib.client.updateReqId(self._next_id + 1)
        for cid in list(self._cancel_asked):
            trade = self._trade(cid)
            if trade is not None and not trade.isDone():
                self._send_cancel(cid, trade)

    def _send_cancel(self, cid: str, trade: Any) -> None:
        def send() -> None:
            self.ib.cancelOrder(trade.order)

        self.pacer.submit(f"cancel:{cid}", send)

    async def _qualify(self, symbols: list[str]) -> None:
        from ib_async import Stock

        wanted = [Stock(s, self.settings.exchange, self.settings.currency) for s in symbols]
        qualified = await asyncio.gather(*[self._qualify_one(c) for c in wanted])
        bad = [s for s, c in zip(symbols, qualified, strict=True) if c is None or not getattr(c, "conId", 0)]
        if bad:
            from qt.errors import ConfigError

            raise ConfigError(
                "data.symbols",
                f"the IB gateway does not know {', '.join(bad)} as {self.settings.currency} stocks on "
                f"{self.settings.exchange}; trade only symbols IB can qualify",
            )
        for s, c in zip(symbols, qualified, strict=True):
            self.contracts[s] = c

    async def _qualify_one(self, contract: Any) -> Any:
        await self.pacer.turn()
        [result] = await self.ib.qualifyContractsAsync(contract)
        return result

    def disconnected(self) -> None:
        """The connection dropped: orders still waiting in the pacer were never sent; they end CANCELLED."""
        self.available = False
        now = dt.datetime.now(dt.UTC)
        for key in [k for k in self.pacer.waiting() if k.startswith(("place:", "cancel:"))]:
            self.pacer.withdraw(key)
            state = self._queued.pop(key.removeprefix("place:"), None)
            if state is not None:
                reason = "never sent: the connection to the gateway dropped while it waited in qt's pacing queue"
                self._updates.append(_with(state, OrderStatus.CANCELLED, reason, now))

    def resync_executions(self) -> None:
        """Hand the router every execution the gateway reported at synchronization (it books new ones once)."""
        for fill in self.ib.fills():
            self._emit(fill, force=True)

    # -- Broker -------------------------------------------------------------------------
    def place(self, order: BrokerOrder) -> None:
        """Send one order (paced); raise ``BrokerUnavailable`` when read-only or disconnected."""
        if self.settings.readonly:
            raise BrokerUnavailable("read-only: broker.readonly=true connects and reconciles but sends no order")
        if not self.available or not self.ib.isConnected():
            raise BrokerUnavailable("disconnected from the IB gateway: no order is sent until it is back and resynced")
        from ib_async import LimitOrder, MarketOrder

        size = abs(order.quantity)
        if self.settings.whole_shares:
            size = math.floor(size + 1e-9)
        now = dt.datetime.now(dt.UTC)
        state = OrderState(order.client_order_id, order.symbol, order.quantity, OrderStatus.SUBMITTED, time=now)
        if size <= 0:
            reason = f"{abs(order.quantity):g} shares is below one whole share (broker.whole_shares=true): not sent"
            self._updates.append(_with(state, OrderStatus.CANCELLED, reason, now))
            return
        if size < abs(order.quantity) - 1e-9:
            self._rounded[order.client_order_id] = abs(order.quantity)
        action = "BUY" if order.quantity > 0 else "SELL"
        fields: dict[str, Any] = {"orderRef": order.client_order_id, "tif": "DAY"}
        if self.settings.account_id:
            fields["account"] = self.settings.account_id
        limit = order.limit_price if order.limit_price is not None else self._limit(order.symbol, action)
        ib_order = (
            LimitOrder(action, size, limit, **fields) if limit is not None else MarketOrder(action, size, **fields)
        )
        ib_order.orderId = self._new_id()
        contract = self.contracts[order.symbol]
        state = OrderState(order.client_order_id, order.symbol, order.quantity, OrderStatus.SUBMITTED,
                           broker_order_id=str(ib_order.orderId), time=now)  # fmt: skip
        self._queued[order.client_order_id] = state

        def send() -> None:
            self._queued.pop(order.client_order_id, None)
            self._placed[order.client_order_id] = self.ib.placeOrder(contract, ib_order)

        self.pacer.submit(f"place:{order.client_order_id}", send)

    def place_many(self, orders: Sequence[BrokerOrder]) -> dict[str, str]:
        """Send a burst order by order (IB takes one message per order); those refused as unavailable, with why."""
        refused: dict[str, str] = {}
        for order in orders:
            try:
                self.place(order)
            except BrokerUnavailable as exc:
                refused[order.client_order_id] = str(exc)
            else:
                fault_point("broker.mid_burst")
        return refused

    def cancel(self, client_order_id: str) -> None:
        """Ask to cancel one order (paced); while disconnected, the cancel goes out after the reconnect."""
        now = dt.datetime.now(dt.UTC)
        if self.pacer.withdraw(f"place:{client_order_id}"):
            state = self._queued.pop(client_order_id)
            self._updates.append(_with(state, OrderStatus.CANCELLED, "cancelled before it was sent", now))
            return
        self._cancel_asked.add(client_order_id)
        trade = self._trade(client_order_id)
        if trade is None or trade.isDone():
            return
        if not self.available or not self.ib.isConnected():
            log.warning("cancel of %s waits for the gateway connection", client_order_id)
            return
        self._send_cancel(client_order_id, trade)

    def updates(self) -> list[OrderState | Execution]:
        """Order states and executions since the last call, oldest first."""
        clock = time.monotonic()
        for exec_id, (since, fill) in list(self._pending_exec.items()):
            if clock - since >= COMMISSION_WAIT_S:
                log.warning(
                    "execution %s: no commission report after %.0f s; booked without fees", exec_id, COMMISSION_WAIT_S
                )
                self._emit(fill, force=True)
        out, self._updates = self._updates, []
        return out

    def order(self, client_order_id: str) -> OrderState | None:
        """The gateway's view of one order; None when the gateway never acknowledged it.

        An order still in qt's pacing queue counts as submitted. One that ib_async still shows as
        ``PendingSubmit`` (sent, never answered: the gateway may not have it) is None, so the
        router's acknowledgement check counts a miss and, after ``live.max_ack_misses``, marks it LOST.
        """
        if client_order_id in self._queued:
            return self._queued[client_order_id]
        trade = self._trade(client_order_id)
        if trade is None or trade.orderStatus.status == "PendingSubmit":
            return None
        return self._state(trade)

    def open_orders(self) -> list[OrderState]:
        """Every open order the gateway reported, qt's and foreign ones."""
        return [self._state(t) for t in self.ib.openTrades()]

    def positions(self) -> dict[str, float]:
        """Signed position per symbol of the account."""
        account = self.settings.account_id
        out: dict[str, float] = {}
        for p in self.ib.positions(account) if account else self.ib.positions():
            if p.position:
                out[p.contract.symbol] = out.get(p.contract.symbol, 0.0) + float(p.position)
        return out

    def executions(self) -> list[Execution]:
        """Every execution the gateway reported since the connection synchronized."""
        return [_execution(f) for f in self.ib.fills()]

    def ours(self, ref: str | None) -> bool:
        """Whether an order reference is this run's: placed by this process, stored, or in its namespace."""
        if not ref:
            return False
        if ref in self._placed or ref in self._queued or self._intents(ref) is not None:
            return True
        return self.run_name is not None and in_namespace(self.run_name, ref)

    # -- internals ----------------------------------------------------------------------
    def _new_id(self) -> int:
        oid = max(self._next_id, self.ib.client.getReqId())
        self._next_id = oid + 1
        self.ib.client.updateReqId(self._next_id)
        return oid

    def _limit(self, symbol: str, action: str) -> float | None:
        if self.settings.order_type != "limit":
            return None
        last = self.last_prices.get(symbol)
        if last is None or not math.isfinite(last) or last <= 0:
            raise BrokerUnavailable(f"no last price for {symbol}: a limit order needs one (broker.order_type=limit)")
        sign = 1 if action == "BUY" else -1
        return round(last * (1 + sign * self.settings.limit_offset_bps / 1e4), 2)

    def _trade(self, client_order_id: str) -> Any | None:
        found = [t for t in self.ib.trades() if t.order.orderRef == client_order_id]
        if found:
            return max(found, key=lambda t: t.order.orderId or 0)
        return self._placed.get(client_order_id)

    def _state(self, trade: Any) -> OrderState:
        status = _STATUS.get(trade.orderStatus.status, OrderStatus.SUBMITTED)
        ref = trade.order.orderRef or f"ib-{trade.order.permId or trade.order.orderId}"
        reason = ""
        code, text = self._errors.get(trade.order.orderId, (0, ""))
        if not text:
            for entry in reversed(trade.log):
                if entry.errorCode:
                    code, text = entry.errorCode, _IB_PREFIX.sub("", entry.message)
                    break
        if status is OrderStatus.CANCELLED and code and code not in CANCEL_CODES and ref not in self._cancel_asked:
            status, reason = OrderStatus.REJECTED, text or f"IB error {code}"
        elif status is OrderStatus.REJECTED:
            reason = text or "inactive at IB"
        elif status is OrderStatus.CANCELLED:
            reason = text or "cancelled at IB"
        sign = 1.0 if trade.order.action == "BUY" else -1.0
        return OrderState(
            ref, trade.contract.symbol, sign * float(trade.order.totalQuantity), status,
            sign * float(trade.orderStatus.filled), reason, str(trade.order.orderId), dt.datetime.now(dt.UTC),
        )  # fmt: skip

    def _on_status(self, trade: Any) -> None:
        self._updates.append(self._state(trade))

    def _on_error(self, req_id: int, code: int, text: str, *args: Any) -> None:
        if req_id > 0 and not 2100 <= code < 2200:
            self._errors[req_id] = (code, text)

    def _on_exec(self, trade: Any, fill: Any) -> None:
        self._pending_exec.setdefault(fill.execution.execId, (time.monotonic(), fill))

    def _on_commission(self, trade: Any, fill: Any, report: Any) -> None:
        self._emit(fill, force=True)

    def _emit(self, fill: Any, *, force: bool = False) -> None:
        exec_id = fill.execution.execId
        self._pending_exec.pop(exec_id, None)
        if exec_id in self._emitted:
            return
        self._emitted.add(exec_id)
        execution = _execution(fill)
        if not self.ours(execution.client_order_id):
            if exec_id not in self.foreign:  # another owner's (reconciliation explains the positions they make)
                self.foreign[exec_id] = execution
                log.info("IB: execution %s of order %r is not this run's: reported, not booked", exec_id,
                         execution.client_order_id)  # fmt: skip
            return
        self._updates.append(execution)
        cid = execution.client_order_id or ""
        done = self._done_shares[cid] = self._done_shares.get(cid, 0.0) + abs(execution.quantity)
        asked = (self._rounded.get(cid) or abs(self._intents(cid) or 0.0)) if cid else 0.0
        sent = math.floor(asked + 1e-9) if self.settings.whole_shares else asked
        if sent < asked - 1e-9 and done >= sent - 1e-9 and cid not in self._remainders:
            self._remainders.add(cid)
            reason = f"remainder {asked - sent:.6g} of {asked:.6g} shares below one whole share: not sent"
            state = OrderState(cid, execution.symbol, 0.0, OrderStatus.CANCELLED, 0.0, reason, None, execution.time)
            self._updates.append(state)


def _with(state: OrderState, status: OrderStatus, reason: str, now: dt.datetime) -> OrderState:
    return OrderState(state.client_order_id, state.symbol, state.quantity, status, 0.0, reason,
                      state.broker_order_id, now)  # fmt: skip


def _execution(fill: Any) -> Execution:
    ex = fill.execution
    sign = 1.0 if ex.side.upper() in ("BOT", "BUY") else -1.0
    fees = float(fill.commissionReport.commission or 0.0) if fill.commissionReport else 0.0
    if not math.isfinite(fees) or fees > 1e300:
        fees = 0.0
    return Execution(ex.execId, ex.orderRef or None, fill.contract.symbol, sign * float(ex.shares), float(ex.price),
                     fees, utc(ex.time))  # fmt: skip
