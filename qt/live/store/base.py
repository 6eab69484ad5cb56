"""The live state store contract: an append-only event log plus snapshot tables, one transaction per event.

Every write appends one event to the log and applies the snapshot changes ``plan`` derives from
it, in one transaction; so replaying the log rebuilds the snapshot exactly (``integrity_check``
proves it, ``rebuild_snapshot`` repairs from the log). SQLite, PostgreSQL and Redis implement
the backend primitives below; everything users call is written once, here.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar, TypeVar

from qt.enums import HaltCause, OrderStatus, TradingState
from qt.live import journal  # a module reference: qt.live.journal imports this package too
from qt.live.store.errors import DamagedStoreError, SchemaVersionError, StoreError
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
    dumps,
    iso,
    to_utc,
    trading_status,
    utc_now,
)
from qt.live.store.snapshot import Op, Snapshot, diff, plan, replay

SCHEMA_VERSION = 2  # 2: a typed journal (qt.live.journal); the health kind split; trading states carry a cause
MIGRATES = frozenset({1})  # versions this qt migrates in place when it opens a store for writing
FREE_KINDS = frozenset(EventKind) - {EventKind.INTENT, EventKind.ORDER_UPDATE, EventKind.FILL}
F = TypeVar("F", bound=Callable[..., Any])


def serialized(method: F) -> F:
    """Run ``method`` holding the store's lock: one thread at a time uses the connection (asyncio.to_thread)."""

    @functools.wraps(method)
    def locked(self: LiveStore, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked  # type: ignore[return-value]


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


def check_meta(location: str, stored: Mapping[str, str], run_name: str | None) -> int:
    """The schema version of an existing store; refuse one this qt can neither read nor migrate, or another run's."""
    missing = [k for k in ("run_name", "created_at", "schema_version") if not stored.get(k)]
    if missing:
        raise DamagedStoreError(
            f"live state store at {location} is damaged: its meta lacks {', '.join(missing)}; qt wrote nothing to "
            "it. Restore it from a backup, or move it away to start a new store (a new store starts flat: check "
            "the broker's positions first)"
        )
    try:
        version = int(stored["schema_version"])
    except ValueError:
        version = -1
    check_version(location, version)
    if run_name and stored.get("run_name") != run_name:
        raise StoreError(
            f"live state store at {location} belongs to run {stored.get('run_name')!r}, not {run_name!r}; "
            "choose another live.state_dir (or store namespace) or the same run name"
        )
    return version


def check_version(location: str, version: int) -> None:
    """Refuse a schema version this qt neither reads nor migrates, saying what to do."""
    if version == SCHEMA_VERSION or version in MIGRATES:
        return
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"live state store at {location} has schema version {version}, written by a newer qt; this qt reads "
            f"version {SCHEMA_VERSION} (and migrates {', '.join(map(str, sorted(MIGRATES)))}): upgrade qt "
            "to the version that wrote it to use this store; qt wrote nothing to it"
        )
    raise SchemaVersionError(
        f"live state store at {location} has schema version {version}, which no qt wrote; this qt reads version "
        f"{SCHEMA_VERSION}: restore the store from a backup or start a new state folder; qt wrote nothing to it"
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
    update that changes nothing. ``with store.batch():`` makes several writes one transaction;
    ``hold``/``sync``/``release`` group many writes per commit (a replay's group commit).
    Every method holds the store's lock, so one store object may be used from several threads
    (e.g. ``asyncio.to_thread`` off an event loop): calls run one at a time, and a ``batch()``
    keeps other threads out until it ends. Other processes may open the same store.

    ``is_new`` says this open created the store (nothing was there: a node that finds the broker
    holding positions should refuse to start); ``read_only`` stores refuse every write.

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
    holds_writes: ClassVar[bool] = True  # ``hold`` groups writes (False: the backend commits each write at once)

    def __init__(self) -> None:
        self._tx: Transaction | None = None
        self._lock = threading.RLock()
        self._tx_writes = False  # whether the open transaction may write
        self._held: AbstractContextManager[Transaction] | None = None  # the open transaction of ``hold``
        self._holding = False  # between ``hold`` and ``release``: writes join one open transaction until ``sync``
        self.syncs = 0  # ``sync`` calls made while holding (a caller can tell whether one came since it looked)
        self._depth = 0  # writes and batches open inside the held transaction
        self._sync_due = False  # a sync asked for inside one of them: committed when the outermost ends
        self.is_new = False
        self.read_only = False

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

    def _begin_read(self) -> AbstractContextManager[Transaction]:
        """A transaction for consistent reads (a read-only store can open it); by default a write transaction."""
        return self._begin()

    @abstractmethod
    def _read_raw_events(self) -> list[tuple[int, dt.datetime, str, dict[str, Any]]]:
        """Every log entry as (seq, time, kind text, payload), undecoded (migration reads old kinds)."""

    @abstractmethod
    def _rewrite_events(self, tx: Transaction, events: list[Event]) -> None:
        """Replace the whole log by ``events`` inside ``tx`` (migration only)."""

    @abstractmethod
    def _set_schema_version(self, tx: Transaction, version: int) -> None:
        """Record ``version`` as the store's schema version inside ``tx``."""

    @abstractmethod
    def _read_meta(self) -> StoreMeta:
        """Run name, creation time, schema version, config hash, kind and location (no password)."""

    @serialized
    def meta(self) -> StoreMeta:
        """Run name, creation time, schema version, config hash, kind and location (no password)."""
        return self._read_meta()

    @abstractmethod
    def close(self) -> None:
        """Release the connection (idempotent)."""

    def __enter__(self) -> LiveStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -----------------------------------------------------------------
    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[Transaction]:
        with self._lock:
            if self._tx is None and write and self._holding:
                held = self._begin()
                self._tx, self._tx_writes = held.__enter__(), True
                self._held = held
            if self._tx is not None:
                if write and not self._tx_writes:
                    raise StoreError("a write inside a read-only snapshot (snapshot, replay, integrity_check): a bug")
                if self._held is None:
                    yield self._tx
                    return
                self._depth += 1
                try:
                    yield self._tx
                except BaseException as exc:  # a write failed in a held group: drop the group, as a crash would
                    if self._held is not None:
                        self._release(exc)
                    raise
                finally:
                    self._depth -= 1
                if self._depth == 0 and self._sync_due and self._held is not None:
                    self._release(None)  # a sync asked for inside a batch: the batch stays whole
                return
            if write and self.read_only:
                raise StoreError(
                    f"{self.meta().location} was opened read-only (as `qt live status` does); nothing was written"
                )
            with self._begin() if write else self._begin_read() as tx:
                self._tx, self._tx_writes = tx, write
                try:
                    yield tx
                finally:
                    self._tx = None

    def hold(self) -> None:
        """Group the writes that follow into one transaction per ``sync`` (group commit), until ``release``.

        Reads on this store object see the held writes; other processes see them after ``sync``.
        A crash loses what is held since the last ``sync`` (whole writes, never part of one); a
        write that fails inside the group rolls the whole group back. So hold only writes that a
        restart re-creates identically, and ``sync`` before anything leaves the process (an order to
        a broker). A held transaction keeps other writers waiting: sync often. Backends whose
        ``holds_writes`` is False (Redis) commit each write at once.
        """
        with self._lock:
            if not self.holds_writes or self._holding:
                return
            if self._tx is not None:
                raise StoreError("hold() inside a transaction: a bug")
            if self.read_only:
                raise StoreError(f"{self.meta().location} was opened read-only; nothing can be held")
            self._holding = True

    def sync(self) -> None:
        """Commit the writes held so far (nothing to do when none are); holding goes on until ``release``.

        Inside a batch the commit waits for the batch's end (a batch is all or nothing).
        """
        with self._lock:
            self.syncs += self._holding
            if self._held is None:
                return
            if self._depth:
                self._sync_due = True
                return
            self._release(None)

    def release(self) -> None:
        """Commit what is held and stop holding: every write commits on its own again."""
        with self._lock:
            if self._depth:
                raise StoreError("release() inside a batch: a bug")
            self.sync()
            self._holding = False

    @property
    def holding(self) -> bool:
        """Whether writes are being grouped (between ``hold`` and ``release``)."""
        return self._holding

    def _release(self, exc: BaseException | None) -> None:
        """End the held transaction: commit it, or (``exc``) roll it back."""
        held, self._held, self._tx, self._sync_due = self._held, None, None, False
        assert held is not None
        if exc is None:
            held.__exit__(None, None, None)
            return
        try:
            held.__exit__(type(exc), exc, exc.__traceback__)
        except BaseException as rollback:  # the rollback's own failure must not hide the write's error
            if rollback is not exc:
                exc.__context__ = rollback

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make every write inside one transaction: all of them are stored, or (on an error) none."""
        with self._transaction():
            yield

    def _append(self, record: journal.Record, time: dt.datetime, *, skip: Any = None) -> Event | None:
        kind, payload = journal.encode(record)
        text = dumps(payload)  # encoded once (and checked plain JSON): the log row and the latest slot store this text
        with self._transaction() as tx:
            if skip is not None and skip(tx):
                return None
            event = Event(seq=tx.last_seq() + 1, time=time, kind=kind, payload=payload)
            event.__dict__["record"] = record  # the typed record as given (Event.record decodes only read entries)
            event.__dict__["text"] = text
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
        event = self._append(
            intent, intent.decided_at, skip=lambda tx: tx.get_order(intent.client_order_id) is not None
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
        return self._append(update, update.time) is not None

    def record_fill(self, fill: FillRecord) -> bool:
        """Book a fill (position, cash, the order's filled quantity and status); False when its exec id is known."""
        return self._append(fill, fill.time, skip=lambda tx: tx.has_fill(fill.exec_id)) is not None

    def set_trading_state(
        self, state: TradingState, reason: str, *, cause: HaltCause, time: dt.datetime | None = None
    ) -> TradingStatus:
        """Persist the trading state, why (shown to people) and its typed cause (``qt live halt`` from elsewhere)."""
        if not reason:
            raise StoreError("set_trading_state: give a reason (it is shown by `qt live status`)")
        stamp = to_utc(time, "time") if time is not None else utc_now()
        change = journal.TradingStateChanged(TradingState(state), reason, HaltCause(cause))
        self._append(change, stamp)
        return TradingStatus(change.state, reason, stamp, change.cause)

    def deposit(self, amount: float, *, reason: str, time: dt.datetime | None = None) -> Event:
        """Add ``amount`` to cash (negative withdraws): initial capital, transfers, adopted balances."""
        return self.record(journal.CashMoved(float(amount), reason), time=time)

    def record_equity(self, equity: float, cash: float, *, time: dt.datetime) -> Event:
        """Append one point of the equity series (NAV and cash)."""
        return self.record(journal.EquityRecorded(float(equity), float(cash)), time=time)

    def record(self, entry: journal.Entry, *, time: dt.datetime | None = None) -> Event:
        """Append one journal entry (``qt.live.journal``: a bar, decision, alert, reconciliation, health event...).

        Intents, order updates, fills and trading states have their own methods (they deduplicate or validate).
        """
        kind = journal.kind_of(entry)
        if kind not in FREE_KINDS or kind is EventKind.TRADING_STATE:
            raise StoreError(f"record: {kind.value} events have their own method (record_intent, record_fill, "
                             "set_trading_state...)")  # fmt: skip
        stamp = to_utc(time, "time") if time is not None else utc_now()
        event = self._append(entry, stamp)
        assert event is not None
        return event

    def record_decision(self, decision: journal.DecisionRecorded, *, time: dt.datetime) -> Event:
        """Append a decision (kept as ``last_decision``), before its orders are sent."""
        if not isinstance(decision, journal.DecisionRecorded):
            raise StoreError(f"record_decision: expected a qt.live.journal.DecisionRecorded, got {decision!r:.80}")
        return self.record(decision, time=time)

    def record_bar(self, bar: journal.BarRecorded, *, time: dt.datetime) -> Event:
        """Append a processed bar (kept as ``last_bar``)."""
        if not isinstance(bar, journal.BarRecorded):
            raise StoreError(f"record_bar: expected a qt.live.journal.BarRecorded, got {bar!r:.80}")
        return self.record(bar, time=time)

    def record_alert(
        self, message: str | journal.Alert, *, severity: journal.Severity | str = "warning", risk_event: Any = None,
        order: str | None = None, time: dt.datetime | None = None,
    ) -> Event:  # fmt: skip
        """Append an alert (halts, reconciliation breaks, lost orders...): an ``Alert`` or its fields."""
        alert = (
            message if isinstance(message, journal.Alert) else journal.Alert(message, severity, risk_event, order)  # type: ignore[arg-type]
        )
        return self.record(alert, time=time)

    # -- reads ------------------------------------------------------------------------
    @serialized
    def positions(self) -> dict[str, float]:
        """Signed quantity per symbol (flat symbols left out)."""
        return self._read_positions()

    @serialized
    def cash(self) -> float:
        """The cash balance: deposits minus every fill's ``quantity * price + fees``."""
        return self._read_cash()

    @serialized
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

    @serialized
    def order(self, client_order_id: str) -> OrderRecord | None:
        """The order with that client order id, or None."""
        return (self._tx or self._view()).get_order(client_order_id)

    @serialized
    def fills(self, *, client_order_id: str | None = None) -> list[FillRecord]:
        """Fills in the order they were recorded (all, or one order's)."""
        return [fill for _, fill in self._read_fills(client_order_id)]

    @serialized
    def trading_state(self) -> TradingStatus:
        """The persisted trading state, its reason and cause (ACTIVE since creation if never set)."""
        latest = self._read_latest("trading_state")
        return trading_status(latest, latest.time if latest else self.meta().created_at)

    @serialized
    def last_decision(self) -> Event | None:
        """The latest decision (``.record`` is a ``DecisionRecorded``)."""
        return self._read_latest("last_decision")

    @serialized
    def last_bar(self) -> Event | None:
        """The latest bar (``.record`` is a ``BarRecorded``)."""
        return self._read_latest("last_bar")

    @serialized
    def last_health(self) -> Event | None:
        """The latest health event: connected, request, request handled, feed stale or history origin."""
        return self._read_latest("last_health")

    @serialized
    def last_reconcile(self) -> Event | None:
        """The latest reconciliation report (``.record`` is a ``ReconcileReport``)."""
        return self._read_latest("last_reconcile")

    @serialized
    def alerts(self) -> list[Event]:
        """Every alert, oldest first (``.record`` is an ``Alert``)."""
        return self._read_alerts()

    @serialized
    def equity(self) -> list[EquityPoint]:
        """The equity series, oldest first."""
        return self._read_equity()

    @serialized
    def events(
        self, since_seq: int = 0, *, kinds: Iterable[EventKind | str | type] | None = None, limit: int | None = None
    ) -> list[Event]:
        """Log events after ``since_seq``, oldest first: optionally only some kinds, at most ``limit``.

        ``kinds`` takes EventKinds or journal classes: ``store.events(kinds=[OperatorRequest])``.
        """
        wanted = None if kinds is None else frozenset(_kind(k) for k in kinds)
        return self._read_events(since_seq, wanted, limit)

    @serialized
    def last_seq(self) -> int:
        """The sequence number of the newest event (0 when the log is empty): a cheap read for pollers.

        A poller reading ``events(since_seq=s, kinds=[OperatorRequest])`` can take ``last_seq()`` first and
        continue from it next time, so each poll reads only the new part of the log (on every backend).
        """
        return (self._tx or self._view()).last_seq()

    def is_empty(self) -> bool:
        """Whether the log holds no event at all (a store just created, or one whose run never started)."""
        return not self.events(limit=1)

    @serialized
    def last_fill(self) -> FillRecord | None:
        """The fill recorded last (recovery asks the venue for executions since its time)."""
        fills = self._read_fills(None)
        return fills[-1][1] if fills else None

    @serialized
    def summary(self) -> dict[str, Any]:
        """What ``qt live status`` shows, as plain JSON-ready values (times in ISO-8601 UTC)."""
        status = self.trading_state()
        meta = self.meta()
        latest = {slot: self._read_latest(slot) for slot in ("last_decision", "last_bar", "last_health")}
        return {
            "run_name": meta.run_name,
            "store": meta.location,
            "trading_state": status.state.value,
            "cause": status.cause.value,
            "reason": status.reason,
            "since": status.since.isoformat(),
            "positions": self.positions(),
            "cash": self.cash(),
            "open_orders": [_order_summary(o) for o in self.orders(open_only=True)],
            **{slot: (e.time.isoformat() if e else None) for slot, e in latest.items()},
            "alerts": len(self.alerts()),
            "events": (self._tx or self._view()).last_seq(),
        }

    @serialized
    def max_broker_order_id(self) -> int | None:
        """The highest integer broker order id stored (IB: next id = max(nextValidId, this + 1))."""
        ids = [int(b) for o in self._read_orders(None) if (b := o.broker_order_id or "").isdigit()]
        return max(ids, default=None)

    # -- integrity --------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Everything the snapshot tables hold, read in one transaction."""
        with self._transaction(write=False):
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
        with self._transaction(write=False):
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
        execution id, every fill's order known, every payload decodes to its journal class) and that
        replaying it gives the stored snapshot.
        """
        with self._transaction(write=False):
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

    # -- migration --------------------------------------------------------------------
    def _migrate(self, tx: Transaction, version: int) -> int:
        """Bring a store of an older schema ``version`` to this one inside ``tx``; returns the events rewritten.

        The log is decoded with the old version's rules into journal records, re-encoded, and the snapshot
        rebuilt from it; a log that does not decode or replay cleanly is refused (the transaction rolls back).
        """
        from qt.live.store.migration import upgrade_log

        events = upgrade_log(self.meta().location, version, self._read_raw_events())
        snapshot, problems = replay(events)
        if problems:
            raise SchemaVersionError(
                f"live state store at {self.meta().location} (schema version {version}) cannot be migrated: "
                + "; ".join(problems[:3])
                + "; qt wrote nothing to it: use the qt that wrote it, or start a new state folder"
            )
        self._rewrite_events(tx, events)
        self._replace_snapshot(tx, snapshot)
        self._set_schema_version(tx, SCHEMA_VERSION)
        fault_point("store.migration")  # tests: a kill here leaves the old store as it was
        return len(events)


def _kind(k: EventKind | str | type) -> EventKind:
    """An EventKind from a kind, its text, or a journal class."""
    if isinstance(k, type):
        if k not in journal.KIND_OF:
            raise StoreError(f"events(kinds=...): {k.__name__} is not a journal class")
        return journal.KIND_OF[k]
    return EventKind(k)


def _order_summary(order: OrderRecord) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "quantity": order.intent.quantity,
        "filled": order.filled,
        "status": order.status.value,
        "broker_order_id": order.broker_order_id,
    }
