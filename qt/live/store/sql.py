"""The SQL side of the live store, shared by SQLite and PostgreSQL: tables, queries, row decoding.

Queries are written once with ``?`` parameter markers; a dialect supplies the column types, how
times and JSON payloads travel, and the transaction (SQLite ``BEGIN IMMEDIATE``, PostgreSQL an
advisory lock per schema), so writers from several processes queue instead of clashing.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from typing import Any, ClassVar

from qt.enums import OrderStatus, OrderType
from qt.live.store.base import SCHEMA_VERSION, LiveStore, Transaction, check_meta, new_meta
from qt.live.store.errors import SchemaVersionError, StoreError
from qt.live.store.records import (
    EquityPoint,
    Event,
    EventKind,
    FillRecord,
    OrderIntent,
    OrderRecord,
    StoreMeta,
)
from qt.live.store.snapshot import (
    AddAlert,
    Op,
    PutCash,
    PutFill,
    PutLatest,
    PutOrder,
    PutPosition,
    Snapshot,
)

# {T} time, {F} float64, {J} JSON payload, {I} 64-bit integer: filled in by each dialect.
TABLES = {
    "meta": "key TEXT PRIMARY KEY, value TEXT NOT NULL",
    "events": "seq {I} PRIMARY KEY, time {T} NOT NULL, kind TEXT NOT NULL, payload {J} NOT NULL",
    "orders": "client_order_id TEXT PRIMARY KEY, run_name TEXT NOT NULL, decided_at {T} NOT NULL, "
    "symbol TEXT NOT NULL, quantity {F} NOT NULL, order_type TEXT NOT NULL, limit_price {F}, "
    "intent_number {I} NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL, broker_order_id TEXT, "
    "filled {F} NOT NULL, avg_price {F}, updated_at {T} NOT NULL",
    "positions": "symbol TEXT PRIMARY KEY, quantity {F} NOT NULL",
    "cash": "id {I} PRIMARY KEY CHECK (id = 1), amount {F} NOT NULL",
    "fills": "exec_id TEXT PRIMARY KEY, seq {I} NOT NULL UNIQUE, client_order_id TEXT, symbol TEXT NOT NULL, "
    "quantity {F} NOT NULL, price {F} NOT NULL, fees {F} NOT NULL, time {T} NOT NULL, source TEXT NOT NULL",
    "latest": "slot TEXT PRIMARY KEY, seq {I} NOT NULL, time {T} NOT NULL, kind TEXT NOT NULL, payload {J} NOT NULL",
    "alerts": "seq {I} PRIMARY KEY, time {T} NOT NULL, payload {J} NOT NULL",
    "equity": "seq {I} PRIMARY KEY, time {T} NOT NULL, equity {F} NOT NULL, cash {F} NOT NULL",
}
INDEXES = (
    "CREATE INDEX IF NOT EXISTS orders_status ON orders (status)",
    "CREATE INDEX IF NOT EXISTS fills_order ON fills (client_order_id)",
    "CREATE INDEX IF NOT EXISTS events_kind ON events (kind, seq)",
)
SNAPSHOT_TABLES = ("orders", "positions", "cash", "fills", "latest", "alerts", "equity")
ORDER_COLUMNS = (
    "client_order_id, run_name, decided_at, symbol, quantity, order_type, limit_price, intent_number, "
    "status, reason, broker_order_id, filled, avg_price, updated_at"
)
FILL_COLUMNS = "seq, exec_id, client_order_id, symbol, quantity, price, fees, time, source"
ORDER_BY = " ORDER BY decided_at, intent_number, client_order_id"


def _upsert(table: str, columns: str, key: str) -> str:
    names = [c.strip() for c in columns.split(",")]
    updates = ", ".join(f"{c} = excluded.{c}" for c in names if c != key)
    marks = ", ".join("?" for _ in names)
    return f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT ({key}) DO UPDATE SET {updates}"


UPSERT_ORDER = _upsert("orders", ORDER_COLUMNS, "client_order_id")
UPSERT_POSITION = _upsert("positions", "symbol, quantity", "symbol")
UPSERT_CASH = _upsert("cash", "id, amount", "id")
UPSERT_LATEST = _upsert("latest", "slot, seq, time, kind, payload", "slot")


class SqlTransaction(Transaction):
    """Reads and writes on the store's connection (inside its open transaction when writing)."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._seq: int | None = None  # known while this transaction holds the write lock
        # What this transaction read or wrote, so a write reads each row once (every write goes through apply).
        self._orders: dict[str, OrderRecord | None] = {}
        self._positions: dict[str, float] = {}
        self._cash: float | None = None
        self._fills: dict[str, bool] = {}

    def get_order(self, client_order_id: str) -> OrderRecord | None:
        """The order with that id, or None."""
        if client_order_id not in self._orders:
            row = self._store._one(f"SELECT {ORDER_COLUMNS} FROM orders WHERE client_order_id = ?", [client_order_id])
            self._orders[client_order_id] = None if row is None else self._store._order(row)
        return self._orders[client_order_id]

    def get_position(self, symbol: str) -> float:
        """The signed position (0 when flat)."""
        if symbol not in self._positions:
            row = self._store._one("SELECT quantity FROM positions WHERE symbol = ?", [symbol])
            self._positions[symbol] = 0.0 if row is None else float(row[0])
        return self._positions[symbol]

    def get_cash(self) -> float:
        """The cash balance."""
        if self._cash is None:
            row = self._store._one("SELECT amount FROM cash WHERE id = 1", [])
            self._cash = 0.0 if row is None else float(row[0])
        return self._cash

    def has_fill(self, exec_id: str) -> bool:
        """Whether the fill is recorded."""
        if exec_id not in self._fills:
            self._fills[exec_id] = self._store._one("SELECT 1 FROM fills WHERE exec_id = ?", [exec_id]) is not None
        return self._fills[exec_id]

    def forget(self) -> None:
        """Drop what was read (the tables were changed behind ``apply``: a snapshot rebuilt)."""
        self._orders.clear()
        self._positions.clear()
        self._cash = None
        self._fills.clear()

    def last_seq(self) -> int:
        """The last sequence number in the log."""
        if self._seq is None:
            row = self._store._one("SELECT COALESCE(MAX(seq), 0) FROM events", [])
            return int(row[0]) if row else 0
        return self._seq

    def insert_event(self, event: Event) -> None:
        """Append ``event`` to the log."""
        s = self._store
        self._seq = event.seq
        s._run(
            "INSERT INTO events (seq, time, kind, payload) VALUES (?, ?, ?, ?)",
            [event.seq, s._put_time(event.time), event.kind.value, s._put_event_json(event)],
        )

    def apply(self, op: Op) -> None:
        """Apply one snapshot change with one statement."""
        s = self._store
        if isinstance(op, PutOrder):
            o, i = op.order, op.order.intent
            self._orders[i.client_order_id] = o
            s._run(
                UPSERT_ORDER,
                [i.client_order_id, i.run_name, s._put_time(i.decided_at), i.symbol, i.quantity, i.order_type.value,
                 i.limit_price, i.intent_number, o.status.value, o.reason, o.broker_order_id, o.filled, o.avg_price,
                 s._put_time(o.updated_at)],
            )  # fmt: skip
        elif isinstance(op, PutPosition):
            self._positions[op.symbol] = float(op.quantity)
            if op.quantity == 0:
                s._run("DELETE FROM positions WHERE symbol = ?", [op.symbol])
            else:
                s._run(UPSERT_POSITION, [op.symbol, op.quantity])
        elif isinstance(op, PutCash):
            self._cash = float(op.amount)
            s._run(UPSERT_CASH, [1, op.amount])
        elif isinstance(op, PutFill):
            f = op.fill
            self._fills[f.exec_id] = True
            s._run(
                f"INSERT INTO fills ({FILL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [op.seq, f.exec_id, f.client_order_id, f.symbol, f.quantity, f.price, f.fees, s._put_time(f.time),
                 f.source],
            )  # fmt: skip
        elif isinstance(op, PutLatest):
            e = op.event
            s._run(UPSERT_LATEST, [op.slot, e.seq, s._put_time(e.time), e.kind.value, s._put_event_json(e)])
        elif isinstance(op, AddAlert):
            e = op.event
            s._run(
                "INSERT INTO alerts (seq, time, payload) VALUES (?, ?, ?)",
                [e.seq, s._put_time(e.time), s._put_event_json(e)],
            )
        else:
            p = op.point
            s._run(
                "INSERT INTO equity (seq, time, equity, cash) VALUES (?, ?, ?, ?)",
                [p.seq, s._put_time(p.time), p.equity, p.cash],
            )


class SqlStore(LiveStore):
    """A live store in a SQL database (the dialect supplies types, parameter markers and transactions)."""

    types: ClassVar[dict[str, str]]

    # -- dialect ------------------------------------------------------------------------
    @abstractmethod
    def _run(self, query: str, params: list[Any]) -> Any:
        """Execute one statement (``?`` parameter markers); returns the cursor."""

    @abstractmethod
    def _put_time(self, value: dt.datetime) -> Any:
        """A UTC datetime as the database stores it."""

    @abstractmethod
    def _get_time(self, value: Any) -> dt.datetime:
        """A stored time back as an aware UTC datetime."""

    @abstractmethod
    def _put_json(self, payload: dict[str, Any]) -> Any:
        """A payload as the database stores it."""

    def _put_event_json(self, event: Event) -> Any:
        """An event's payload as the database stores it (SQLite stores the text the writer encoded once)."""
        return self._put_json(event.payload)

    @abstractmethod
    def _get_json(self, value: Any) -> dict[str, Any]:
        """A stored payload back as a dict."""

    @abstractmethod
    def _tables(self) -> set[str]:
        """The tables there are where the store lives (its file, or its schema)."""

    # -- helpers ------------------------------------------------------------------------
    def _one(self, query: str, params: list[Any]) -> Any:
        return self._run(query, params).fetchone()

    def _all(self, query: str, params: list[Any]) -> list[Any]:
        return list(self._run(query, params).fetchall())

    def _order(self, row: Any) -> OrderRecord:
        intent = OrderIntent(
            client_order_id=row[0], run_name=row[1], decided_at=self._get_time(row[2]), symbol=row[3],
            quantity=row[4], order_type=OrderType(row[5]), limit_price=row[6], intent_number=int(row[7]),
        )  # fmt: skip
        return OrderRecord(
            intent=intent, status=OrderStatus(row[8]), reason=row[9], broker_order_id=row[10], filled=float(row[11]),
            avg_price=None if row[12] is None else float(row[12]), updated_at=self._get_time(row[13]),
        )  # fmt: skip

    def _event(self, seq: Any, time: Any, kind: Any, payload: Any) -> Event:
        return Event(int(seq), self._get_time(time), EventKind(kind), self._get_json(payload))

    def _create_schema(self, meta: dict[str, str]) -> None:
        for table, columns in TABLES.items():
            self._run(f"CREATE TABLE IF NOT EXISTS {table} ({columns.format(**self.types)})", [])
        for statement in INDEXES:
            self._run(statement, [])
        for key, value in meta.items():
            self._run("INSERT INTO meta (key, value) VALUES (?, ?)", [key, value])

    def _create_or_check(self, tx: Transaction, run_name: str | None, config_hash: str | None, create: bool) -> None:
        """Create the tables and meta of a new store, or check an existing one and migrate an older schema version.

        A foreign or damaged one (tables), another version or another run's is refused before anything is written.
        """
        from qt.live.store.sqlite_file import check_tables

        tables = self._tables()
        if not tables:
            if self.read_only:
                raise StoreError(f"no live state store at {self.location}; start a live run there first")
            self._create_schema(new_meta(self.location, self.kind, run_name, config_hash, create=create))
            self.is_new = True
            return
        check_tables(self.location, tables, TABLES)
        version = check_meta(self.location, dict(self._all("SELECT key, value FROM meta", [])), run_name)
        if version != SCHEMA_VERSION:
            if self.read_only:
                raise SchemaVersionError(
                    f"live state store at {self.location} has schema version {version}; it is migrated to "
                    f"{SCHEMA_VERSION} when opened for writing (the live run itself, or `qt live halt/resume`); "
                    "this read-only look wrote nothing"
                )
            self._migrate(tx, version)
        if config_hash and not self.read_only:
            self._run(UPSERT_META, ["config_hash", config_hash])

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the store is (file path, or host:port and schema; never a password)."""

    def _read_meta(self) -> StoreMeta:
        stored = dict(self._all("SELECT key, value FROM meta", []))
        return StoreMeta(
            kind=self.kind, location=self.location, run_name=stored["run_name"],
            created_at=dt.datetime.fromisoformat(stored["created_at"]),
            schema_version=int(stored["schema_version"]), config_hash=stored.get("config_hash") or None,
        )  # fmt: skip

    # -- reads --------------------------------------------------------------------------
    def _view(self) -> Transaction:
        return SqlTransaction(self)

    def _read_events(self, since_seq: int, kinds: frozenset[EventKind] | None, limit: int | None) -> list[Event]:
        query = "SELECT seq, time, kind, payload FROM events WHERE seq > ?"
        params: list[Any] = [int(since_seq)]
        if kinds is not None:
            query += f" AND kind IN ({', '.join('?' for _ in kinds)})"
            params += sorted(k.value for k in kinds)
        query += " ORDER BY seq"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        return [self._event(*row) for row in self._all(query, params)]

    def _read_orders(self, statuses: frozenset[OrderStatus] | None) -> list[OrderRecord]:
        if statuses is None:
            return [self._order(r) for r in self._all(f"SELECT {ORDER_COLUMNS} FROM orders{ORDER_BY}", [])]
        if not statuses:
            return []
        marks = ", ".join("?" for _ in statuses)
        rows = self._all(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE status IN ({marks}){ORDER_BY}", sorted(s.value for s in statuses)
        )
        return [self._order(r) for r in rows]

    def _read_positions(self) -> dict[str, float]:
        return {str(s): float(q) for s, q in self._all("SELECT symbol, quantity FROM positions ORDER BY symbol", [])}

    def _read_cash(self) -> float:
        return SqlTransaction(self).get_cash()

    def _read_fills(self, client_order_id: str | None) -> list[tuple[int, FillRecord]]:
        query, params = f"SELECT {FILL_COLUMNS} FROM fills", []
        if client_order_id is not None:
            query, params = query + " WHERE client_order_id = ?", [client_order_id]
        rows = self._all(query + " ORDER BY seq", params)
        return [
            (int(r[0]), FillRecord(exec_id=r[1], client_order_id=r[2], symbol=r[3], quantity=r[4], price=r[5],
                                   fees=r[6], time=self._get_time(r[7]), source=r[8]))
            for r in rows
        ]  # fmt: skip

    def _read_latest(self, slot: str) -> Event | None:
        row = self._one("SELECT seq, time, kind, payload FROM latest WHERE slot = ?", [slot])
        return None if row is None else self._event(*row)

    def _read_latest_all(self) -> dict[str, Event]:
        return {r[0]: self._event(*r[1:]) for r in self._all("SELECT slot, seq, time, kind, payload FROM latest", [])}

    def _read_alerts(self) -> list[Event]:
        rows = self._all("SELECT seq, time, payload FROM alerts ORDER BY seq", [])
        return [self._event(seq, time, EventKind.ALERT.value, payload) for seq, time, payload in rows]

    def _read_equity(self) -> list[EquityPoint]:
        rows = self._all("SELECT seq, time, equity, cash FROM equity ORDER BY seq", [])
        return [EquityPoint(int(s), self._get_time(t), float(e), float(c)) for s, t, e, c in rows]

    def _replace_snapshot(self, tx: Transaction, snapshot: Snapshot) -> None:
        for table in SNAPSHOT_TABLES:
            self._run(f"DELETE FROM {table}", [])
        if isinstance(tx, SqlTransaction):
            tx.forget()
        for op in snapshot.ops():
            tx.apply(op)

    def _read_raw_events(self) -> list[tuple[int, dt.datetime, str, dict[str, Any]]]:
        rows = self._all("SELECT seq, time, kind, payload FROM events ORDER BY seq", [])
        return [(int(q), self._get_time(t), str(k), self._get_json(p)) for q, t, k, p in rows]

    def _rewrite_events(self, tx: Transaction, events: list[Event]) -> None:
        self._run("DELETE FROM events", [])
        for e in events:
            tx.insert_event(e)

    def _set_schema_version(self, tx: Transaction, version: int) -> None:
        self._run(UPSERT_META, ["schema_version", str(version)])


UPSERT_META = _upsert("meta", "key, value", "key")
