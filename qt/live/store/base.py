"""The live state store contract: an append-only event log plus snapshot tables, one transaction per event.

Every write appends one event to the log and applies the snapshot changes ``plan`` derives from
it, in one transaction; so replaying the log rebuilds the snapshot exactly (``integrity_check``
proves it, ``rebuild_snapshot`` repairs from the log). SQLite, PostgreSQL and Redis implement
the backend primitives below; everything users call is written once, here.
"""

from __future__ import annotations

import datetime as dt
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar

from qt.enums import HaltCause, OrderStatus, TradingState
from qt.live.store.errors import SchemaVersionError, StoreError
from qt.live.store.faults import fault_point
from qt.live.store.records import (
    EquityPoint,
    Event,
    EventKind,
    FillRecord,
    OrderIntent,
    OrderRecord,
    OrderUpdate,
    StoreMeta,
    TradingStatus,
    default_cause,
    dumps,
    iso,
    to_utc,
    trading_status,
    utc_now,
)
from qt.live.store.snapshot import Op, Snapshot, diff, plan, replay

SCHEMA_VERSION = 1
FREE_KINDS = frozenset({EventKind.DECISION, EventKind.BAR, EventKind.HEALTH, EventKind.ALERT, EventKind.RECONCILE})


def new_meta(
    location: str, kind: str, run_name: str | None, config_hash: str | None, *, create: bool
) -> dict[str, str]:
    """The meta entries of a store about to be created at ``location`` (errors when it may not be)."""
    if not create:
        raise StoreError(f"no live state store at {location}; start a live run there first")
    if not run_name:
        raise StoreError(f"creating the live state store at {location} needs a run name")
    return {"run_name": run_name, "created_at": iso(utc_now()), "schema_version": str(SCHEMA_VERSION),
            "kind": kind, "config_hash": config_hash or ""}  # fmt: skip


def check_meta(location: str, stored: Mapping[str, str], run_name: str | None) -> None:
    """Refuse an existing store of another schema version or another run."""
    version = int(stored.get("schema_version", -1))
    if version != SCHEMA_VERSION:
        raise SchemaVersionError(
            f"live state store at {location} has schema version {version}; this qt reads version "
            f"{SCHEMA_VERSION}: use the qt that wrote it, or start a new state store"
        )
    if run_name and stored.get("run_name") != run_name:
        raise StoreError(
            f"live state store at {location} belongs to run {stored.get('run_name')!r}, not {run_name!r}; "
            "choose another live.state_dir (or store namespace) or the same run name"
        )


class Transaction(ABC):
    """One open backend transaction: reads see the writes made earlier in it."""

    @abstractmethod
    def get_order(self, client_order_id: str) -> OrderRecord | None:
        """The order with that id, or None."""

    @abstractmethod
    def get_position(self, symbol: str) -> float:
        """The signed position in ``symbol`` (0 when flat)."""

    @abstractmethod
    def get_cash(self) -> float:
        """The cash balance."""

    @abstractmethod
    def has_fill(self, exec_id: str) -> bool:
        """Whether the fill is recorded."""

    @abstractmethod
    def last_seq(self) -> int:
        """The sequence number of the last event in the log (0 when empty)."""

    @abstractmethod
    def insert_event(self, event: Event) -> None:
        """Append ``event`` to the log."""

    @abstractmethod
    def apply(self, op: Op) -> None:
        """Apply one snapshot change."""


class LiveStore(ABC):
    """The durable state of a live run: event log, orders, fills, positions, cash and trading state.

    Open one with :func:`qt.live.store.open_store`. Writes return False (and write nothing) when
    they would repeat what is stored: a known client order id, a known execution id, an order
    update that changes nothing. ``with store.batch():`` makes several writes one transaction.
    A store object is used by one thread at a time; other processes may open the same store.

    Examples
    --------
    >>> import datetime as dt, tempfile
    >>> from qt.live.store import FillRecord, OrderIntent, open_store
    >>> t = dt.datetime(2026, 1, 2, 21, tzinfo=dt.UTC)
    >>> with tempfile.TemporaryDirectory() as folder, open_store(state_dir=folder, run_name="demo") as store:
    ...     _ = store.deposit(1000.0, reason="initial capital", time=t)
    ...     store.record_intent(OrderIntent("o1", "demo", t, "AAPL", 5))
    ...     store.record_fill(FillRecord("x1", "o1", "AAPL", 5, 100.0, 1.0, t))
    ...     store.record_fill(FillRecord("x1", "o1", "AAPL", 5, 100.0, 1.0, t))
    ...     store.positions(), store.cash(), store.order("o1").status.value, store.integrity_check()
    True
    True
    False
    ({'AAPL': 5.0}, 499.0, 'filled', [])
    """

    kind: ClassVar[str]

    def __init__(self) -> None:
        self._tx: Transaction | None = None

    # -- backend primitives -----------------------------------------------------------
    @abstractmethod
    def _begin(self) -> AbstractContextManager[Transaction]:
        """A new write transaction (exclusive against other writers; rolled back on error)."""

    @abstractmethod
    def _view(self) -> Transaction:
        """Reads of the committed snapshot outside any write transaction (writes through it are not allowed)."""

    @abstractmethod
    def _read_events(self, since_seq: int, kinds: frozenset[EventKind] | None, limit: int | None) -> list[Event]:
        """Events with seq > ``since_seq``, oldest first."""

    @abstractmethod
    def _read_orders(self, statuses: frozenset[OrderStatus] | None) -> list[OrderRecord]:
        """Orders (all, or those in ``statuses``) by decision time, intent number, id."""

    @abstractmethod
    def _read_positions(self) -> dict[str, float]:
        """Non-zero positions."""

    @abstractmethod
    def _read_cash(self) -> float:
        """The cash balance."""

    @abstractmethod
    def _read_fills(self, client_order_id: str | None) -> list[tuple[int, FillRecord]]:
        """(log seq, fill) pairs (all, or one order's) in the order they were recorded."""

    @abstractmethod
    def _read_latest(self, slot: str) -> Event | None:
        """The latest event kept in ``slot`` (trading_state, last_decision, ...)."""

    @abstractmethod
    def _read_latest_all(self) -> dict[str, Event]:
        """Every latest-event slot."""

    @abstractmethod
    def _read_alerts(self) -> list[Event]:
        """Every alert, oldest first."""

    @abstractmethod
    def _read_equity(self) -> list[EquityPoint]:
        """The equity series, oldest first."""

    @abstractmethod
    def _replace_snapshot(self, tx: Transaction, snapshot: Snapshot) -> None:
        """Empty the snapshot tables and write ``snapshot`` instead (inside ``tx``)."""

    @abstractmethod
    def _backend_problems(self) -> list[str]:
        """Checks only the backend can make (schema version, stored time zones)."""

    @abstractmethod
    def meta(self) -> StoreMeta:
        """Run name, creation time, schema version, config hash, kind and location (no password)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection (idempotent)."""

    def __enter__(self) -> LiveStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -----------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        if self._tx is not None:
            yield self._tx
            return
        with self._begin() as tx:
            self._tx = tx
            try:
                yield tx
            finally:
                self._tx = None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make every write inside one transaction: all of them are stored, or (on an error) none."""
        with self._transaction():
            yield

    def _write(self, kind: EventKind, time: dt.datetime, payload: dict[str, Any], *, skip: Any = None) -> Event | None:
        payload = json.loads(dumps(payload))
        with self._transaction() as tx:
            if skip is not None and skip(tx):
                return None
            event = Event(seq=tx.last_seq() + 1, time=time, kind=kind, payload=payload)
            ops = plan(tx, event)
            if kind is EventKind.ORDER_UPDATE and not ops:
                return None
            tx.insert_event(event)
            fault_point("store.after_log_insert")
            for op in ops:
                tx.apply(op)
            fault_point("store.before_commit")
        return event

    # -- writes -----------------------------------------------------------------------
    def record_intent(self, intent: OrderIntent) -> bool:
        """Store an order intent before it is sent; False (nothing written) when its id is already stored."""
        event = self._write(
            EventKind.INTENT,
            intent.decided_at,
            intent.to_payload(),
            skip=lambda tx: tx.get_order(intent.client_order_id) is not None,
        )
        return event is not None

    def record_intents(self, intents: Iterable[OrderIntent]) -> list[bool]:
        """Store several intents in one transaction; one flag per intent as ``record_intent`` gives."""
        with self._transaction():
            return [self.record_intent(intent) for intent in intents]

    def record_order_update(self, update: OrderUpdate) -> bool:
        """Apply a life-cycle change; False when it changes nothing or the order is already final.

        Raises UnknownOrderError for an id never recorded.
        """
        return self._write(EventKind.ORDER_UPDATE, update.time, update.to_payload()) is not None

    def record_fill(self, fill: FillRecord) -> bool:
        """Book a fill (position, cash, the order's filled quantity and status); False when its exec id is known."""
        event = self._write(EventKind.FILL, fill.time, fill.to_payload(), skip=lambda tx: tx.has_fill(fill.exec_id))
        return event is not None

    def set_trading_state(
        self, state: TradingState, reason: str, *, time: dt.datetime | None = None, cause: HaltCause | None = None
    ) -> TradingStatus:
        """Persist the trading state, why, and its typed ``cause`` (default: the operator's change, or none)."""
        if not reason:
            raise StoreError("set_trading_state: give a reason (it is shown by `qt live status`)")
        stamp = to_utc(time, "time") if time is not None else utc_now()
        typed = HaltCause(cause) if cause is not None else default_cause(TradingState(state))
        payload = {"state": TradingState(state).value, "reason": reason, "cause": typed.value}
        self._write(EventKind.TRADING_STATE, stamp, payload)
        return TradingStatus(TradingState(state), reason, stamp, typed)

    def deposit(self, amount: float, *, reason: str, time: dt.datetime | None = None) -> Event:
        """Add ``amount`` to cash (negative withdraws): initial capital, transfers, adopted balances."""
        stamp = to_utc(time, "time") if time is not None else utc_now()
        event = self._write(EventKind.CASH, stamp, {"amount": float(amount), "reason": reason})
        assert event is not None
        return event

    def record_equity(self, equity: float, cash: float, *, time: dt.datetime) -> Event:
        """Append one point of the equity series (NAV and cash)."""
        event = self._write(EventKind.EQUITY, to_utc(time, "time"), {"equity": float(equity), "cash": float(cash)})
        assert event is not None
        return event

    def record_event(self, kind: EventKind, payload: Mapping[str, Any], *, time: dt.datetime | None = None) -> Event:
        """Append a decision, bar, health, alert or reconcile event (plain-JSON ``payload``)."""
        kind = EventKind(kind)
        if kind not in FREE_KINDS:
            raise StoreError(f"record_event: {kind.value} events have their own method (record_intent, record_fill...)")
        stamp = to_utc(time, "time") if time is not None else utc_now()
        event = self._write(kind, stamp, dict(payload))
        assert event is not None
        return event

    def record_decision(self, payload: Mapping[str, Any], *, time: dt.datetime) -> Event:
        """Append a decision (kept as ``last_decision``)."""
        return self.record_event(EventKind.DECISION, payload, time=time)

    def record_bar(self, payload: Mapping[str, Any], *, time: dt.datetime) -> Event:
        """Append a bar arrival (kept as ``last_bar``)."""
        return self.record_event(EventKind.BAR, payload, time=time)

    def record_alert(
        self, message: str, *, severity: str = "warning", details: Mapping[str, Any] | None = None,
        time: dt.datetime | None = None,
    ) -> Event:  # fmt: skip
        """Append an alert (halts, reconciliation breaks, lost orders...)."""
        payload = {"message": message, "severity": severity, **dict(details or {})}
        return self.record_event(EventKind.ALERT, payload, time=time)

    # -- reads ------------------------------------------------------------------------
    def positions(self) -> dict[str, float]:
        """Signed quantity per symbol (flat symbols left out)."""
        return self._read_positions()

    def cash(self) -> float:
        """The cash balance: deposits minus every fill's ``quantity * price + fees``."""
        return self._read_cash()

    def orders(
        self, *, status: OrderStatus | Iterable[OrderStatus] | None = None, open_only: bool = False
    ) -> list[OrderRecord]:
        """Orders, optionally only those with ``status`` (one or several) or only open ones."""
        wanted: frozenset[OrderStatus] | None = None
        if status is not None:
            wanted = frozenset([OrderStatus(status)] if isinstance(status, str) else map(OrderStatus, status))
        if open_only:
            open_ = frozenset(s for s in OrderStatus if s.is_open)
            wanted = open_ if wanted is None else wanted & open_
        return self._read_orders(wanted)

    def order(self, client_order_id: str) -> OrderRecord | None:
        """The order with that client order id, or None."""
        return (self._tx or self._view()).get_order(client_order_id)

    def fills(self, *, client_order_id: str | None = None) -> list[FillRecord]:
        """Fills in the order they were recorded (all, or one order's)."""
        return [fill for _, fill in self._read_fills(client_order_id)]

    def trading_state(self) -> TradingStatus:
        """The persisted trading state (ACTIVE since creation if never set)."""
        latest = self._read_latest("trading_state")
        return trading_status(latest, latest.time if latest else self.meta().created_at)

    def last_decision(self) -> Event | None:
        """The latest decision event."""
        return self._read_latest("last_decision")

    def last_bar(self) -> Event | None:
        """The latest bar event."""
        return self._read_latest("last_bar")

    def last_health(self) -> Event | None:
        """The latest health event."""
        return self._read_latest("last_health")

    def last_reconcile(self) -> Event | None:
        """The latest reconciliation report."""
        return self._read_latest("last_reconcile")

    def alerts(self) -> list[Event]:
        """Every alert, oldest first."""
        return self._read_alerts()

    def equity(self) -> list[EquityPoint]:
        """The equity series, oldest first."""
        return self._read_equity()

    def events(
        self, since_seq: int = 0, *, kinds: Iterable[EventKind] | None = None, limit: int | None = None
    ) -> list[Event]:
        """Log events after ``since_seq`` (optionally of some kinds, at most ``limit``), oldest first."""
        wanted = None if kinds is None else frozenset(EventKind(k) for k in kinds)
        return self._read_events(since_seq, wanted, limit)

    def last_fill(self) -> FillRecord | None:
        """The fill recorded last (recovery asks the venue for executions since its time)."""
        fills = self._read_fills(None)
        return fills[-1][1] if fills else None

    def summary(self) -> dict[str, Any]:
        """What ``qt live status`` shows, as plain JSON-ready values (times in ISO-8601 UTC)."""
        status = self.trading_state()
        meta = self.meta()
        latest = {slot: self._read_latest(slot) for slot in ("last_decision", "last_bar", "last_health")}
        return {
            "run_name": meta.run_name,
            "store": meta.location,
            "trading_state": status.state.value,
            "reason": status.reason,
            "since": status.since.isoformat(),
            "positions": self.positions(),
            "cash": self.cash(),
            "open_orders": [_order_summary(o) for o in self.orders(open_only=True)],
            **{slot: (e.time.isoformat() if e else None) for slot, e in latest.items()},
            "alerts": len(self.alerts()),
            "events": (self._tx or self._view()).last_seq(),
        }

    def max_broker_order_id(self) -> int | None:
        """The highest integer broker order id stored (IB: next id = max(nextValidId, this + 1))."""
        ids = [int(b) for o in self._read_orders(None) if (b := o.broker_order_id or "").isdigit()]
        return max(ids, default=None)

    # -- integrity --------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Everything the snapshot tables hold, read in one transaction."""
        with self._transaction():
            return self._stored_snapshot()

    def _stored_snapshot(self) -> Snapshot:
        return Snapshot(
            orders={o.client_order_id: o for o in self._read_orders(None)},
            positions=self._read_positions(),
            cash=self._read_cash(),
            fills={f.exec_id: (seq, f) for seq, f in self._read_fills(None)},
            latest=self._read_latest_all(),
            alerts=self._read_alerts(),
            equity=self._read_equity(),
        )

    def replay(self) -> Snapshot:
        """The snapshot the event log rebuilds (nothing written); StoreError if the log is inconsistent."""
        with self._transaction():
            snapshot, problems = replay(self._read_events(0, None, None))
        if problems:
            raise StoreError("the event log does not replay cleanly: " + "; ".join(problems[:5]))
        return snapshot

    def rebuild_snapshot(self) -> int:
        """Rewrite the snapshot tables from the event log in one transaction; returns the events replayed."""
        with self._transaction() as tx:
            events = self._read_events(0, None, None)
            snapshot, problems = replay(events)
            if problems:
                raise StoreError("refusing to rebuild from an inconsistent log: " + "; ".join(problems[:5]))
            self._replace_snapshot(tx, snapshot)
        return len(events)

    def integrity_check(self) -> list[str]:
        """Problems found, one line each (empty when the store is sound).

        Checks the schema version, stored time zones, the log (gapless, no duplicate client order or
        execution id, every fill's order known) and that replaying it gives the stored snapshot.
        """
        with self._transaction():
            problems = self._backend_problems()
            try:
                events = self._read_events(0, None, None)
                stored = self._stored_snapshot()
            except (StoreError, ValueError, KeyError, TypeError) as exc:
                return [*problems, f"store unreadable: {exc}"]
        replayed, log_problems = replay(events)
        problems += log_problems
        problems += [
            f"fill {f.exec_id} names unknown client order id {f.client_order_id!r}"
            for _, f in stored.fills.values()
            if f.client_order_id is not None and f.client_order_id not in stored.orders
        ]
        return problems + diff(stored, replayed)


def _order_summary(order: OrderRecord) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "quantity": order.intent.quantity,
        "filled": order.filled,
        "status": order.status.value,
        "broker_order_id": order.broker_order_id,
    }
