"""The broker contract the order router talks to: per-order, keyed by qt's client order id.

A broker accepts orders (``place``, or a decision's burst at once with ``place_many``), cancels
them, and reports what happened since the last call (``updates``: order states and executions, in
the order they happened). For recovery it
answers what it knows now: one order, the open orders (foreign ones too), positions and every
execution. The paper broker and the Interactive Brokers adapter implement it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from qt.enums import OrderStatus, OrderType
from qt.errors import QtError


class BrokerUnavailable(QtError):
    """The broker cannot take orders now (disconnected, read-only): the router records the order DENIED."""


@dataclass(frozen=True)
class BrokerOrder:
    """An order as sent: qt's client order id, the symbol, a signed quantity (+ buys), type and limit."""

    client_order_id: str
    symbol: str
    quantity: float
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None


@dataclass(frozen=True)
class OrderState:
    """What the broker says of one order (``client_order_id`` is its order reference; foreign orders have others)."""

    client_order_id: str
    symbol: str
    quantity: float
    status: OrderStatus
    filled: float = 0.0
    reason: str = ""
    broker_order_id: str | None = None
    time: dt.datetime | None = None


@dataclass(frozen=True)
class Execution:
    """One execution: unique ``exec_id``, the order it belongs to (None for one qt did not send), signed quantity."""

    exec_id: str
    client_order_id: str | None
    symbol: str
    quantity: float
    price: float
    fees: float
    time: dt.datetime


@runtime_checkable
class Broker(Protocol):
    """Where the router sends orders and from which it learns fills."""

    def place(self, order: BrokerOrder) -> None:
        """Send one order (its outcome arrives through ``updates``)."""
        ...

    def place_many(self, orders: Sequence[BrokerOrder]) -> dict[str, str]:
        """Send a decision's burst, in order; the orders it could not take, with why (client order id -> reason).

        What ``place`` would refuse with ``BrokerUnavailable`` is returned instead (the router records
        it DENIED); outcomes of the others arrive through ``updates``. An adapter with a durable book
        (paper) records the burst as one transaction: after a crash it has all of it, or none.
        """
        ...

    def cancel(self, client_order_id: str) -> None:
        """Ask to cancel one open order."""
        ...

    def updates(self) -> list[OrderState | Execution]:
        """Order states and executions since the last call, oldest first."""
        ...

    def order(self, client_order_id: str) -> OrderState | None:
        """The broker's view of one order, or None if it never received it."""
        ...

    def open_orders(self) -> list[OrderState]:
        """Every open order at the broker, qt's and foreign ones."""
        ...

    def positions(self) -> dict[str, float]:
        """Signed position per symbol."""
        ...

    def executions(self) -> list[Execution]:
        """Every execution the broker can report (the router deduplicates by exec id)."""
        ...
