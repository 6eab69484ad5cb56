"""The default live store: one SQLite file in the run's state folder, in WAL mode.

WAL lets ``qt live status`` read and ``qt live halt`` write from another process while the live
process runs; ``busy_timeout`` makes a second writer wait for the lock instead of failing. Each
write is a ``BEGIN IMMEDIATE`` transaction. ``synchronous=FULL`` (the default) fsyncs the WAL at
every commit, so an intent committed before its order is sent survives even a power cut;
``NORMAL`` survives a process crash (SIGKILL) but may lose the last commits on power loss, and is
about ten times faster per write. ``PRAGMA user_version`` holds the schema version.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal

from qt.live.store.base import SCHEMA_VERSION, Transaction
from qt.live.store.errors import SchemaVersionError, StoreUnavailableError
from qt.live.store.records import dumps, parse_time
from qt.live.store.sql import SqlStore, SqlTransaction

FILE_NAME = "state.sqlite"


class SqliteStore(SqlStore):
    """A live state store in ``path`` (default ``STATE_DIR/state.sqlite``).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with SqliteStore(path=f"{folder}/state.sqlite", run_name="demo") as store:
    ...         store.trading_state().state.value, store.meta().schema_version
    ('active', 1)
    """

    kind: ClassVar[str] = "sqlite"
    types: ClassVar[dict[str, str]] = {"T": "TEXT", "F": "REAL", "J": "TEXT", "I": "INTEGER"}

    def __init__(
        self,
        *,
        path: str | os.PathLike[str],
        run_name: str | None = None,
        config_hash: str | None = None,
        create: bool = True,
        busy_timeout_s: float = 10.0,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
    ) -> None:
        super().__init__()
        self._path = Path(path)
        if not create and not self._path.exists():
            raise StoreUnavailableError(f"no live state store at {self._path}; start a live run there first")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self._path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self._conn.execute(f"PRAGMA synchronous = {synchronous}")
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailableError(f"cannot open the live state store {self._path}: {exc}") from None
        if str(mode).lower() != "wal":
            raise StoreUnavailableError(
                f"{self._path}: SQLite refused WAL mode (journal_mode={mode}); use a local disk"
            )
        self._busy_timeout_s = busy_timeout_s
        try:
            with self._begin():
                version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
                if version not in (0, SCHEMA_VERSION):
                    raise SchemaVersionError(
                        f"live state store {self._path} has schema version {version}; this qt reads version "
                        f"{SCHEMA_VERSION}: use the qt that wrote it, or start a new state folder"
                    )
                self._create_or_check(run_name, config_hash, create)
                self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            self._conn.close()
            raise

    @property
    def location(self) -> str:
        """The database file."""
        return str(self._path)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    @contextmanager
    def _begin(self) -> Iterator[Transaction]:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(
                f"{self._path}: could not take the write lock within {self._busy_timeout_s:g} s ({exc}); "
                "another process holds it"
            ) from None
        try:
            yield SqlTransaction(self)
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise StoreUnavailableError(f"{self._path}: the write could not be committed ({exc})") from None

    def _run(self, query: str, params: list[Any]) -> Any:
        return self._conn.execute(query, params)

    def _has_meta(self) -> bool:
        return self._one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'", []) is not None

    def _put_time(self, value: dt.datetime) -> str:
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")

    def _get_time(self, value: Any) -> dt.datetime:
        return parse_time(str(value))

    def _put_json(self, payload: dict[str, Any]) -> str:
        return dumps(payload)

    def _get_json(self, value: Any) -> dict[str, Any]:
        loaded = json.loads(value)
        if not isinstance(loaded, dict):
            raise ValueError(f"payload {value!r} is not a JSON object")
        return loaded

    def _backend_problems(self) -> list[str]:
        problems = []
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version != SCHEMA_VERSION:
            problems.append(f"schema version {version}, expected {SCHEMA_VERSION}")
        for table, column in (("events", "time"), ("orders", "decided_at"), ("orders", "updated_at"),
                              ("fills", "time"), ("latest", "time"), ("alerts", "time"), ("equity", "time")):  # fmt: skip
            for (value,) in self._all(f"SELECT {column} FROM {table} WHERE {column} NOT LIKE '%+00:00'", []):
                problems.append(f"{table}.{column}: {value!r} is not stored in UTC")
        return problems
