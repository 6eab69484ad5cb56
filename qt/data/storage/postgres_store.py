"""The server store: PostgreSQL through psycopg 3, bulk-loaded with binary COPY.

Tables live in one schema (``qt`` unless configured), created on first use: ``bars``
with a primary key on (symbol, timestamp), ``actions`` and ``symbols``. A write is one
transaction holding an advisory lock, so concurrent writers queue instead of clashing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from qt.data.storage.base import (
    ACTIONS_SCHEMA,
    BAR_FIELDS,
    BARS_SCHEMA,
    BarSet,
    BarStore,
    Coverage,
    PriceBasis,
    Progress,
    StoreKind,
    SymbolMeta,
    WriteReport,
)
from qt.data.storage.locations import postgres_dsn, postgres_schema, redact
from qt.data.storage.pgcopy import decode_columns, encode_bars
from qt.errors import DataError

_DDL = (
    "CREATE SCHEMA IF NOT EXISTS {schema}",
    'CREATE TABLE IF NOT EXISTS {schema}.bars (symbol text NOT NULL, "timestamp" timestamp NOT NULL, '
    "open float8, high float8, low float8, close float8 NOT NULL, volume float8, "
    'PRIMARY KEY (symbol, "timestamp"))',
    'CREATE TABLE IF NOT EXISTS {schema}.actions (symbol text NOT NULL, "timestamp" timestamp NOT NULL, '
    'split_ratio float8 NOT NULL, dividend float8 NOT NULL, factor float8 NOT NULL, PRIMARY KEY (symbol, "timestamp"))',
    "CREATE TABLE IF NOT EXISTS {schema}.symbols (symbol text PRIMARY KEY, source text NOT NULL, "
    "prices text NOT NULL, currency text NOT NULL, timezone text, updated_at timestamp NOT NULL)",
)
_COLUMNS = 'symbol, "timestamp", ' + ", ".join(BAR_FIELDS)
_UPSERT = (
    f"INSERT INTO bars ({_COLUMNS}) SELECT {_COLUMNS} FROM incoming "
    'ON CONFLICT (symbol, "timestamp") DO UPDATE SET '
    + ", ".join(f"{f} = EXCLUDED.{f}" for f in BAR_FIELDS)
    + " WHERE ("
    + ", ".join(f"bars.{f}" for f in BAR_FIELDS)
    + ") IS DISTINCT FROM ("
    + ", ".join(f"EXCLUDED.{f}" for f in BAR_FIELDS)
    + ")"
)
_PACKED = ", ".join(
    ["string_agg(timestamp_send(b.\"timestamp\"), ''::bytea)"]
    + [f"string_agg(float8send(COALESCE(b.{f}, 'NaN'::float8)), ''::bytea)" for f in BAR_FIELDS]
)
# One row per symbol: its bars packed column by column. The aggregates of a group see the rows
# in the same order, so the packed columns line up (no ORDER BY: it costs 3x on the server).
_READ = (
    f"SELECT (s.i - 1)::int4, count(*)::int4, {_PACKED} "
    "FROM bars b JOIN unnest(%s::text[]) WITH ORDINALITY AS s(symbol, i) ON b.symbol = s.symbol "
    'WHERE b."timestamp" >= %s AND b."timestamp" < %s GROUP BY s.i'
)
CONNECT_TIMEOUT_ENV = "QT_POSTGRES_CONNECT_TIMEOUT"
STATEMENT_TIMEOUT_ENV = "QT_POSTGRES_STATEMENT_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT = 10.0  # seconds
DEFAULT_STATEMENT_TIMEOUT = 60.0  # seconds, per statement (writes go in chunks); a stuck lock or query gives up
_FAR_PAST = dt.datetime(1, 1, 1)
_FAR_FUTURE = dt.datetime(9999, 12, 31)


class PostgresStore(BarStore):
    """Bars in PostgreSQL.

    Parameters
    ----------
    dsn : libpq connection string; None = ``$QT_POSTGRES_DSN`` (keep passwords in the environment or ~/.pgpass).
    schema : the schema holding qt's tables; None = ``$QT_POSTGRES_SCHEMA`` or ``qt``.
    connect_timeout : seconds to wait for the server to answer a connection; None = ``$QT_POSTGRES_CONNECT_TIMEOUT``
        or 10 (a ``connect_timeout`` in the DSN wins).
    statement_timeout : seconds any one statement may run on the server; None = ``$QT_POSTGRES_STATEMENT_TIMEOUT``
        or 60 (0 = no limit).

    Examples
    --------
    >>> PostgresStore.kind.value  # PostgresStore(dsn="postgresql://user@host:5432/db") opens one
    'postgres'
    """

    kind = StoreKind.POSTGRES

    def __init__(
        self,
        *,
        dsn: str | None = None,
        schema: str | None = None,
        connect_timeout: float | None = None,
        statement_timeout: float | None = None,
    ) -> None:
        import psycopg
        from psycopg import sql

        self._dsn = postgres_dsn(dsn)
        self._schema = postgres_schema(schema)
        wait = _seconds(connect_timeout, CONNECT_TIMEOUT_ENV, DEFAULT_CONNECT_TIMEOUT)
        limit = _seconds(statement_timeout, STATEMENT_TIMEOUT_ENV, DEFAULT_STATEMENT_TIMEOUT)
        options: dict[str, Any] = {"options": f"-c statement_timeout={int(limit * 1000)}"}
        if "connect_timeout" not in self._dsn:
            options["connect_timeout"] = max(2, math.ceil(wait))  # libpq's floor is 2 s
        try:
            self._conn = psycopg.connect(self._dsn, autocommit=True, **options)
        except psycopg.errors.ConnectionTimeout:
            raise DataError(
                f"PostgreSQL at {self.server} did not answer within {options.get('connect_timeout', wait):g} s; "
                f"is it up and reachable? (wait longer: {CONNECT_TIMEOUT_ENV}=SECONDS)"
            ) from None
        except psycopg.Error as exc:
            raise DataError(
                f"cannot connect to PostgreSQL at {self.server} ({self.location}): {redact(' '.join(str(exc).split()))}; "
                "set QT_POSTGRES_DSN (e.g. postgresql://user@host:5432/db) or data.dsn"
            ) from None
        ident = sql.Identifier(self._schema)
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"qt-ddl:{self._schema}"])
            for statement in _DDL:
                self._conn.execute(sql.SQL(statement).format(schema=ident))
        self._conn.execute(sql.SQL("SET search_path TO {}").format(ident))

    @property
    def server(self) -> str:
        """``host:port`` the DSN (or libpq's defaults) points at; no user, password or database."""
        from psycopg.conninfo import conninfo_to_dict

        try:
            parts = conninfo_to_dict(self._dsn)
        except Exception:
            parts = {}
        host = str(parts.get("host") or parts.get("hostaddr") or os.environ.get("PGHOST") or "localhost")
        port = str(parts.get("port") or os.environ.get("PGPORT") or "5432")
        return f"{host}:{port}"

    @property
    def location(self) -> str:
        """The DSN (password redacted) and schema."""
        return f"{redact(self._dsn) or 'postgresql (libpq defaults)'} schema {self._schema}"

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    # -- writing --------------------------------------------------------------------
    def _write(self, bars: BarSet, symbols: list[str], chunk_rows: int, progress: Progress | None) -> WriteReport:
        conn = self._conn
        total = bars.bars.num_rows
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"qt-write:{self._schema}"])
            row = conn.execute("SELECT EXISTS (SELECT 1 FROM bars WHERE symbol = ANY(%s))", [symbols]).fetchone()
            fresh = not (row and row[0])
            target = "bars" if fresh else "incoming"
            if not fresh:
                conn.execute("CREATE TEMP TABLE incoming (LIKE bars) ON COMMIT DROP")
            with conn.cursor() as cur:
                for offset in range(0, total, chunk_rows):
                    payload = encode_bars(bars.bars.slice(offset, chunk_rows))
                    with cur.copy(f"COPY {target} ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                        copy.write(payload)
                    if progress is not None:
                        progress(min(offset + chunk_rows, total), total)
                changed = total if fresh else cur.execute(_UPSERT).rowcount
                if bars.actions is not None and bars.actions.num_rows:
                    cur.executemany(
                        'INSERT INTO actions (symbol, "timestamp", split_ratio, dividend, factor) '
                        'VALUES (%s, %s, %s, %s, %s) ON CONFLICT (symbol, "timestamp") DO UPDATE SET '
                        "split_ratio = EXCLUDED.split_ratio, dividend = EXCLUDED.dividend, factor = EXCLUDED.factor",
                        list(zip(*(bars.actions[c].to_pylist() for c in ACTIONS_SCHEMA.names), strict=True)),
                    )
                meta = bars.meta
                cur.executemany(
                    "INSERT INTO symbols (symbol, source, prices, currency, timezone, updated_at) "
                    "VALUES (%s, %s, %s, %s, %s, now() AT TIME ZONE 'UTC') ON CONFLICT (symbol) DO UPDATE SET "
                    "source = EXCLUDED.source, prices = EXCLUDED.prices, currency = EXCLUDED.currency, "
                    "timezone = EXCLUDED.timezone, updated_at = EXCLUDED.updated_at "
                    "WHERE (symbols.source, symbols.prices, symbols.currency, symbols.timezone) IS DISTINCT FROM "
                    "(EXCLUDED.source, EXCLUDED.prices, EXCLUDED.currency, EXCLUDED.timezone)",
                    [(s, meta.source, meta.prices.value, meta.currency, meta.timezone) for s in symbols],
                )
        return WriteReport(rows=total, changed=changed, symbols=len(symbols))

    # -- reading --------------------------------------------------------------------
    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Metadata, bars and actions of one read come from one REPEATABLE READ transaction."""
        with self._conn.transaction():
            self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield

    def _scan(self, symbols: list[str], lo: np.datetime64 | None, hi: np.datetime64 | None) -> pa.Table:
        params = [symbols, _datetime(lo, _FAR_PAST), _datetime(hi, _FAR_FUTURE)]
        with self._conn.cursor(binary=True) as cur:
            rows = cur.execute(_READ, params).fetchall()
        if not rows:
            return BARS_SCHEMA.empty_table()
        return decode_columns(rows, symbols)

    def _scan_actions(self, symbols: list[str], after: np.datetime64 | None) -> pa.Table:
        rows = self._conn.execute(
            'SELECT symbol, "timestamp", split_ratio, dividend, factor FROM actions '
            'WHERE symbol = ANY(%s) AND "timestamp" > %s ORDER BY symbol, "timestamp"',
            [symbols, _datetime(after, _FAR_PAST)],
        ).fetchall()
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[] for _ in ACTIONS_SCHEMA.names]
        return pa.table(
            {
                name: pa.array(col, ACTIONS_SCHEMA.field(name).type)
                for name, col in zip(ACTIONS_SCHEMA.names, columns, strict=True)
            }
        ).cast(ACTIONS_SCHEMA)

    def metadata(self, symbols: Sequence[str] | None = None) -> dict[str, SymbolMeta]:
        """Metadata rows of ``symbols`` (all when None)."""
        query = "SELECT symbol, source, prices, currency, timezone FROM symbols"
        params: list[Any] = []
        if symbols is not None:
            query += " WHERE symbol = ANY(%s)"
            params = [list(symbols)]
        rows = self._conn.execute(query, params).fetchall()
        return {r[0]: SymbolMeta(source=r[1], prices=PriceBasis(r[2]), currency=r[3], timezone=r[4]) for r in rows}

    def coverage(self) -> list[Coverage]:
        """First and last timestamp and row count of every symbol."""
        rows = self._conn.execute(
            'SELECT symbol, min("timestamp"), max("timestamp"), count(*) FROM bars GROUP BY symbol ORDER BY symbol'
        ).fetchall()
        return [Coverage(r[0], np.datetime64(r[1], "us"), np.datetime64(r[2], "us"), int(r[3])) for r in rows]

    def delete(self, symbol: str) -> int:
        """Remove one symbol in one transaction; returns the bars removed."""
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"qt-write:{self._schema}"])
            removed = self._conn.execute("DELETE FROM bars WHERE symbol = %s", [symbol]).rowcount
            self._conn.execute("DELETE FROM actions WHERE symbol = %s", [symbol])
            self._conn.execute("DELETE FROM symbols WHERE symbol = %s", [symbol])
        return int(removed)

    def drop_schema(self) -> None:
        """Drop the schema and everything in it (for tests and benchmarks on throwaway schemas)."""
        from psycopg import sql

        self._conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self._schema)))


def _datetime(value: np.datetime64 | None, default: dt.datetime) -> dt.datetime:
    if value is None:
        return default
    return value.astype("datetime64[us]").astype(dt.datetime)


def _seconds(given: float | None, env: str, default: float) -> float:
    """``given``, else ``$env``, else ``default``: a number of seconds >= 0 (a ConfigError names the variable)."""
    from qt.errors import ConfigError

    raw: Any = given if given is not None else os.environ.get(env, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(env, f"must be a number of seconds, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(env, f"must be a number of seconds >= 0, got {raw!r}")
    return value
