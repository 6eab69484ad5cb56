"""The embedded default store: one DuckDB file, ``<data_dir>/qt.duckdb``.

Writes are one transaction: bars are staged in a temporary table, rows identical to
stored ones are dropped, and the rest replace (delete + insert) what was there. The
bars table carries no index: DuckDB's zone maps serve range reads, and the write path
keeps (symbol, timestamp) unique.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
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
from qt.data.storage.locations import data_dir as resolve_data_dir
from qt.errors import DataError

FILE_NAME = "qt.duckdb"
_DDL = (
    "CREATE TABLE IF NOT EXISTS bars (symbol VARCHAR NOT NULL, timestamp TIMESTAMP NOT NULL, open DOUBLE, "
    "high DOUBLE, low DOUBLE, close DOUBLE NOT NULL, volume DOUBLE)",
    "CREATE TABLE IF NOT EXISTS actions (symbol VARCHAR NOT NULL, timestamp TIMESTAMP NOT NULL, "
    "split_ratio DOUBLE NOT NULL, dividend DOUBLE NOT NULL, factor DOUBLE NOT NULL, PRIMARY KEY (symbol, timestamp))",
    "CREATE TABLE IF NOT EXISTS symbols (symbol VARCHAR PRIMARY KEY, source VARCHAR NOT NULL, "
    "prices VARCHAR NOT NULL, currency VARCHAR NOT NULL, timezone VARCHAR, updated_at TIMESTAMP NOT NULL)",
)
_COLUMNS = ", ".join(BARS_SCHEMA.names)
_SAME_ROW = " AND ".join(
    ["i.symbol = b.symbol", "i.timestamp = b.timestamp", *(f"i.{f} IS NOT DISTINCT FROM b.{f}" for f in BAR_FIELDS)]
)


class DuckDBStore(BarStore):
    """Bars in an embedded DuckDB database.

    Parameters
    ----------
    data_dir : folder of the database file; None = ``$QT_DATA_DIR`` or ``~/.qt/data``.
    read_only : open without write access, so several readers can share the file.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder, DuckDBStore(data_dir=folder) as store:
    ...     store.coverage()
    []
    """

    kind = StoreKind.DUCKDB

    def __init__(self, *, data_dir: str | os.PathLike[str] | None = None, read_only: bool = False) -> None:
        import duckdb

        folder = resolve_data_dir(data_dir)
        self._path = folder / FILE_NAME
        if read_only and not self._path.exists():
            read_only = False  # an absent store is created empty, so reads report "empty" instead of failing
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._con = duckdb.connect(str(self._path), read_only=read_only)
        except (duckdb.Error, OSError) as exc:
            raise DataError(
                f"{self._path}: cannot open the DuckDB store ({exc}); if another qt process is writing to it, "
                "wait for it to finish"
            ) from None
        if not read_only:
            for statement in _DDL:
                self._con.execute(statement)

    @property
    def location(self) -> str:
        """The database file."""
        return str(self._path)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def close(self) -> None:
        """Close the connection (and release the file lock)."""
        self._con.close()

    # -- writing --------------------------------------------------------------------
    def _write(self, bars: BarSet, symbols: list[str], chunk_rows: int, progress: Progress | None) -> WriteReport:
        con = self._con
        total = bars.bars.num_rows
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE incoming AS SELECT {_COLUMNS} FROM bars LIMIT 0")
            for offset in range(0, total, chunk_rows):
                con.register("new_chunk", bars.bars.slice(offset, chunk_rows))
                con.execute(f"INSERT INTO incoming SELECT {_COLUMNS} FROM new_chunk")
                con.unregister("new_chunk")
                if progress is not None:
                    progress(min(offset + chunk_rows, total), total)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE changed AS SELECT i.* FROM incoming i ANTI JOIN bars b ON {_SAME_ROW}"
            )
            changed = _scalar(con, "SELECT count(*) FROM changed")
            if changed:
                con.execute(
                    "DELETE FROM bars USING changed c WHERE bars.symbol = c.symbol AND bars.timestamp = c.timestamp"
                )
                con.execute(f"INSERT INTO bars SELECT {_COLUMNS} FROM changed")
            if bars.actions is not None and bars.actions.num_rows:
                con.register("new_actions", bars.actions)
                con.execute("INSERT OR REPLACE INTO actions SELECT * FROM new_actions")
            con.register("new_meta", _meta_table(symbols, bars.meta))
            con.execute(
                "INSERT OR REPLACE INTO symbols SELECT m.* FROM new_meta m LEFT JOIN symbols s ON s.symbol = m.symbol "
                "WHERE s.symbol IS NULL OR "
                + " OR ".join(f"s.{c} IS DISTINCT FROM m.{c}" for c in ("source", "prices", "currency", "timezone"))
            )
            con.execute("DROP TABLE incoming")
            con.execute("DROP TABLE changed")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return WriteReport(rows=total, changed=changed, symbols=len(symbols))

    # -- reading --------------------------------------------------------------------
    def _scan(self, symbols: list[str], lo: np.datetime64 | None, hi: np.datetime64 | None) -> pa.Table:
        where, params = _window(symbols, lo, hi, ">=")
        return self._con.sql(f"SELECT {_COLUMNS} FROM bars WHERE {where}", params=params).to_arrow_table()

    def _scan_actions(self, symbols: list[str], after: np.datetime64 | None) -> pa.Table:
        where, params = _window(symbols, after, None, ">")
        table = self._con.sql(
            f"SELECT {', '.join(ACTIONS_SCHEMA.names)} FROM actions WHERE {where}", params=params
        ).to_arrow_table()
        return table.cast(ACTIONS_SCHEMA)

    def metadata(self, symbols: Sequence[str] | None = None) -> dict[str, SymbolMeta]:
        """Metadata rows of ``symbols`` (all when None)."""
        query = "SELECT symbol, source, prices, currency, timezone FROM symbols"
        params: list[Any] = []
        if symbols is not None:
            query += " WHERE symbol IN (SELECT unnest($1::VARCHAR[]))"
            params = [list(symbols)]
        rows = self._con.execute(query, params).fetchall()
        return {r[0]: SymbolMeta(source=r[1], prices=PriceBasis(r[2]), currency=r[3], timezone=r[4]) for r in rows}

    def coverage(self) -> list[Coverage]:
        """First and last timestamp and row count of every symbol."""
        rows = self._con.execute(
            "SELECT symbol, min(timestamp), max(timestamp), count(*) FROM bars GROUP BY symbol ORDER BY symbol"
        ).fetchall()
        return [Coverage(r[0], np.datetime64(r[1], "us"), np.datetime64(r[2], "us"), int(r[3])) for r in rows]

    def delete(self, symbol: str) -> int:
        """Remove one symbol in one transaction; returns the bars removed."""
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            removed = _scalar(con, "SELECT count(*) FROM bars WHERE symbol = $1", [symbol])
            for table in ("bars", "actions", "symbols"):
                con.execute(f"DELETE FROM {table} WHERE symbol = $1", [symbol])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return removed


def _window(
    symbols: list[str], lo: np.datetime64 | None, hi: np.datetime64 | None, lo_op: str
) -> tuple[str, list[Any]]:
    """A WHERE clause on symbol and [lo, hi) with its parameters."""
    where = ["symbol IN (SELECT unnest($1::VARCHAR[]))"]
    params: list[Any] = [symbols]
    if lo is not None:
        params.append(_datetime(lo))
        where.append(f"timestamp {lo_op} ${len(params)}")
    if hi is not None:
        params.append(_datetime(hi))
        where.append(f"timestamp < ${len(params)}")
    return " AND ".join(where), params


def _datetime(value: np.datetime64) -> dt.datetime:
    return value.astype("datetime64[us]").astype(dt.datetime)


def _scalar(con: Any, query: str, params: list[Any] | None = None) -> int:
    rows = con.execute(query, params or []).fetchall()  # fetch to the end: DuckDB 2 refuses work on an open result
    return int(rows[0][0]) if rows else 0


def _meta_table(symbols: list[str], meta: SymbolMeta) -> pa.Table:
    """One metadata row per symbol, in the column order of the symbols table."""
    n = len(symbols)
    now = np.datetime64(dt.datetime.now(dt.UTC).replace(tzinfo=None), "us")
    return pa.table(
        {
            "symbol": pa.array(symbols, pa.string()),
            "source": pa.array([meta.source] * n, pa.string()),
            "prices": pa.array([meta.prices.value] * n, pa.string()),
            "currency": pa.array([meta.currency] * n, pa.string()),
            "timezone": pa.array([meta.timezone] * n, pa.string()),
            "updated_at": pa.array(np.full(n, now), pa.timestamp("us")),
        }
    )
