"""The integrity check finds what was broken behind the store's back, and the log repairs the snapshot."""

from __future__ import annotations

import json

import pytest
from test_live_store_contract import a_day

from qt.live.store import LiveStore, SchemaVersionError
from qt.live.store.redis_store import RedisStore
from qt.live.store.sql import SqlStore


def set_position(store: LiveStore, symbol: str, qty: float) -> None:
    if isinstance(store, SqlStore):
        store._run("UPDATE positions SET quantity = ? WHERE symbol = ?", [qty, symbol])
    else:
        assert isinstance(store, RedisStore)
        store._r.hset(store._key("positions"), symbol, repr(qty))


def duplicate_last_fill_event(store: LiveStore) -> None:
    """Append a second log entry for the last fill's execution id (as a buggy writer would)."""
    last = store.events(kinds=["fill"])[-1]
    seq = store.events()[-1].seq + 1
    if isinstance(store, SqlStore):
        store._run(
            "INSERT INTO events (seq, time, kind, payload) VALUES (?, ?, ?, ?)",
            [seq, store._put_time(last.time), "fill", store._put_json(last.payload)],
        )
    else:
        assert isinstance(store, RedisStore)
        row = {
            "seq": seq,
            "time": last.time.isoformat(timespec="microseconds"),
            "kind": "fill",
            "payload": last.payload,
        }
        store._r.rpush(store._key("events"), json.dumps(row))
        store._r.set(store._key("seq"), seq)


def set_schema_version(store: LiveStore, version: int) -> None:
    if isinstance(store, SqlStore):
        store._run("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(version)])
        if store.kind == "sqlite":
            store._run(f"PRAGMA user_version = {version}", [])
    else:
        assert isinstance(store, RedisStore)
        store._r.hset(store._key("meta"), "schema_version", str(version))


def test_a_corrupted_position_is_found_and_repaired_from_the_log(store: LiveStore) -> None:
    a_day(store)
    set_position(store, "AAPL", 11.0)
    problems = store.integrity_check()
    assert problems == ["snapshot positions[AAPL]: stored 11.0, log gives 10.0"]
    assert store.rebuild_snapshot() == len(store.events())
    assert store.integrity_check() == [] and store.positions()["AAPL"] == 10.0


def test_a_duplicated_execution_in_the_log_is_found(store: LiveStore) -> None:
    a_day(store)
    duplicate_last_fill_event(store)
    problems = store.integrity_check()
    assert any("execution id 'x1' is recorded twice" in p for p in problems), problems
    with pytest.raises(Exception, match="inconsistent log"):
        store.rebuild_snapshot()


def test_a_fill_of_an_unknown_order_is_found(store: LiveStore) -> None:
    a_day(store)
    if isinstance(store, SqlStore):
        store._run("UPDATE fills SET client_order_id = 'ghost' WHERE exec_id = 'e3'", [])
    else:
        assert isinstance(store, RedisStore)
        row = json.loads(store._r.hget(store._key("fills"), "e3"))
        store._r.hset(store._key("fills"), "e3", json.dumps({**row, "client_order_id": "ghost"}))
    problems = store.integrity_check()
    assert "fill e3 names unknown client order id 'ghost'" in problems
    assert any(p.startswith("snapshot fills[e3]") for p in problems)


def test_a_schema_version_mismatch_is_found_and_refused_on_open(opener) -> None:  # type: ignore[no-untyped-def]
    store = opener()
    set_schema_version(store, 99)
    assert "schema version 99, expected 2" in store.integrity_check()
    store.close()
    with pytest.raises(SchemaVersionError, match=r"schema version 99, written by a newer qt.*upgrade qt"):
        opener()


def test_a_time_not_in_utc_is_found(store: LiveStore) -> None:
    a_day(store)
    if store.kind == "postgres":  # timestamptz holds an instant: a -05:00 input is read back in UTC
        store._run("UPDATE events SET time = '2026-01-02T16:00:00-05:00' WHERE seq = 1", [])  # type: ignore[attr-defined]
        assert store.events()[0].time.isoformat() == "2026-01-02T21:00:00+00:00"
        assert store.integrity_check() == []
        return
    if isinstance(store, SqlStore):
        store._run("UPDATE events SET time = '2026-01-02T16:00:00.000000-05:00' WHERE seq = 1", [])
    else:
        assert isinstance(store, RedisStore)
        row = json.loads(store._r.lindex(store._key("events"), 0))
        store._r.lset(store._key("events"), 0, json.dumps({**row, "time": "2026-01-02T16:00:00.000000-05:00"}))
    assert "events.time: '2026-01-02T16:00:00.000000-05:00' is not stored in UTC" in store.integrity_check()
