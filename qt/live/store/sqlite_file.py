"""What is at a SQLite store's path, judged read-only before qt writes a byte: a qt store, a damaged one, or not one.

A qt store is opened for writing only after this check passes; an empty, truncated, page-corrupted
or foreign file (someone else's ``state.sqlite``), or a qt store missing tables, is one
:class:`DamagedStoreError` naming the file, what is wrong and what to do, and the file stays
byte-identical (the check opens it with ``mode=ro``; it is never switched to WAL).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from qt.live.store.errors import DamagedStoreError, StoreUnavailableError

HEADER = b"SQLite format 3\x00"
UNTOUCHED = "qt changed nothing in it"
START_NEW = (
    "move it away to start a new store (a new store starts flat: check the broker's positions first, "
    "or set live.adopt_positions=true)"
)


def damaged(path: Path, what: str) -> DamagedStoreError:
    """The error for a damaged qt store at ``path``: what is wrong, and what to do."""
    return DamagedStoreError(
        f"live state store {path} is damaged: {what}; {UNTOUCHED}. Restore it from a backup (or try "
        f"`sqlite3 {path} .recover`), or {START_NEW}"
    )


def foreign(path: Path, what: str) -> DamagedStoreError:
    """The error for a file at ``path`` that is not a qt store at all."""
    return DamagedStoreError(
        f"{path} is not a qt live state store: {what}; {UNTOUCHED}. Choose another live.state_dir (or "
        "live.store.path), or move the file away if it is not needed"
    )


def check_tables(location: str, present: Iterable[str], expected: Iterable[str], *, path: Path | None = None) -> None:
    """Refuse tables that are not a qt store's (no ``meta`` nor ``events``) or a qt store lacking some of its own."""
    have, want = set(present), set(expected)
    missing = sorted(want - have)
    if not missing:
        return
    shown = ", ".join(sorted(have)[:8]) + (" ..." if len(have) > 8 else "")
    if not {"meta", "events"} & have:
        what = f"its tables ({shown}) are someone else's"
        if path is not None:
            raise foreign(path, what)
        raise DamagedStoreError(f"{location} is not a qt live state store: {what}; {UNTOUCHED}. Choose another "
                                "live.store.namespace, or remove those tables if they are not needed")  # fmt: skip
    what = f"the tables {', '.join(missing)} are missing"
    if path is not None:
        raise damaged(path, what)
    raise DamagedStoreError(f"live state store at {location} is damaged: {what}; {UNTOUCHED}. Restore it from a "
                            f"backup, or drop it to start a new store (a new store starts flat)")  # fmt: skip


def _header_problem(path: Path, size: int, head: bytes, wal_busy: bool) -> str | None:
    """What the raw header says is wrong (only judged when no write-ahead log is pending)."""
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"its header names a page size of {page_size} bytes"
    if wal_busy:
        return None
    if size % page_size:
        return f"the file is truncated: {size:,} bytes is not a whole number of {page_size:,}-byte pages"
    pages = int.from_bytes(head[28:32], "big")
    if head[24:28] == head[92:96] and pages * page_size > size:
        return f"the file is truncated: {size:,} bytes where its header says {pages:,} pages of {page_size:,} bytes"
    return None


def inspect(path: Path, expected_tables: Iterable[str]) -> dict[str, str]:
    """The meta entries of the qt store at ``path``, read without writing; DamagedStoreError when it is not one."""
    if not path.is_file():
        raise foreign(path, "it is not a file")
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(100)
    except OSError as exc:
        raise StoreUnavailableError(f"cannot read the live state store {path}: {exc}") from None
    if size == 0:
        raise DamagedStoreError(
            f"live state store {path} is empty (0 bytes): a qt store never is, so it was truncated or replaced; "
            f"{UNTOUCHED}. Restore it from a backup, or {START_NEW}"
        )
    if len(head) < 100 or not head.startswith(HEADER):
        raise foreign(path, f"it is not a SQLite database (it starts with {head[:16]!r})")
    wal = path.with_name(path.name + "-wal")
    problem = _header_problem(path, size, head, wal.exists() and wal.stat().st_size > 0)
    if problem:
        raise damaged(path, problem)
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=10)
    except sqlite3.Error as exc:
        raise damaged(path, f"SQLite cannot open it ({exc})") from None
    try:
        try:
            found = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
            if found != ["ok"]:
                raise damaged(path, "SQLite's quick_check reports " + "; ".join(map(str, found)))
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            if not tables:
                raise foreign(path, "it is a SQLite database without any table")
            check_tables(str(path), tables, expected_tables, path=path)
            meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
            meta["user_version"] = str(conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:  # "database disk image is malformed", "file is not a database"
            if "unable to open" in str(exc):  # a write-ahead-log store whose folder forbids its -shm file
                raise StoreUnavailableError(
                    f"cannot open the live state store {path}: SQLite could not create its -shm/-wal files beside it "
                    f"({exc}); make {path.parent} writable for this user, or copy the folder somewhere writable"
                ) from None
            raise damaged(path, f"SQLite reports '{exc}'") from None
    finally:
        conn.close()
    return meta
