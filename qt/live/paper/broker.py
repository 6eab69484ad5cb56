"""The paper broker: fills priced by the backtest's own fill model (qt.execution), and a book that survives.

It stands in for a broker that keeps running while qt is down: its orders, executions,
positions and cash live in their own state store (``STATE_DIR/paper-broker``), so a restarted
qt finds fills it has not recorded yet. Market orders fill at the bar's close when timing is
``close`` (at ``place``, on the decision bar), or at the next bar's open (``next_open``). A burst
(``place_many``) is one transaction of the book: after a crash the book has all of it or none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from qt.enums import OrderStatus
from qt.execution.simulator import ExecutionSimulator
from qt.live.broker import BrokerOrder, Execution, OrderState
from qt.live.history import BarRow, utc_time
from qt.live.store import (
    FillRecord,
    LiveStore,
    OrderIntent,
    OrderRecord,
    OrderUpdate,
    SqliteStoreSettings,
    open_from_settings,
)
from qt.live.store.faults import fault_point

BOOK_DIR = "paper-broker"


class PaperBroker:
    """A broker simulated over the bars qt sees, with its own durable book."""

    def __init__(self, *, execution: ExecutionSimulator, symbols: tuple[str, ...], book: LiveStore) -> None:
        self.execution = execution
        self.index = {s: i for i, s in enumerate(symbols)}
        self.book = book
        self._run_name = book.meta().run_name
        self._bar: BarRow | None = None
        self._updates: list[OrderState | Execution] = []
        self._resting = True  # orders may wait for the next open (unknown until the book is read once)

    @classmethod
    def open(
        cls,
        *,
        execution: ExecutionSimulator,
        symbols: tuple[str, ...],
        state_dir: Path,
        capital: float,
        run_name: str,
        synchronous: Literal["FULL", "NORMAL"] = "NORMAL",
    ) -> PaperBroker:
        """The paper broker of ``state_dir`` (created with ``capital`` in cash the first time)."""
        book = open_from_settings(
            SqliteStoreSettings(synchronous=synchronous), state_dir=state_dir / BOOK_DIR, run_name=f"{run_name}-paper"
        )
        if not book.events(limit=1):
            book.deposit(capital, reason="paper account opened", time=dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
        return cls(execution=execution, symbols=symbols, book=book)

    def close(self) -> None:
        """Release the book."""
        self.book.close()

    # -- market -------------------------------------------------------------------
    @property
    def acts_on_bar(self) -> bool:
        """Whether the next ``on_bar`` may change the book (orders may wait for the next open)."""
        return self.execution.fill_lag != 0 and self._resting

    def on_bar(self, bar: BarRow) -> None:
        """A new bar: orders waiting for the next open fill at its open (once per bar, also after a restart)."""
        self._bar = bar
        if not self.acts_on_bar:
            return  # nothing can be waiting: the book is not read at every bar
        stamp = utc_time(bar.timestamp)
        resting = self.book.orders(open_only=True)
        waiting = [o for o in resting if o.intent.decided_at < stamp]
        if waiting:
            with self.book.batch():
                self._fill([(o.client_order_id, o.symbol, o.intent.quantity) for o in waiting], bar, stamp)
        self._resting = len(waiting) < len(resting)  # orders of this bar's decisions still wait

    # -- Broker -------------------------------------------------------------------
    def place(self, order: BrokerOrder) -> None:
        """Accept one order (a burst of one)."""
        self.place_many([order])

    def place_many(self, orders: Sequence[BrokerOrder]) -> dict[str, str]:
        """Accept a burst in one transaction of the book (all of it received, or none); nothing is ever refused.

        At ``close`` timing the burst fills now, at this bar's close, priced by the fill model; at
        ``next_open`` it waits for the next bar. An id the book already holds is refused with an
        alert, as a real broker refuses a repeated order reference.
        """
        if not orders:
            return {}
        bar = self._require_bar()
        stamp = utc_time(bar.timestamp)
        taken: list[tuple[str, str, float]] = []
        with self.book.batch():
            for order in orders:
                cid = order.client_order_id
                if not self.book.record_intent(OrderIntent(cid, self._run_name, stamp, order.symbol, order.quantity)):
                    self.book.record_alert(f"duplicate client order id {cid}: refused", severity="critical",
                                           order=cid, time=stamp)  # fmt: skip
                    continue
                taken.append((cid, order.symbol, order.quantity))
                fault_point("broker.mid_burst")  # a kill here rolls the whole burst back: the book never had it
            if self.execution.fill_lag == 0:
                self._fill(taken, bar, stamp)  # received and filled at once: it never rests as SUBMITTED
            else:
                for cid, symbol, quantity in taken:
                    self._status(cid, symbol, quantity, OrderStatus.SUBMITTED, stamp)
                self._resting = self._resting or bool(taken)
        return {}

    def cancel(self, client_order_id: str) -> None:
        """Cancel an order still waiting for its fill."""
        record = self.book.order(client_order_id)
        if record is None or not record.status.is_open:
            return
        # before the first bar (a restart that finds the run halted): stamped with the order's last update
        stamp = utc_time(self._bar.timestamp) if self._bar is not None else record.updated_at
        self._status(client_order_id, record.symbol, record.intent.quantity, OrderStatus.CANCELLED, stamp,
                     "cancelled on request", filled=record.filled)  # fmt: skip

    def updates(self) -> list[OrderState | Execution]:
        """What happened since the last call."""
        out, self._updates = self._updates, []
        return out

    def order(self, client_order_id: str) -> OrderState | None:
        """The paper book's view of one order."""
        record = self.book.order(client_order_id)
        return _state(record) if record is not None else None

    def open_orders(self) -> list[OrderState]:
        """Orders waiting for a fill."""
        return [_state(o) for o in self.book.orders(open_only=True)]

    def positions(self) -> dict[str, float]:
        """The paper book's positions."""
        return self.book.positions()

    def executions(self) -> list[Execution]:
        """Every paper execution."""
        return [_execution(f) for f in self.book.fills()]

    # -- internals -----------------------------------------------------------------
    def _fill(self, orders: list[tuple[str, str, float]], bar: BarRow, stamp: dt.datetime) -> None:
        """Fill (client order id, symbol, quantity) orders at ``bar``'s price, as the backtest's venue would."""
        if not orders:
            return
        reference = bar.values.get(self.execution.price_field)
        assets = [self.index.get(symbol) for _, symbol, _ in orders]
        prices = np.array([np.nan if reference is None or a is None else reference[a] for a in assets], dtype=float)
        quantities = np.array([q for _, _, q in orders], dtype=float)
        ok, filled, fees = self.execution.fill_at(quantities, prices)
        for i, (cid, symbol, quantity) in enumerate(orders):
            if not ok[i]:
                self._status(cid, symbol, quantity, OrderStatus.CANCELLED, stamp, self.execution.no_price_reason)
                continue
            fill = FillRecord(f"paper-{cid}", cid, symbol, float(quantities[i]), float(filled[i]), float(fees[i]),
                              stamp)  # fmt: skip
            if self.book.record_fill(fill):
                self._updates.append(_execution(fill))
                self._updates.append(OrderState(cid, symbol, quantity, OrderStatus.FILLED, quantity, time=stamp))

    def _status(
        self, cid: str, symbol: str, quantity: float, status: OrderStatus, stamp: dt.datetime, reason: str = "",
        *, filled: float = 0.0,
    ) -> None:  # fmt: skip
        if self.book.record_order_update(OrderUpdate(cid, status, stamp, reason=reason)):
            self._updates.append(OrderState(cid, symbol, quantity, status, filled, reason, time=stamp))

    def _require_bar(self) -> BarRow:
        if self._bar is None:
            raise RuntimeError("the paper broker has seen no bar yet; on_bar comes before place")
        return self._bar


def _state(record: OrderRecord) -> OrderState:
    """The broker's view of a book order (the paper broker has no order ids of its own: qt's id is the key)."""
    return OrderState(
        record.client_order_id, record.symbol, record.intent.quantity, record.status, record.filled, record.reason,
        None, record.updated_at,
    )  # fmt: skip


def _execution(fill: FillRecord) -> Execution:
    return Execution(fill.exec_id, fill.client_order_id, fill.symbol, fill.quantity, fill.price, fill.fees, fill.time)
