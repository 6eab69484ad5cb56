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

from qt.live.store.base import SCHEMA_VERSION, Transaction, check_meta, check_version, new_meta
from qt.live.store.errors import StoreUnavailableError
from qt.live.store.records import Event, dumps, iso, parse_time
from qt.live.store.sql import INDEXES, TABLES, SqlStore, SqlTransaction
from qt.live.store.sqlite_file import damaged, inspect

FILE_NAME = "state.sqlite"
# Pages of write-ahead log between checkpoints (SQLite's default 1,000 = 4 MB): a replay rewrites the same
# pages commit after commit, and fewer checkpoints copy each of them to the file once instead of many times.
WAL_CHECKPOINT_PAGES = 10_000


class SqliteStore(SqlStore):
    """A live state store in ``path`` (default ``STATE_DIR/state.sqlite``).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with SqliteStore(path=f"{folder}/state.sqlite", run_name="demo") as store:
    ...         store.trading_state().state.value, store.meta().schema_version, store.is_new
    ('active', 2, True)
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
        read_only: bool = False,
    ) -> None:
        super().__init__()
        self._path = Path(path)
        self.read_only = read_only
        self._busy_timeout_s = busy_timeout_s
        if not self._path.exists():
            if not create or read_only:
                raise StoreUnavailableError(f"no live state store at {self._path}; start a live run there first")
            self.is_new = self._create_file(run_name, config_hash)
        meta = inspect(self._path, TABLES)  # read-only: a damaged or foreign file is refused before any write
        check_meta(str(self._path), meta, run_name)
        check_version(str(self._path), int(meta["user_version"]))
        try:
            if read_only:
                self._conn = sqlite3.connect(
                    f"{self._path.resolve().as_uri()}?mode=ro", uri=True, timeout=busy_timeout_s,
                    isolation_level=None, check_same_thread=False,
                )  # fmt: skip
            else:
                self._conn = sqlite3.connect(
                    self._path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
                )
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            mode = self._conn.execute("PRAGMA journal_mode").fetchone()[0]
            if not read_only:
                self._conn.execute(f"PRAGMA synchronous = {synchronous}")
                self._conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailableError(f"cannot open the live state store {self._path}: {exc}") from None
        if str(mode).lower() != "wal":  # qt creates every store in WAL mode; another mode means another writer
            self._conn.close()
            raise damaged(self._path, f"it is in journal mode {mode}, not the WAL mode qt creates its stores in")
        try:
            with self._begin_read() if read_only else self._begin() as tx:
                self._create_or_check(tx, run_name, config_hash, create=False)
                if not read_only:
                    self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            self._conn.close()
            raise

    def _create_file(self, run_name: str | None, config_hash: str | None) -> bool:
        """Create a new store atomically: built in a temporary file, then linked into place (never half-made).

        False when another process created the store first (this one then opens theirs).
        """
        meta = new_meta(str(self._path), self.kind, run_name, config_hash, create=True)
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(
                f"cannot create the folder of the live state store {self._path}: {exc}"
            ) from None
        tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}.new")
        for leftover in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-wal", "-shm", "-journal"))):
            leftover.unlink(missing_ok=True)
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("BEGIN IMMEDIATE")
                for table, columns in TABLES.items():
                    conn.execute(f"CREATE TABLE {table} ({columns.format(**self.types)})")
                for statement in INDEXES:
                    conn.execute(statement)
                conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", list(meta.items()))
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            finally:
                conn.close()  # checkpoints the write-ahead log into the file and removes it
            with tmp.open("rb+") as f:
                os.fsync(f.fileno())
            try:
                os.link(tmp, self._path)  # never replaces a store another process created meanwhile
            except FileExistsError:
                return False
            except OSError:  # a file system without hard links: rename, unless a store appeared meanwhile
                if self._path.exists():
                    return False
                os.replace(tmp, self._path)
            _fsync_dir(self._path.parent)
            return True
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailableError(
                f"cannot create the live state store {self._path}: {exc}; make {self._path.parent} writable for this "
                "user, or choose another live.state_dir"
            ) from None
        finally:
            tmp.unlink(missing_ok=True)

    @property
    def location(self) -> str:
        """The database file."""
        return str(self._path)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def close(self) -> None:
        """Commit what ``hold`` grouped, then close the connection (idempotent)."""
        try:
            self.release()
        finally:
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

    def _tables(self) -> set[str]:
        return {str(r[0]) for r in self._all("SELECT name FROM sqlite_master WHERE type = 'table'", [])}

    def _set_schema_version(self, tx: Transaction, version: int) -> None:
        super()._set_schema_version(tx, version)
        self._conn.execute(f"PRAGMA user_version = {int(version)}")

    @contextmanager
    def _begin_read(self) -> Iterator[Transaction]:
        """A deferred transaction: a consistent view of the committed store, no write lock (read-only stores too)."""
        self._conn.execute("BEGIN")
        try:
            yield SqlTransaction(self)
        finally:
            self._conn.execute("ROLLBACK")

    def _put_time(self, value: dt.datetime) -> str:
        return iso(value)

    def _get_time(self, value: Any) -> dt.datetime:
        return parse_time(str(value))

    def _put_json(self, payload: dict[str, Any]) -> str:
        return dumps(payload)

    def _put_event_json(self, event: Event) -> str:
        return event.text

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


def _fsync_dir(folder: Path) -> None:
    """Make a new directory entry durable (the link of a new store survives a power cut)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
