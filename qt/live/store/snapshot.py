"""The snapshot and the one rule that derives it from the event log.

``plan(view, event)`` turns one log event into the snapshot changes it implies, reading only the
current snapshot through ``view``. Every backend writes an event and its planned changes in one
transaction; replaying the log through the same rule into an in-memory :class:`Snapshot` must give
back exactly what the backend holds (``diff`` lists where it does not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from qt.enums import OrderStatus
from qt.live.store.errors import StoreError, UnknownOrderError
from qt.live.store.records import (
    FINAL_STATUSES,
    EquityPoint,
    Event,
    EventKind,
    FillRecord,
    OrderRecord,
    OrderUpdate,
)

# The health family: each kind its own journal class, all kept in one "last_health" slot.
HEALTH_KINDS = frozenset(
    {EventKind.CONNECTED, EventKind.REQUEST, EventKind.REQUEST_HANDLED, EventKind.FEED_STALE, EventKind.HISTORY_ORIGIN}
)
# Which snapshot slot keeps the latest event of a kind.
LATEST = {
    EventKind.TRADING_STATE: "trading_state",
    EventKind.DECISION: "last_decision",
    EventKind.BAR: "last_bar",
    EventKind.RECONCILE: "last_reconcile",
} | dict.fromkeys(HEALTH_KINDS, "last_health")


class View(Protocol):
    """What ``plan`` may read of the current snapshot (inside the writing transaction)."""

    def get_order(self, client_order_id: str) -> OrderRecord | None:
        """The order with that id, or None."""
        ...

    def get_position(self, symbol: str) -> float:
        """The signed position in ``symbol`` (0 when flat)."""
        ...

    def get_cash(self) -> float:
        """The cash balance."""
        ...

    def has_fill(self, exec_id: str) -> bool:
        """Whether a fill with this execution id is recorded."""
        ...


@dataclass(frozen=True)
class PutOrder:
    """Insert or replace an order row."""

    order: OrderRecord


@dataclass(frozen=True)
class PutPosition:
    """Set a position (0 deletes the row)."""

    symbol: str
    quantity: float


@dataclass(frozen=True)
class PutCash:
    """Set the cash balance."""

    amount: float


@dataclass(frozen=True)
class PutFill:
    """Insert a fill (its log sequence number orders ``fills()``)."""

    seq: int
    fill: FillRecord


@dataclass(frozen=True)
class PutLatest:
    """Keep ``event`` as the latest of its kind (slot names in ``LATEST``)."""

    slot: str
    event: Event


@dataclass(frozen=True)
class AddAlert:
    """Append an alert."""

    event: Event


@dataclass(frozen=True)
class AddEquity:
    """Append a point of the equity series."""

    point: EquityPoint


Op = PutOrder | PutPosition | PutCash | PutFill | PutLatest | AddAlert | AddEquity


def updated_order(order: OrderRecord, update: OrderUpdate) -> OrderRecord | None:
    """``order`` after ``update``, or None when the update changes nothing or the order is final."""
    if order.status in FINAL_STATUSES:
        return None
    broker_id = update.broker_order_id if update.broker_order_id is not None else order.broker_order_id
    if (update.status, update.reason, broker_id) == (order.status, order.reason, order.broker_order_id):
        return None
    return order.with_changes(
        status=update.status, reason=update.reason, broker_order_id=broker_id, updated_at=update.time
    )


def filled_order(order: OrderRecord, fill: FillRecord) -> OrderRecord:
    """``order`` after ``fill``: filled quantity, average price, and status if the order was open."""
    filled = order.filled + fill.quantity
    paid = (order.avg_price or 0.0) * order.filled + fill.price * fill.quantity
    avg = paid / filled if filled != 0 else None
    status = order.status
    if status.is_open or status in (OrderStatus.LOST, OrderStatus.NOT_SENT):
        done = abs(filled) >= abs(order.intent.quantity) * (1 - 1e-12)
        status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
    return order.with_changes(filled=filled, avg_price=avg, status=status, updated_at=fill.time)


def plan(view: View, event: Event) -> list[Op]:
    """The snapshot changes ``event`` implies, given the current snapshot ``view``."""
    record = event.record  # the typed journal entry: a payload that does not fit its kind is an error here
    if event.kind is EventKind.INTENT:
        if view.get_order(record.client_order_id) is not None:
            raise StoreError(f"client order id {record.client_order_id!r} is recorded twice")
        return [PutOrder(OrderRecord(intent=record, updated_at=event.time))]
    if event.kind is EventKind.ORDER_UPDATE:
        order = _known_order(view, record.client_order_id, "order update")
        changed = updated_order(order, record)
        return [] if changed is None else [PutOrder(changed)]
    if event.kind is EventKind.FILL:
        return _plan_fill(view, event.seq, record)
    if event.kind is EventKind.CASH:
        return [PutCash(view.get_cash() + record.amount)]
    if event.kind is EventKind.EQUITY:
        return [AddEquity(EquityPoint(event.seq, event.time, record.equity, record.cash))]
    if event.kind is EventKind.ALERT:
        return [AddAlert(event)]
    return [PutLatest(LATEST[event.kind], event)]


def _known_order(view: View, client_order_id: str, what: str) -> OrderRecord:
    order = view.get_order(client_order_id)
    if order is None:
        raise UnknownOrderError(
            f"{what} names client order id {client_order_id!r}, which was never recorded; "
            "record its intent first, or record a foreign fill with client_order_id=None (source='external')"
        )
    return order


def _plan_fill(view: View, seq: int, fill: FillRecord) -> list[Op]:
    if view.has_fill(fill.exec_id):
        raise StoreError(f"execution id {fill.exec_id!r} is recorded twice")
    ops: list[Op] = [
        PutFill(seq, fill),
        PutPosition(fill.symbol, view.get_position(fill.symbol) + fill.quantity),
        PutCash(view.get_cash() + fill.cash_flow),
    ]
    if fill.client_order_id is not None:
        order = _known_order(view, fill.client_order_id, "fill")
        if order.symbol != fill.symbol:
            raise StoreError(
                f"fill {fill.exec_id} is in {fill.symbol} but order {fill.client_order_id!r} is in {order.symbol}"
            )
        ops.append(PutOrder(filled_order(order, fill)))
    return ops


@dataclass
class Snapshot:
    """Everything the snapshot tables hold, in memory (what replaying the log gives)."""

    orders: dict[str, OrderRecord] = field(default_factory=dict)
    positions: dict[str, float] = field(default_factory=dict)
    cash: float = 0.0
    fills: dict[str, tuple[int, FillRecord]] = field(default_factory=dict)  # exec id -> (log seq, fill)
    latest: dict[str, Event] = field(default_factory=dict)
    alerts: list[Event] = field(default_factory=list)
    equity: list[EquityPoint] = field(default_factory=list)

    def get_order(self, client_order_id: str) -> OrderRecord | None:
        """The order with that id, or None."""
        return self.orders.get(client_order_id)

    def get_position(self, symbol: str) -> float:
        """The signed position in ``symbol``."""
        return self.positions.get(symbol, 0.0)

    def get_cash(self) -> float:
        """The cash balance."""
        return self.cash

    def has_fill(self, exec_id: str) -> bool:
        """Whether the fill is recorded."""
        return exec_id in self.fills

    def ops(self) -> list[Op]:
        """The changes that write this snapshot into empty tables."""
        ops: list[Op] = [PutOrder(o) for o in self.orders.values()]
        ops += [PutPosition(s, q) for s, q in self.positions.items()]
        ops += [PutCash(self.cash), *(PutFill(seq, f) for seq, f in self.fills.values())]
        ops += [PutLatest(slot, e) for slot, e in self.latest.items()]
        return ops + [AddAlert(e) for e in self.alerts] + [AddEquity(p) for p in self.equity]

    def apply(self, op: Op) -> None:
        """Apply one planned change."""
        if isinstance(op, PutOrder):
            self.orders[op.order.client_order_id] = op.order
        elif isinstance(op, PutPosition):
            if op.quantity == 0:
                self.positions.pop(op.symbol, None)
            else:
                self.positions[op.symbol] = op.quantity
        elif isinstance(op, PutCash):
            self.cash = op.amount
        elif isinstance(op, PutFill):
            self.fills[op.fill.exec_id] = (op.seq, op.fill)
        elif isinstance(op, PutLatest):
            self.latest[op.slot] = op.event
        elif isinstance(op, AddAlert):
            self.alerts.append(op.event)
        else:
            self.equity.append(op.point)


def replay(events: list[Event]) -> tuple[Snapshot, list[str]]:
    """The snapshot the log rebuilds, and the problems met on the way (duplicates, unknown orders, gaps)."""
    snapshot = Snapshot()
    problems: list[str] = []
    for expected, event in enumerate(events, start=1):
        if event.seq != expected:
            problems.append(f"event log: sequence number {event.seq} where {expected} was expected (gap or reorder)")
        try:
            for op in plan(snapshot, event):
                snapshot.apply(op)
        except (StoreError, KeyError, TypeError, ValueError) as exc:
            problems.append(f"event {event.seq} ({event.kind.value}): {exc}")
    return snapshot, problems


def diff(stored: Snapshot, replayed: Snapshot) -> list[str]:
    """Where the stored snapshot differs from the replayed log, one line per difference."""
    problems: list[str] = []
    for name in ("orders", "positions", "fills", "latest"):
        mine, theirs = getattr(stored, name), getattr(replayed, name)
        for key in sorted(set(mine) | set(theirs)):
            if mine.get(key) != theirs.get(key):
                problems.append(f"snapshot {name}[{key}]: stored {mine.get(key)!r}, log gives {theirs.get(key)!r}")
    if stored.cash != replayed.cash:
        problems.append(f"snapshot cash: stored {stored.cash!r}, log gives {replayed.cash!r}")
    for name in ("alerts", "equity"):
        if getattr(stored, name) != getattr(replayed, name):
            problems.append(
                f"snapshot {name}: stored {len(getattr(stored, name))} entries differ from the "
                f"{len(getattr(replayed, name))} the log gives"
            )
    return problems
