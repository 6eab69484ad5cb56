"""The paper broker: simulated fills with the backtest's own timing, slippage and costs, and a book that survives.

It stands in for a broker that keeps running while qt is down: its orders, executions,
positions and cash live in their own state store (``STATE_DIR/paper-broker``), so a restarted
qt finds fills it has not recorded yet. Market orders fill at the bar's close when timing is
``close`` (at ``place``, on the decision bar), or at the next bar's open (``next_open``).
"""

from __future__ import annotations

import datetime as dt
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
    def on_bar(self, bar: BarRow) -> None:
        """A new bar: orders waiting for the next open fill at its open (once per bar, also after a restart)."""
        self._bar = bar
        if self.execution.fill_lag == 0:
            return
        stamp = utc_time(bar.timestamp)
        waiting = [o for o in self.book.orders(open_only=True) if o.intent.decided_at < stamp]
        if waiting:
            with self.book.batch():
                for order in waiting:
                    self._fill(order, bar, stamp)

    # -- Broker -------------------------------------------------------------------
    def place(self, order: BrokerOrder) -> None:
        """Accept the order; at ``close`` timing fill it now at this bar's close."""
        bar = self._require_bar()
        stamp = utc_time(bar.timestamp)
        intent = OrderIntent(order.client_order_id, self._run_name, stamp, order.symbol, order.quantity)
        with self.book.batch():
            if not self.book.record_intent(intent):  # the same order id twice: refused, as a real broker does
                self.book.record_alert(f"duplicate client order id {order.client_order_id}: refused",
                                       severity="critical", details={"duplicate": order.client_order_id}, time=stamp)  # fmt: skip
                return
            self._status(order.client_order_id, OrderStatus.SUBMITTED, stamp)
            if self.execution.fill_lag == 0:
                record = self.book.order(order.client_order_id)
                assert record is not None
                self._fill(record, bar, stamp)

    def cancel(self, client_order_id: str) -> None:
        """Cancel an order still waiting for its fill."""
        record = self.book.order(client_order_id)
        if record is None or not record.status.is_open:
            return
        # before the first bar (a restart that finds the run halted): stamped with the order's last update
        stamp = utc_time(self._bar.timestamp) if self._bar is not None else record.updated_at
        self._status(client_order_id, OrderStatus.CANCELLED, stamp, "cancelled on request")

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
    def _fill(self, order: OrderRecord, bar: BarRow, stamp: dt.datetime) -> None:
        reference = bar.values.get(self.execution.price_field)
        a = self.index.get(order.symbol)
        price = np.nan if reference is None or a is None else float(reference[a])
        if not np.isfinite(price):
            reason = f"no {self.execution.price_field.value} price at the fill bar"
            self._status(order.client_order_id, OrderStatus.CANCELLED, stamp, reason)
            return
        q = np.array([order.intent.quantity])
        filled = self.execution.slippage.adjust(q, np.array([price]))
        fees = self.execution.costs.fees(q, filled)
        fill = FillRecord(f"paper-{order.client_order_id}", order.client_order_id, order.symbol, float(q[0]),
                          float(filled[0]), float(fees[0]), stamp)  # fmt: skip
        if self.book.record_fill(fill):
            self._updates.append(_execution(fill))
            record = self.book.order(order.client_order_id)
            assert record is not None
            self._updates.append(_state(record))

    def _status(self, client_order_id: str, status: OrderStatus, stamp: dt.datetime, reason: str = "") -> None:
        if self.book.record_order_update(OrderUpdate(client_order_id, status, stamp, reason=reason)):
            record = self.book.order(client_order_id)
            assert record is not None
            self._updates.append(_state(record))

    def _require_bar(self) -> BarRow:
        if self._bar is None:
            raise RuntimeError("the paper broker has seen no bar yet; on_bar comes before place")
        return self._bar


def _state(record: OrderRecord) -> OrderState:
    return OrderState(
        record.client_order_id, record.symbol, record.intent.quantity, record.status, record.filled, record.reason,
        record.client_order_id, record.updated_at,
    )  # fmt: skip


def _execution(fill: FillRecord) -> Execution:
    return Execution(fill.exec_id, fill.client_order_id, fill.symbol, fill.quantity, fill.price, fill.fees, fill.time)
