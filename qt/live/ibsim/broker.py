"""The gateway simulator's paper account: orders, executions, positions and cash that outlive client sessions.

Statuses, sides and ids follow IB's conventions (``Submitted``, ``BOT``/``SLD``, perm ids,
execution ids) so what a client sees over the wire matches what it would see from TWS.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

#: IB order statuses after which an order can no longer fill.
DONE_STATUSES = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})


def contract_id(symbol: str) -> int:
    """A stable conId for a stock symbol (the same in every process and session).

    Examples
    --------
    >>> contract_id("AAPL") == contract_id("AAPL") != contract_id("MSFT")
    True
    """
    return 100_000 + zlib.crc32(symbol.encode()) % 900_000_000


@dataclass
class SimOrder:
    """One order as the gateway holds it (``action`` BUY/SELL, ``order_type`` MKT/LMT)."""

    order_id: int
    client_id: int
    perm_id: int
    symbol: str
    action: str
    quantity: float
    order_type: str
    limit_price: float | None
    tif: str
    account: str
    order_ref: str
    exchange: str = "SMART"
    currency: str = "USD"
    status: str = "PreSubmitted"
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    completed_time: str = ""
    completed_status: str = ""

    @property
    def con_id(self) -> int:
        """The contract id of the order's symbol."""
        return contract_id(self.symbol)

    @property
    def remaining(self) -> float:
        """Shares still to fill."""
        return self.quantity - self.filled

    @property
    def is_done(self) -> bool:
        """Filled, cancelled or inactive: no more fills."""
        return self.status in DONE_STATUSES

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self.action == "BUY" else -1

    def marketable(self, price: float) -> bool:
        """Whether the order would trade at ``price`` (always for a market order)."""
        if self.order_type != "LMT" or self.limit_price is None:
            return True
        return price <= self.limit_price if self.sign > 0 else price >= self.limit_price


@dataclass
class SimExecution:
    """One fill: ``shares`` of ``order`` at ``price``, with its commission and realized P&L."""

    exec_id: str
    order: SimOrder
    shares: float
    price: float
    time: datetime
    cum_qty: float
    avg_price: float
    commission: float
    realized_pnl: float

    @property
    def side(self) -> str:
        """IB's execution side: BOT or SLD."""
        return "BOT" if self.order.sign > 0 else "SLD"


@dataclass
class BrokerPosition:
    """Shares held and the average cost per share, commissions included (as IB reports it)."""

    quantity: float = 0.0
    avg_cost: float = 0.0


@dataclass
class Broker:
    """Account state of the simulated gateway; one object for the gateway's whole life.

    Parameters
    ----------
    account : the managed account id the gateway reports (a paper account looks like ``DU...``).
    cash : starting cash in ``currency``.
    next_valid_id : the order id the gateway hands out first.
    commission_per_share, min_commission, max_commission_rate : IB's fixed pricing:
        ``min(max(min_commission, per_share * shares), max_rate * value)`` per execution.

    Examples
    --------
    >>> b = Broker()
    >>> o = b.new_order(order_id=1, client_id=7, symbol="AAPL", action="BUY", quantity=100,
    ...                 order_type="MKT", limit_price=None, tif="DAY", order_ref="r1")
    >>> ex = b.execute(o, 100, 150.0)
    >>> (b.positions["AAPL"].quantity, ex.commission, b.cash)
    (100.0, 1.0, 984999.0)
    """

    account: str = "DU0000001"
    cash: float = 1_000_000.0
    currency: str = "USD"
    next_valid_id: int = 1
    commission_per_share: float = 0.005
    min_commission: float = 1.0
    max_commission_rate: float = 0.01
    positions: dict[str, BrokerPosition] = field(default_factory=dict)
    orders: dict[int, SimOrder] = field(default_factory=dict)
    executions: list[SimExecution] = field(default_factory=list)
    realized_pnl: float = 0.0
    _next_perm_id: int = 1_000_001
    _exec_seq: int = 0
    #: Called after every change of the account (the gateway saves its ``--state`` file from it).
    on_change: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def changed(self) -> None:
        """Tell the listener the account changed (orders, executions, positions, cash or ids)."""
        if self.on_change is not None:
            self.on_change()

    def set_position(self, symbol: str, quantity: float, avg_cost: float) -> None:
        """Seed (or overwrite) a position, e.g. one held before the rehearsal starts."""
        self.positions[symbol] = BrokerPosition(float(quantity), float(avg_cost))
        self.changed()

    def new_order(
        self,
        *,
        order_id: int,
        client_id: int,
        symbol: str,
        action: str,
        quantity: float,
        order_type: str,
        limit_price: float | None,
        tif: str,
        order_ref: str,
        exchange: str = "SMART",
        currency: str = "USD",
    ) -> SimOrder:
        """Accept a new order: give it a perm id and move the next valid id past it."""
        order = SimOrder(
            order_id=order_id,
            client_id=client_id,
            perm_id=self._next_perm_id,
            symbol=symbol,
            action=action,
            quantity=float(quantity),
            order_type=order_type,
            limit_price=limit_price,
            tif=tif or "DAY",
            account=self.account,
            order_ref=order_ref,
            exchange=exchange,
            currency=currency,
        )
        self._next_perm_id += 1
        self.orders[order_id] = order
        self.next_valid_id = max(self.next_valid_id, order_id + 1)
        self.changed()
        return order

    def commission(self, shares: float, price: float) -> float:
        """Commission of one execution under the fixed pricing."""
        raw = max(self.min_commission, self.commission_per_share * abs(shares))
        return round(min(raw, self.max_commission_rate * abs(shares) * price), 8)

    def execute(self, order: SimOrder, shares: float, price: float, time: datetime | None = None) -> SimExecution:
        """Fill ``shares`` of ``order`` at ``price``: book the position, the cash and the execution."""
        shares = min(float(shares), order.remaining)
        commission = self.commission(shares, price)
        realized = self._book(order.symbol, order.sign * shares, price, commission)
        prior = order.avg_fill_price * order.filled
        order.avg_fill_price = price if order.filled == 0 else (prior + price * shares) / (order.filled + shares)
        order.filled += shares
        order.last_fill_price = price
        stamp = time or datetime.now(UTC)
        if order.remaining <= 1e-9:
            self.finish(order, "Filled", "Filled", stamp)
        else:
            order.status = "Submitted"
        self._exec_seq += 1
        execution = SimExecution(
            exec_id=f"{self._exec_seq:08x}.{order.perm_id:08x}.01.01",
            order=order,
            shares=shares,
            price=price,
            time=stamp,
            cum_qty=order.filled,
            avg_price=order.avg_fill_price,
            commission=commission,
            realized_pnl=realized,
        )
        self.executions.append(execution)
        self.changed()
        return execution

    def finish(self, order: SimOrder, status: str, completed_status: str, time: datetime | None = None) -> None:
        """Move ``order`` to a final status (Filled, Cancelled, Inactive)."""
        order.status = status
        order.completed_status = completed_status
        order.completed_time = (time or datetime.now(UTC)).strftime("%Y%m%d %H:%M:%S UTC")
        self.changed()

    def working_orders(self) -> list[SimOrder]:
        """Orders that can still fill, by order id."""
        return [o for _, o in sorted(self.orders.items()) if not o.is_done]

    def done_orders(self) -> list[SimOrder]:
        """Filled, cancelled and rejected orders, by order id."""
        return [o for _, o in sorted(self.orders.items()) if o.is_done]

    def find(self, *, order_ref: str | None = None, order_id: int | None = None) -> SimOrder:
        """The order with this id or reference (the latest one for a reference); KeyError if none."""
        if order_id is not None:
            return self.orders[order_id]
        matches = [o for _, o in sorted(self.orders.items()) if o.order_ref == order_ref]
        if not matches:
            raise KeyError(f"no order with orderRef {order_ref!r}")
        return matches[-1]

    def position(self, symbol: str) -> float:
        """Shares held in ``symbol`` (0 when flat)."""
        pos = self.positions.get(symbol)
        return pos.quantity if pos else 0.0

    def _book(self, symbol: str, signed: float, price: float, commission: float) -> float:
        """Update position and cash with a signed fill; returns the realized P&L.

        IB's convention: opening fills realize nothing and carry their commission in the average
        cost; closing fills realize the price move net of their commission.
        """
        pos = self.positions.setdefault(symbol, BrokerPosition())
        self.cash -= signed * price + commission
        old = pos.quantity
        new = old + signed
        realized = 0.0
        if old == 0 or (old > 0) == (signed > 0):
            pos.avg_cost = (old * pos.avg_cost + signed * price + commission) / new
        else:
            closed = min(abs(signed), abs(old))
            realized = closed * (price - pos.avg_cost) * (1 if old > 0 else -1) - commission
            if abs(signed) > abs(old):
                pos.avg_cost = price
        pos.quantity = new
        if abs(new) < 1e-9:
            del self.positions[symbol]
        self.realized_pnl += realized
        return realized
