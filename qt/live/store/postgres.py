"""The live store in PostgreSQL (psycopg 3): one schema per store, times as timestamptz, payloads as jsonb.

Every write is one transaction holding an advisory lock on the schema, so writers from several
processes queue. ``connect_timeout`` bounds connecting (libpq's minimum is 2 s) and
``statement_timeout`` every statement, waiting for that lock included.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from qt.live.store.base import Transaction
from qt.live.store.errors import StoreError, StoreUnavailableError
from qt.live.store.sql import SqlStore, SqlTransaction

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def server_address(dsn: str) -> str:
    """``host:port/dbname`` of a libpq DSN (no user, no password), for messages.

    Examples
    --------
    >>> server_address("postgresql://qt:s3cret@db.example:5433/live")
    'db.example:5433/live'
    """
    from psycopg.conninfo import conninfo_to_dict

    from qt.config.secrets import mask_dsn

    try:
        parts = conninfo_to_dict(dsn)
    except Exception:
        return mask_dsn(dsn)
    return f"{parts.get('host') or 'localhost'}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"


class PostgresStore(SqlStore):
    """A live state store in schema ``schema`` of the database ``dsn`` names (the DSN is never stored)."""

    kind: ClassVar[str] = "postgres"
    types: ClassVar[dict[str, str]] = {"T": "timestamptz", "F": "double precision", "J": "jsonb", "I": "bigint"}

    def __init__(
        self,
        *,
        dsn: str,
        schema: str,
        run_name: str | None = None,
        config_hash: str | None = None,
        create: bool = True,
        connect_timeout_s: float = 5.0,
        statement_timeout_s: float = 10.0,
        read_only: bool = False,
    ) -> None:
        import psycopg
        from psycopg import sql

        super().__init__()
        self.read_only = read_only
        if not _IDENTIFIER.match(schema):
            raise StoreError(f"PostgreSQL schema {schema!r}: use lower-case letters, digits and _ (at most 63)")
        self._schema = schema
        self._address = server_address(dsn)
        options = f"-c statement_timeout={int(statement_timeout_s * 1000)} -c TimeZone=UTC"
        try:
            self._conn = psycopg.connect(
                dsn, autocommit=True, connect_timeout=max(2, math.ceil(connect_timeout_s)), options=options
            )
        except psycopg.Error as exc:
            from qt.config.secrets import mask_dsn

            raise StoreUnavailableError(
                f"cannot reach PostgreSQL at {self._address} within {max(2, math.ceil(connect_timeout_s))} s: "
                f"{mask_dsn(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)}; "
                "check that the server runs and $QT_LIVE_PG_DSN"
            ) from None
        self._psycopg = psycopg
        try:
            self._conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            with self._begin() as tx:
                if create and not read_only and not self._tables():
                    self._conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
                self._create_or_check(tx, run_name, config_hash, create and not read_only)
        except BaseException:
            self._conn.close()
            raise

    @property
    def location(self) -> str:
        """host:port/dbname and schema (no password)."""
        return f"postgresql {self._address} schema {self._schema}"

    @property
    def schema(self) -> str:
        """The schema holding this store's tables."""
        return self._schema

    def close(self) -> None:
        """Commit what ``hold`` grouped, then close the connection (idempotent)."""
        try:
            self.release()
        finally:
            self._conn.close()

    @contextmanager
    def _begin(self) -> Iterator[Transaction]:
        try:
            with self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"qt-live:{self._schema}"])
                yield SqlTransaction(self)
        except self._psycopg.OperationalError as exc:
            from qt.config.secrets import mask_dsn

            raise StoreUnavailableError(f"PostgreSQL at {self._address}: {mask_dsn(str(exc).strip())}") from None

    @contextmanager
    def _begin_read(self) -> Iterator[Transaction]:
        """A consistent read-only snapshot (REPEATABLE READ) that does not wait for, nor block, writers."""
        try:
            with self._conn.transaction():
                self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield SqlTransaction(self)
        except self._psycopg.OperationalError as exc:
            from qt.config.secrets import mask_dsn

            raise StoreUnavailableError(f"PostgreSQL at {self._address}: {mask_dsn(str(exc).strip())}") from None

    def _run(self, query: str, params: list[Any]) -> Any:
        return self._conn.execute(query.replace("?", "%s"), params)

    def _tables(self) -> set[str]:
        rows = self._all("SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [self._schema])
        return {str(r[0]) for r in rows}

    def _put_time(self, value: dt.datetime) -> dt.datetime:
        return value.astimezone(dt.UTC)

    def _get_time(self, value: Any) -> dt.datetime:
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValueError(f"stored time {value!r} is not a timestamptz")
        return value.astimezone(dt.UTC)

    def _put_json(self, payload: dict[str, Any]) -> Any:
        from psycopg.types.json import Jsonb

        return Jsonb(payload)

    def _get_json(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValueError(f"payload {value!r} is not a JSON object")
        return value

    def _backend_problems(self) -> list[str]:
        from qt.live.store.base import SCHEMA_VERSION

        row = self._one("SELECT value FROM meta WHERE key = 'schema_version'", [])
        version = int(row[0]) if row else -1
        return [] if version == SCHEMA_VERSION else [f"schema version {version}, expected {SCHEMA_VERSION}"]

    def drop(self) -> None:
        """Delete this store: drop its schema and everything in it (tests and `qt live` clean-up)."""
        from psycopg import sql

        self._conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self._schema)))
