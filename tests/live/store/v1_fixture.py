"""Stores written by qt 1 (schema version 1), planted raw into any backend, and raw dumps to compare stores by.

``data/`` holds what qt 1's own store code wrote (``data/make_v1_stores.py`` says how): the SQLite
file itself, and every PostgreSQL row and Redis key. ``plant_v1`` puts them where a spec's store
lives; ``raw`` reads a store's whole content without qt's decoding, to prove nothing changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data")
TIME_COLUMNS = {"time", "decided_at", "updated_at"}
JSON_COLUMNS = {"payload"}
V1_TABLES = ("meta", "events", "orders", "positions", "cash", "fills", "latest", "alerts", "equity")


def plant_v1(spec: dict[str, Any]) -> None:
    """Put qt 1's store where ``spec``'s store lives (run name ``v1-run``)."""
    if spec["kind"] == "sqlite":
        folder = Path(spec["state_dir"])
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DATA / "v1_state.sqlite", folder / "state.sqlite")
    elif spec["kind"] == "postgres":
        _plant_postgres(spec)
    else:
        _plant_redis(spec)


def _plant_postgres(spec: dict[str, Any]) -> None:
    import psycopg
    from psycopg import sql
    from psycopg.types.json import Jsonb

    from qt.live.store.sql import TABLES  # the DDL is the same in versions 1 and 2

    types = {"T": "timestamptz", "F": "double precision", "J": "jsonb", "I": "bigint"}
    dump = json.loads((DATA / "v1_postgres.json").read_text())
    with psycopg.connect(spec["dsn"], autocommit=True, connect_timeout=5) as conn, conn.transaction():
        schema = sql.Identifier(spec["namespace"])
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        for table in V1_TABLES:
            conn.execute(sql.SQL("CREATE TABLE {}.{} (" + TABLES[table].format(**types) + ")").format(
                schema, sql.Identifier(table)))  # fmt: skip
            for row in dump[table]:
                names = list(row)
                values = [
                    dt.datetime.fromisoformat(v) if n in TIME_COLUMNS else Jsonb(v) if n in JSON_COLUMNS else v
                    for n, v in row.items()
                ]
                conn.execute(
                    sql.SQL("INSERT INTO {}.{} ({}) VALUES ({})").format(
                        schema, sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names)),
                        sql.SQL(", ").join(sql.Placeholder() * len(names)),
                    ),
                    values,
                )  # fmt: skip


def _plant_redis(spec: dict[str, Any]) -> None:
    import redis

    keys = json.loads((DATA / "v1_redis.json").read_text())
    client = redis.Redis.from_url(spec["url"], socket_timeout=5, decode_responses=True)
    try:
        for name, item in keys.items():
            key = f"{spec['namespace']}:{name}"
            if item["type"] == "string":
                client.set(key, item["value"])
            elif item["type"] == "hash":
                client.hset(key, mapping=item["value"])
            else:
                client.rpush(key, *item["value"])
    finally:
        client.close()


def raw(spec: dict[str, Any]) -> Any:
    """Everything the spec's store holds, undecoded: the SQLite file's sha256 (and its sidecars' names), every
    PostgreSQL table of the schema, every Redis key of the prefix (the lock key left out)."""
    if spec["kind"] == "sqlite":
        path = Path(spec["state_dir"]) / "state.sqlite"
        return hashlib.sha256(path.read_bytes()).hexdigest()
    if spec["kind"] == "postgres":
        import psycopg
        from psycopg import sql

        with psycopg.connect(spec["dsn"], autocommit=True, connect_timeout=5) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name",
                [spec["namespace"]])]  # fmt: skip
            return {
                table: sorted(map(repr, conn.execute(
                    sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(spec["namespace"]), sql.Identifier(table)))))
                for table in tables
            }  # fmt: skip
    import redis

    client = redis.Redis.from_url(spec["url"], socket_timeout=5, decode_responses=True)
    try:
        out = {}
        for key in sorted(client.scan_iter(match=f"{spec['namespace']}:*")):
            if key.endswith(":lock"):
                continue
            kind = client.type(key)
            out[key] = {"string": client.get, "hash": client.hgetall, "list": lambda k: client.lrange(k, 0, -1)}[kind](
                key
            )
        return out
    finally:
        client.close()
