"""The order router: the session's execution venue in live mode, over a broker, the risk guard and the store.

Each order gets a client order id derived from (run name, decision time, symbol, intent number)
and is written to the store *before* it is sent, so a replayed decision can never send a
second order: an id already stored is sent only if the broker confirmed it never received it
(NOT_SENT), and then exactly once. The guard's refusals are DENIED and never reach the broker.
Fills are deduplicated by execution id and booked once.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from qt.enums import OrderStatus, TradingState
from qt.live.broker import Broker, BrokerOrder, Execution, OrderState
from qt.live.guard import RiskGuard
from qt.live.store import FillRecord, LiveStore, OrderIntent, OrderUpdate, client_order_id
from qt.live.store.faults import fault_point
from qt.types import FillBatch, OrderBatch

log = logging.getLogger("qt")


@dataclass
class _Sent:
    """What the router remembers of an order it routed: its decision bar, asset, note and acknowledgement misses."""

    t: int
    asset: int
    note: str
    misses: int = 0
    last_seen: float = 0.0


class TradingView(Protocol):
    """Where the router reads the trading state (qt.live.trading.TradingControl)."""

    @property
    def state(self) -> TradingState:
        """ACTIVE, REDUCING or HALTED now."""
        ...


@dataclass
class RouterSettings:
    """Acknowledgement timeout (seconds) and how many unanswered queries make an order LOST."""

    ack_timeout_s: float = 30.0
    max_ack_misses: int = 3


@dataclass
class RoutedVenue:
    """Implements the execution-venue protocol for live trading."""

    broker: Broker
    store: LiveStore
    guard: RiskGuard
    symbols: tuple[str, ...]
    run_name: str
    settings: RouterSettings = field(default_factory=RouterSettings)
    trading: TradingState = TradingState.ACTIVE  # a bare router's state; under a live node ``control`` owns it
    control: TradingView | None = None  # the run's qt.live.trading.TradingControl: its state is read, never copied
    bar_time: dt.datetime = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    last_prices: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _sent: dict[str, _Sent] = field(default_factory=dict)
    _intents: dict[str, int] = field(default_factory=dict)
    _pending: list[FillBatch] = field(default_factory=list)
    _later: list[FillBatch] = field(default_factory=list)  # booked at recovery; the session gets them at filled_at
    rejected_at: list[float] = field(default_factory=list)
    _unacked: dict[str, _Sent] = field(
        default_factory=dict
    )  # sent, no news yet (queried after ack_timeout_s)  # monotonic times of broker rejects (automatic halts)
    _cancelling: dict[str, str] = field(default_factory=dict)  # qt's reason for each cancel it asked for

    def new_bar(self, bar_time: dt.datetime, last_prices: np.ndarray) -> None:
        """Start bar ``bar_time`` (intent numbers count from 0 again within a bar)."""
        self.bar_time = bar_time
        self.last_prices = last_prices
        self._intents.clear()

    # -- ExecutionVenue ---------------------------------------------------------------
    def submit(self, orders: OrderBatch, t: int, notes: np.ndarray | None = None) -> None:
        """Guard each order, store every intent (one transaction), send the burst, store the acknowledgements.

        Three steps, each durable before the next: the intents (one store transaction), the burst
        (``place_many``: one transaction of a paper book), the acknowledgements (one store
        transaction). A kill between them leaves intents the broker has all or none of (per order
        at IB); recovery marks those it never received NOT_SENT and the others SUBMITTED.
        Denied orders come back with the next poll.
        """
        denied: list[tuple[int, float, str]] = []
        to_send: list[BrokerOrder] = []
        with self.store.batch():
            positions = self.store.positions()  # once per burst: only fills (in poll) change them
            for i, (a, q) in enumerate(zip(orders.assets.tolist(), orders.quantities.tolist(), strict=True)):
                note = str(notes[i]) if notes is not None and len(notes) else ""
                reason, send = self._admit(int(a), float(q), t, note, positions)
                if reason is not None:
                    denied.append((int(a), float(q), reason))
                if send is not None:
                    to_send.append(send)
        if to_send:
            self.store.sync()  # writes grouped by a replay (store.hold) are committed before an order leaves
        fault_point("router.after_intent")
        refused = self.broker.place_many(to_send) if to_send else {}
        now = time.monotonic()
        sent = []
        for order in to_send:
            cid = order.client_order_id
            if cid in refused:  # disconnected or read-only: qt's refusal, never sent
                denied.append((self._sent[cid].asset, order.quantity, refused[cid]))
                continue
            sent.append(cid)
            self._unacked[cid] = self._sent[cid]
            self._sent[cid].last_seen = now
        fault_point("router.after_submit")
        with self.store.batch():
            for cid, reason in refused.items():
                self.store.record_order_update(OrderUpdate(cid, OrderStatus.DENIED, self.bar_time, reason=reason))
            for cid in sent:
                self.store.record_order_update(OrderUpdate(cid, OrderStatus.SUBMITTED, self.bar_time))
        if denied:
            self._pending.append(_batch(t, t, denied, OrderStatus.DENIED))

    def poll(self, t: int) -> list[FillBatch]:
        """Book the broker's news since the last poll: fills (once per execution id), cancels and rejects."""
        out, self._pending = self._pending, []
        if self._later:
            out += [b for b in self._later if b.filled_at <= t]
            self._later = [b for b in self._later if b.filled_at > t]
        fills: dict[int, list[tuple[int, float, float, float, str, str]]] = {}
        ended: dict[tuple[int, str], list[tuple[int, float, str]]] = {}
        news_list = self.broker.updates()
        if news_list:  # most bars bring no news: no transaction then
            with self.store.batch():
                for news in news_list:
                    if isinstance(news, Execution):
                        self._book_fill(news, t, fills)
                    else:
                        self._book_state(news, ended)
        for decided, filled in fills.items():
            a, q, p, f, states, why = (np.array(x) for x in zip(*filled, strict=True))
            out.append(FillBatch(OrderBatch(decided, a.astype(np.intp), q), t, states, p, f, why))
        for (decided, status), rows in ended.items():
            out.append(_batch(decided, t, rows, OrderStatus(status)))
        return out

    def deliver_at(self, batches: list[FillBatch]) -> None:
        """Fills already in the store that the session books at the poll of their ``filled_at`` bar.

        A restart's fills of the decision it resumes: an uninterrupted run learns of them at the bar
        after that decision (qt.live.recovery.hold_back), so the restarted run books them there too.
        """
        self._later.extend(batches)

    def sync(self, t: int) -> None:
        """Book the broker's news now (a resynchronization after a reconnect); the session gets it at the next poll."""
        self._pending = self.poll(t)

    def cancel_open(self, t: int, reason: str) -> list[FillBatch]:
        """Ask the broker to cancel every open order of ours (the cancels arrive by ``poll``)."""
        self.store.sync()  # grouped writes are committed before the broker acts
        for order in self.store.orders(open_only=True):
            self._cancelling[order.client_order_id] = reason
            self.broker.cancel(order.client_order_id)
        return []

    def reattach(self, client_order_id: str, t: int, asset: int, note: str = "") -> None:
        """Remember a working order from before a restart (decided at bar t), so its fills book to that decision."""
        self._sent.setdefault(client_order_id, _Sent(t, asset, note))

    # -- acknowledgements ---------------------------------------------------------------
    def check_acks(self, now: float) -> list[str]:
        """Query orders sent without news for ``ack_timeout_s``; after ``max_ack_misses`` mark them LOST (ids)."""
        lost = []
        for cid, sent in list(self._unacked.items()):
            if now - sent.last_seen < self.settings.ack_timeout_s:
                continue
            record = self.store.order(cid)
            if record is None or record.status is not OrderStatus.SUBMITTED:
                del self._unacked[cid]
                continue
            sent.last_seen = now
            if self.broker.order(cid) is not None:
                sent.misses = 0
                continue
            sent.misses += 1
            if sent.misses >= self.settings.max_ack_misses:
                reason = f"no acknowledgement after {sent.misses} queries; never resubmitted"
                self.store.record_order_update(OrderUpdate(cid, OrderStatus.LOST, self.bar_time, reason=reason))
                self.store.record_alert(f"order {cid} lost: {reason}", severity="critical", time=self.bar_time)
                lost.append(cid)
                del self._unacked[cid]
        return lost

    # -- internals --------------------------------------------------------------------
    def _admit(
        self, asset: int, quantity: float, t: int, note: str, positions: dict[str, float]
    ) -> tuple[str | None, BrokerOrder | None]:
        """(denial reason, order to send) for one order; its intent is stored here, before anything is sent."""
        symbol = self.symbols[asset]
        n = self._intents.get(symbol, 0)
        self._intents[symbol] = n + 1
        cid = client_order_id(self.run_name, self.bar_time, symbol, n)
        self._sent[cid] = _Sent(t, asset, note)
        if not self.store.record_intent(OrderIntent(cid, self.run_name, self.bar_time, symbol, quantity,
                                                    intent_number=n)):  # fmt: skip
            known = self.store.order(cid)  # stored before a restart: resume it
            assert known is not None
            return self._resume(cid, known.status, known.reason, symbol, quantity)
        price = float(self.last_prices[asset]) if self.last_prices.size else float("nan")
        trading = self.control.state if self.control is not None else self.trading
        reason = self.guard.check(quantity, positions.get(symbol, 0.0), price, price, trading)
        if reason is not None:
            self.store.record_order_update(OrderUpdate(cid, OrderStatus.DENIED, self.bar_time, reason=reason))
            return reason, None
        return None, BrokerOrder(cid, symbol, quantity)

    def _resume(
        self, cid: str, status: OrderStatus, reason: str, symbol: str, quantity: float
    ) -> tuple[str | None, BrokerOrder | None]:
        """An id already stored (a decision resumed after a restart): send only what provably never left."""
        if status is OrderStatus.DENIED:
            return reason or "denied", None
        if status is OrderStatus.NOT_SENT:
            msg = f"order {cid} was stored but never reached the broker before the restart; sending it now, once"
            self.store.record_alert(msg, time=self.bar_time)
            log.warning(msg)
            return None, BrokerOrder(cid, symbol, quantity)
        return None, None

    def _book_fill(
        self, news: Execution, t: int, fills: dict[int, list[tuple[int, float, float, float, str, str]]]
    ) -> None:
        self._unacked.pop(news.client_order_id or "", None)
        record = FillRecord(news.exec_id, news.client_order_id, news.symbol, news.quantity, news.price, news.fees,
                            news.time)  # fmt: skip
        if not self.store.record_fill(record):
            return  # known execution: booked before (a replay or a reconnect)
        sent = self._sent.get(news.client_order_id or "")
        if sent is None and news.symbol not in self.symbols:
            self.store.record_alert(f"execution {news.exec_id} in {news.symbol}, outside this run's symbols",
                                    time=self.bar_time)  # fmt: skip
            return
        asset = sent.asset if sent is not None else self.symbols.index(news.symbol)
        status = OrderStatus.FILLED  # each row is one execution, filled in full (the ledger books FILLED rows only)
        decided = sent.t if sent is not None else t
        note = sent.note if sent is not None else ""
        fills.setdefault(decided, []).append((asset, news.quantity, news.price, news.fees, status.value, note))

    def _book_state(self, news: OrderState, ended: dict[tuple[int, str], list[tuple[int, float, str]]]) -> None:
        self._unacked.pop(news.client_order_id, None)
        if news.status not in (OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.SUBMITTED):
            return  # fills come as executions; other states change nothing here
        record = self.store.order(news.client_order_id)
        if record is None:
            return  # a foreign order: reported by reconciliation, never touched
        if news.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
            asked = self._cancelling.pop(news.client_order_id, None) if news.status is OrderStatus.CANCELLED else None
            reason = asked or news.reason  # a cancel qt asked for carries qt's reason
            changed = self.store.record_order_update(
                OrderUpdate(news.client_order_id, news.status, self.bar_time, reason=reason,
                            broker_order_id=news.broker_order_id)
            )  # fmt: skip
            sent = self._sent.get(news.client_order_id)
            if changed and news.status is OrderStatus.REJECTED:
                self.rejected_at.append(time.monotonic())
            if changed and sent is not None:
                rest = record.intent.quantity - record.filled
                ended.setdefault((sent.t, news.status.value), []).append((sent.asset, rest, reason))
        elif news.broker_order_id and news.broker_order_id != record.broker_order_id:  # SUBMITTED: the broker's id
            self.store.record_order_update(
                OrderUpdate(news.client_order_id, OrderStatus.SUBMITTED, self.bar_time,
                            broker_order_id=news.broker_order_id)
            )  # fmt: skip


def _batch(decided: int, t: int, rows: list[tuple[int, float, str]], status: OrderStatus) -> FillBatch:
    """Unfilled orders (``status`` with a reason each) as a FillBatch."""
    a = np.array([r[0] for r in rows], dtype=np.intp)
    q = np.array([r[1] for r in rows])
    n = len(rows)
    return FillBatch(OrderBatch(decided, a, q), t, np.full(n, status.value), np.zeros(n), np.zeros(n),
                     np.array([r[2] for r in rows], dtype=object))  # fmt: skip
