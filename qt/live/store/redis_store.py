"""The live store in Redis (redis-py): keys under one prefix per store, one MULTI/EXEC per event.

A writer takes a short lock key (``PREFIX:lock``, SET NX with a time to live), reads what it needs,
queues the log append and the snapshot changes, and commits them with MULTI/EXEC while WATCHing
the sequence counter; a process killed before EXEC leaves nothing behind (its lock expires after
``lock_ttl_s``). Durability is the server's: run Redis with ``appendonly yes`` and
``appendfsync always`` for the guarantee SQLite's ``synchronous=FULL`` gives.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar
from urllib.parse import urlsplit

from qt.enums import OrderStatus
from qt.live.store.base import SCHEMA_VERSION, LiveStore, Transaction, check_meta, new_meta
from qt.live.store.errors import DamagedStoreError, StoreError, StoreUnavailableError
from qt.live.store.records import (
    EquityPoint,
    Event,
    EventKind,
    FillRecord,
    OrderIntent,
    OrderRecord,
    StoreMeta,
    dumps,
    iso,
    parse_time,
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

_PREFIX = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
SNAPSHOT_KEYS = ("orders", "positions", "cash", "fills", "latest", "alerts", "equity")
KIND_INDEX = "kinds:"  # PREFIX:kinds:<kind> lists the seq numbers of that kind's events, in log order


def server_address(url: str) -> str:
    """``host:port/db`` of a Redis URL (no user, no password), for messages.

    Examples
    --------
    >>> server_address("redis://:s3cret@cache.example:6380/2")
    'cache.example:6380/2'
    """
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}/{parts.path.lstrip('/') or '0'}"


def _order_json(order: OrderRecord) -> str:
    return dumps({
        "intent": order.intent.to_payload(), "status": order.status.value, "reason": order.reason,
        "broker_order_id": order.broker_order_id, "filled": order.filled, "avg_price": order.avg_price,
        "updated_at": iso(order.updated_at),
    })  # fmt: skip


def _order(text: str | bytes) -> OrderRecord:
    row = json.loads(text)
    return OrderRecord(
        intent=OrderIntent.from_payload(row["intent"]), status=OrderStatus(row["status"]), reason=row["reason"],
        broker_order_id=row["broker_order_id"], filled=float(row["filled"]), avg_price=row["avg_price"],
        updated_at=parse_time(row["updated_at"]),
    )  # fmt: skip


def _rpush(key: str, values: list[int]) -> Callable[[Any], Any]:
    """A queued RPUSH of ``values`` onto ``key``."""
    return lambda pipe: pipe.rpush(key, *values)


def _event_json(event: Event) -> str:
    """``dumps`` of seq, time, kind and payload, built around the payload's text (encoded once per event)."""
    return (f'{{"kind":{json.dumps(event.kind.value)},"payload":{event.text},"seq":{int(event.seq)},'
            f'"time":{json.dumps(iso(event.time))}}}')  # fmt: skip


def _event(text: str | bytes) -> Event:
    row = json.loads(text)
    return Event(int(row["seq"]), parse_time(row["time"]), EventKind(row["kind"]), row["payload"])


class FrozenRedis:
    """Every key of one store as one MULTI/EXEC read it: the few Redis reads the store makes, answered from memory."""

    def __init__(self, client: Any, key: Callable[[str], str]) -> None:
        hashes, strings = ("meta", "orders", "positions", "fills", "latest"), ("seq", "cash")
        lists = ("events", "alerts", "equity", *(KIND_INDEX + k.value for k in EventKind))
        names = [*hashes, *strings, *lists]
        with client.pipeline(transaction=True) as pipe:
            for name in hashes:
                pipe.hgetall(key(name))
            for name in strings:
                pipe.get(key(name))
            for name in lists:
                pipe.lrange(key(name), 0, -1)
            values = pipe.execute()
        self._data: dict[str, Any] = {key(n): v for n, v in zip(names, values, strict=True)}

    def get(self, name: str) -> Any:
        """GET."""
        return self._data.get(name)

    def hget(self, name: str, field: str) -> Any:
        """HGET."""
        return (self._data.get(name) or {}).get(field)

    def hgetall(self, name: str) -> dict[str, Any]:
        """HGETALL."""
        return dict(self._data.get(name) or {})

    def hvals(self, name: str) -> list[Any]:
        """HVALS."""
        return list((self._data.get(name) or {}).values())

    def hexists(self, name: str, field: str) -> bool:
        """HEXISTS."""
        return field in (self._data.get(name) or {})

    def exists(self, name: str) -> int:
        """EXISTS (one key)."""
        return int(bool(self._data.get(name)))

    def llen(self, name: str) -> int:
        """LLEN."""
        return len(self._data.get(name) or [])

    def lrange(self, name: str, start: int, stop: int) -> list[Any]:
        """LRANGE: inclusive ``stop``, negative indexes from the end, out-of-range clamped."""
        items = self._data.get(name) or []
        n = len(items)
        first, last = max(start + n if start < 0 else start, 0), min(stop + n if stop < 0 else stop, n - 1)
        return items[first : last + 1] if first <= last else []

    def pipeline(self, transaction: bool = False) -> _FrozenPipeline:
        """A pipeline of LINDEX reads, answered from memory."""
        return _FrozenPipeline(self)


class _FrozenPipeline:
    def __init__(self, frozen: FrozenRedis) -> None:
        self._frozen, self._queued = frozen, []  # type: ignore[var-annotated]

    def __enter__(self) -> _FrozenPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def lindex(self, name: str, index: int) -> None:
        self._queued.append(self._frozen.lrange(name, index, index))

    def execute(self) -> list[Any]:
        return [found[0] if found else None for found in self._queued]


class RedisTransaction(Transaction):
    """Reads from Redis overlaid with this transaction's queued writes; ``commands`` run at EXEC."""

    def __init__(self, store: RedisStore) -> None:
        self._s = store
        self.commands: list[Callable[[Any], Any]] = []
        self._orders: dict[str, OrderRecord | None] = {}
        self._positions: dict[str, float] = {}
        self._cash: float | None = None
        self._fills: set[str] = set()
        self._seq: int | None = None

    def get_order(self, client_order_id: str) -> OrderRecord | None:
        """The order with that id, or None."""
        if client_order_id not in self._orders:
            text = self._s._r.hget(self._s._key("orders"), client_order_id)
            self._orders[client_order_id] = None if text is None else _order(text)
        return self._orders[client_order_id]

    def get_position(self, symbol: str) -> float:
        """The signed position (0 when flat)."""
        if symbol not in self._positions:
            text = self._s._r.hget(self._s._key("positions"), symbol)
            self._positions[symbol] = 0.0 if text is None else float(text)
        return self._positions[symbol]

    def get_cash(self) -> float:
        """The cash balance."""
        if self._cash is None:
            text = self._s._r.get(self._s._key("cash"))
            self._cash = 0.0 if text is None else float(text)
        return self._cash

    def has_fill(self, exec_id: str) -> bool:
        """Whether the fill is recorded."""
        return exec_id in self._fills or bool(self._s._r.hexists(self._s._key("fills"), exec_id))

    def last_seq(self) -> int:
        """The last sequence number in the log."""
        if self._seq is None:
            self._seq = int(self._s._r.get(self._s._key("seq")) or 0)
        return self._seq

    def insert_event(self, event: Event) -> None:
        """Queue the log append, its entry in the kind's index and the counter update."""
        text, key, seq = _event_json(event), self._s._key, event.seq
        self._seq = seq
        index = key(KIND_INDEX + event.kind.value)
        self.commands += [lambda p: p.rpush(key("events"), text), lambda p: p.rpush(index, seq),
                          lambda p: p.set(key("seq"), seq)]  # fmt: skip

    def apply(self, op: Op) -> None:
        """Queue one snapshot change (and keep it for later reads in this transaction)."""
        key = self._s._key
        if isinstance(op, PutOrder):
            coid, text = op.order.client_order_id, _order_json(op.order)
            self._orders[coid] = op.order
            self.commands.append(lambda p: p.hset(key("orders"), coid, text))
        elif isinstance(op, PutPosition):
            symbol, qty = op.symbol, op.quantity
            self._positions[symbol] = qty
            if qty == 0:
                self.commands.append(lambda p: p.hdel(key("positions"), symbol))
            else:
                self.commands.append(lambda p: p.hset(key("positions"), symbol, repr(qty)))
        elif isinstance(op, PutCash):
            self._cash = amount = op.amount
            self.commands.append(lambda p: p.set(key("cash"), repr(amount)))
        elif isinstance(op, PutFill):
            fill_text = dumps({"seq": op.seq, **op.fill.to_payload()})
            exec_id = op.fill.exec_id
            self._fills.add(exec_id)
            self.commands.append(lambda p: p.hset(key("fills"), exec_id, fill_text))
        elif isinstance(op, PutLatest):
            slot, event_text = op.slot, _event_json(op.event)
            self.commands.append(lambda p: p.hset(key("latest"), slot, event_text))
        elif isinstance(op, AddAlert):
            alert_text = _event_json(op.event)
            self.commands.append(lambda p: p.rpush(key("alerts"), alert_text))
        else:
            point = op.point
            point_text = dumps({"seq": point.seq, "time": iso(point.time), "equity": point.equity, "cash": point.cash})
            self.commands.append(lambda p: p.rpush(key("equity"), point_text))


class RedisStore(LiveStore):
    """A live state store under key prefix ``prefix`` in the Redis ``url`` names (the URL is never stored)."""

    kind: ClassVar[str] = "redis"
    holds_writes: ClassVar[bool] = False  # reads go to the server, not through a queued MULTI: each write commits

    def __init__(
        self,
        *,
        url: str,
        prefix: str,
        run_name: str | None = None,
        config_hash: str | None = None,
        create: bool = True,
        connect_timeout_s: float = 5.0,
        socket_timeout_s: float = 5.0,
        lock_ttl_s: float = 5.0,
        read_only: bool = False,
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        super().__init__()
        self.read_only = read_only
        if not _PREFIX.match(prefix):
            raise StoreError(f"Redis key prefix {prefix!r}: use letters, digits and _ . : - (at most 100)")
        self._prefix, self._address, self._lock_ttl_s = prefix, server_address(url), lock_ttl_s
        self._wait_s = max(socket_timeout_s, lock_ttl_s + 1.0)
        self._redis = redis
        self._r: Any
        try:
            self._r = redis.Redis.from_url(
                url, socket_connect_timeout=connect_timeout_s, socket_timeout=socket_timeout_s,
                retry=Retry(NoBackoff(), 0), decode_responses=True,
            )  # fmt: skip
            self._r.ping()
        except redis.RedisError as exc:
            raise StoreUnavailableError(
                f"cannot reach Redis at {self._address} within {max(connect_timeout_s, socket_timeout_s):g} s: "
                f"{type(exc).__name__}: {exc}; check that the server runs and $QT_LIVE_REDIS_URL"
            ) from None
        with self._begin() as tx:
            self._create_or_check(tx, run_name, config_hash, create and not read_only)  # type: ignore[arg-type]

    def _key(self, name: str) -> str:
        return f"{self._prefix}:{name}"

    @property
    def location(self) -> str:
        """host:port/db and key prefix (no password)."""
        return f"redis {self._address} prefix {self._prefix}"

    @property
    def prefix(self) -> str:
        """The key prefix of this store."""
        return self._prefix

    def close(self) -> None:
        """Close the connection pool."""
        self._r.close()

    def drop(self) -> None:
        """Delete this store: every key under its prefix (tests and clean-up)."""
        keys = list(self._r.scan_iter(match=f"{self._prefix}:*", count=1000))
        if keys:
            self._r.delete(*keys)

    def _create_or_check(self, tx: RedisTransaction, run_name: str | None, config_hash: str | None,
                         create: bool) -> None:  # fmt: skip
        """Create a new store's meta, or check an existing one and migrate it from an older schema version.

        Foreign keys under the prefix, damage, version and owner are checked before anything is written.
        """
        stored = self._r.hgetall(self._key("meta"))
        if not stored:
            others = [k for k in self._r.scan_iter(match=f"{self._prefix}:*", count=100) if k != self._key("lock")]
            if others:
                shown = ", ".join(sorted(others)[:5])
                raise DamagedStoreError(
                    f"{self.location} is not a qt live state store: keys under the prefix ({shown}) are someone "
                    "else's and there is no qt meta; qt changed nothing. Choose another live.store.namespace"
                )
            if self.read_only:
                raise StoreError(f"no live state store at {self.location}")
            meta = new_meta(self.location, self.kind, run_name, config_hash, create=create)
            self._r.hset(self._key("meta"), mapping=meta)
            self.is_new = True
            return
        version = check_meta(self.location, stored, run_name)
        seq = int(self._r.get(self._key("seq")) or 0)
        if seq and not self._r.exists(self._key("events")):
            raise DamagedStoreError(
                f"live state store at {self.location} is damaged: its sequence counter says {seq} events but the "
                "event log key is missing; qt changed nothing. Restore it from a backup, or drop it to start a "
                "new store (a new store starts flat)"
            )
        if version != SCHEMA_VERSION:
            if self.read_only:
                raise StoreError(
                    f"live state store at {self.location} has schema version {version}; it is migrated to "
                    f"{SCHEMA_VERSION} when opened for writing (the live run itself, or `qt live halt/resume`)"
                )
            self._migrate(tx, version)
        if config_hash and not self.read_only:
            self._r.hset(self._key("meta"), "config_hash", config_hash)

    def _read_raw_events(self) -> list[tuple[int, dt.datetime, str, dict[str, Any]]]:
        rows = [json.loads(t) for t in self._r.lrange(self._key("events"), 0, -1)]
        return [(int(r["seq"]), parse_time(r["time"]), str(r["kind"]), r["payload"]) for r in rows]

    def _rewrite_events(self, tx: Transaction, events: list[Event]) -> None:
        assert isinstance(tx, RedisTransaction)
        key, texts = self._key("events"), [_event_json(e) for e in events]
        indexes = [self._key(KIND_INDEX + k.value) for k in EventKind]
        tx.commands.append(lambda p: p.delete(key, *indexes))
        if texts:
            tx.commands.append(lambda p: p.rpush(key, *texts))
        for kind in EventKind:
            seqs = [e.seq for e in events if e.kind is kind]
            if seqs:
                index = self._key(KIND_INDEX + kind.value)
                tx.commands.append(_rpush(index, seqs))

    def _set_schema_version(self, tx: Transaction, version: int) -> None:
        assert isinstance(tx, RedisTransaction)
        meta = self._key("meta")
        tx.commands.append(lambda p: p.hset(meta, "schema_version", str(version)))

    def _read_meta(self) -> StoreMeta:
        stored = self._r.hgetall(self._key("meta"))
        return StoreMeta(
            kind=self.kind, location=self.location, run_name=stored["run_name"],
            created_at=dt.datetime.fromisoformat(stored["created_at"]),
            schema_version=int(stored["schema_version"]), config_hash=stored.get("config_hash") or None,
        )  # fmt: skip

    # -- transactions -------------------------------------------------------------------
    @contextmanager
    def _begin_read(self) -> Iterator[Transaction]:
        """Reads of one consistent moment: every key of the store fetched in one MULTI/EXEC (no writers' lock)."""
        live = self._r
        try:
            self._r = FrozenRedis(live, self._key)
        except (self._redis.ConnectionError, self._redis.TimeoutError) as exc:
            raise StoreUnavailableError(f"Redis at {self._address}: {exc}") from None
        try:
            yield RedisTransaction(self)
        finally:
            self._r = live

    @contextmanager
    def _begin(self) -> Iterator[Transaction]:
        token = secrets.token_hex(8)
        lock = self._key("lock")
        deadline = time.monotonic() + self._wait_s
        try:
            while not self._r.set(lock, token, nx=True, px=int(self._lock_ttl_s * 1000)):
                if time.monotonic() > deadline:
                    raise StoreUnavailableError(
                        f"{self.location}: another writer held the lock for more than {self._wait_s:g} s"
                    )
                time.sleep(0.002)
            try:
                tx = RedisTransaction(self)
                seq = tx.last_seq()
                yield tx
                self._commit(tx, seq, token)
            finally:
                self._r.eval(_RELEASE, 1, lock, token)
        except self._redis.ConnectionError as exc:
            raise StoreUnavailableError(f"Redis at {self._address}: {exc}") from None
        except self._redis.TimeoutError as exc:
            raise StoreUnavailableError(f"Redis at {self._address}: no answer ({exc})") from None

    def _commit(self, tx: RedisTransaction, seq: int, token: str) -> None:
        if not tx.commands:
            return
        with self._r.pipeline(transaction=True) as pipe:
            pipe.watch(self._key("seq"), self._key("lock"))
            if int(pipe.get(self._key("seq")) or 0) != seq or pipe.get(self._key("lock")) != token:
                raise StoreError(f"{self.location}: the write lock expired during a transaction; nothing was written")
            pipe.multi()
            for command in tx.commands:
                command(pipe)
            try:
                pipe.execute()
            except self._redis.WatchError:
                raise StoreError(f"{self.location}: another writer changed the store; nothing was written") from None

    # -- reads --------------------------------------------------------------------------
    def _view(self) -> Transaction:
        return RedisTransaction(self)

    def _read_events(self, since_seq: int, kinds: frozenset[EventKind] | None, limit: int | None) -> list[Event]:
        since = max(since_seq, 0)
        if limit is not None and int(limit) <= 0:
            return []
        if kinds is None:
            stop = -1 if limit is None else since + int(limit) - 1
            return [_event(t) for t in self._r.lrange(self._key("events"), since, stop)]
        # Some kinds only: their seq numbers from each kind's index (a poll for rare requests reads no other event)
        seqs = sorted(q for k in kinds for q in self._kind_seqs(k, since))
        if limit is not None:
            seqs = seqs[: int(limit)]
        if not seqs:
            return []
        if len(seqs) > 64:  # many: one range read, filtered
            wanted = set(seqs)
            texts = self._r.lrange(self._key("events"), seqs[0] - 1, seqs[-1] - 1)
            return [e for e in map(_event, texts) if e.seq in wanted]
        with self._r.pipeline(transaction=False) as pipe:
            for q in seqs:
                pipe.lindex(self._key("events"), q - 1)
            return [_event(t) for t in pipe.execute()]

    def _kind_seqs(self, kind: EventKind, since: int) -> list[int]:
        """The seq numbers after ``since`` of one kind's events (the index is in log order: read from its end)."""
        key, end = self._key(KIND_INDEX + kind.value), -1
        found: list[int] = []
        while True:
            chunk = [int(q) for q in self._r.lrange(key, end - 255, end)]
            newer = [q for q in chunk if q > since]
            found = newer + found
            if len(newer) < len(chunk) or len(chunk) < 256:
                return found
            end -= 256

    def _read_orders(self, statuses: frozenset[OrderStatus] | None) -> list[OrderRecord]:
        orders = [_order(t) for t in self._r.hvals(self._key("orders"))]
        if statuses is not None:
            orders = [o for o in orders if o.status in statuses]
        return sorted(orders, key=lambda o: (o.intent.decided_at, o.intent.intent_number, o.client_order_id))

    def _read_positions(self) -> dict[str, float]:
        return {s: float(q) for s, q in sorted(self._r.hgetall(self._key("positions")).items())}

    def _read_cash(self) -> float:
        return RedisTransaction(self).get_cash()

    def _read_fills(self, client_order_id: str | None) -> list[tuple[int, FillRecord]]:
        rows = [json.loads(t) for t in self._r.hvals(self._key("fills"))]
        fills = [(int(r.pop("seq")), FillRecord.from_payload(r)) for r in rows]
        if client_order_id is not None:
            fills = [(s, f) for s, f in fills if f.client_order_id == client_order_id]
        return sorted(fills, key=lambda item: item[0])

    def _read_latest(self, slot: str) -> Event | None:
        text = self._r.hget(self._key("latest"), slot)
        return None if text is None else _event(text)

    def _read_latest_all(self) -> dict[str, Event]:
        return {slot: _event(t) for slot, t in self._r.hgetall(self._key("latest")).items()}

    def _read_alerts(self) -> list[Event]:
        return [_event(t) for t in self._r.lrange(self._key("alerts"), 0, -1)]

    def _read_equity(self) -> list[EquityPoint]:
        rows = [json.loads(t) for t in self._r.lrange(self._key("equity"), 0, -1)]
        return [EquityPoint(int(r["seq"]), parse_time(r["time"]), float(r["equity"]), float(r["cash"])) for r in rows]

    def _replace_snapshot(self, tx: Transaction, snapshot: Snapshot) -> None:
        assert isinstance(tx, RedisTransaction)
        keys = [self._key(k) for k in SNAPSHOT_KEYS]
        tx.commands.append(lambda p: p.delete(*keys))
        for op in snapshot.ops():
            tx.apply(op)

    def _backend_problems(self) -> list[str]:
        problems = []
        version = int(self._r.hget(self._key("meta"), "schema_version") or -1)
        if version != SCHEMA_VERSION:
            problems.append(f"schema version {version}, expected {SCHEMA_VERSION}")
        for text in self._r.lrange(self._key("events"), 0, -1):
            stamp = str(json.loads(text).get("time", ""))
            if not stamp.endswith("+00:00"):
                problems.append(f"events.time: {stamp!r} is not stored in UTC")
        length, seq = self._r.llen(self._key("events")), int(self._r.get(self._key("seq")) or 0)
        if length != seq:
            problems.append(f"event log holds {length} events but the sequence counter says {seq}")
        kinds: dict[str, list[int]] = {}
        for text in self._r.lrange(self._key("events"), 0, -1):
            row = json.loads(text)
            kinds.setdefault(str(row["kind"]), []).append(int(row["seq"]))
        for kind in sorted({*kinds, *(k.value for k in EventKind)}):
            indexed = [int(q) for q in self._r.lrange(self._key(KIND_INDEX + kind), 0, -1)]
            if indexed != kinds.get(kind, []):
                problems.append(f"index of {kind} events lists {len(indexed)} seq numbers, the log holds "
                                f"{len(kinds.get(kind, []))}")  # fmt: skip
        return problems
