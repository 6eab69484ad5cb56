"""Bars as a hive-partitioned Parquet dataset: ``<data_dir>/bars/symbol=AAPL/part-0.parquet``.

Any Parquet reader sees a plain dataset (``qt run data=parquet data.path=.../bars``);
metadata and corporate actions sit beside it in ``_qt_*.parquet`` files, which dataset
readers skip. Writers take a file lock; each file is replaced atomically (write to a
temporary name, then rename), all renames after all writing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from qt.data.storage.base import (
    ACTIONS_SCHEMA,
    BAR_FIELDS,
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

FILE_SCHEMA = pa.schema(
    [pa.field("timestamp", pa.timestamp("us"), nullable=False)] + [(f, pa.float64()) for f in BAR_FIELDS]
)
META_SCHEMA = pa.schema(
    [
        ("symbol", pa.string()),
        ("source", pa.string()),
        ("prices", pa.string()),
        ("currency", pa.string()),
        ("timezone", pa.string()),
        ("updated_at", pa.timestamp("us")),
    ]
)
PART = "part-0.parquet"


class ParquetStore(BarStore):
    """Bars in a hive-partitioned Parquet dataset under ``<data_dir>/bars``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     ParquetStore(data_dir=folder).coverage()
    []
    """

    kind = StoreKind.PARQUET

    def __init__(self, *, data_dir: str | os.PathLike[str] | None = None) -> None:
        self._root = resolve_data_dir(data_dir) / "bars"
        self._root.mkdir(parents=True, exist_ok=True)

    @property
    def location(self) -> str:
        """The dataset folder."""
        return str(self._root)

    @property
    def root(self) -> Path:
        """The dataset folder."""
        return self._root

    def _partition(self, symbol: str) -> Path:
        return self._root / f"symbol={quote(symbol, safe='')}"

    @contextlib.contextmanager
    def _locked(self, mode: int = fcntl.LOCK_EX) -> Iterator[None]:
        """Writers hold the lock exclusively; a read holds it shared, so it never sees half a write."""
        with open(self._root / "_qt.lock", "a+b") as fh:
            fcntl.flock(fh, mode)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- writing --------------------------------------------------------------------
    def _write(self, bars: BarSet, symbols: list[str], chunk_rows: int, progress: Progress | None) -> WriteReport:
        table = bars.bars
        codes = pc.index_in(table["symbol"], value_set=pa.array(symbols, pa.string())).to_numpy(zero_copy_only=False)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(symbols) + 1))
        total, done, changed = table.num_rows, 0, 0
        with self._locked():
            self._remove_leftovers()
            staged: list[tuple[Path, Path]] = []
            try:
                for j, symbol in enumerate(symbols):
                    rows = table.take(pa.array(order[bounds[j] : bounds[j + 1]])).drop_columns(["symbol"])
                    n_changed, merged = self._merge(symbol, rows.cast(FILE_SCHEMA))
                    changed += n_changed
                    if merged is not None:
                        staged.append(self._stage(_without_empty_fields(merged), self._partition(symbol) / PART))
                    done += rows.num_rows
                    if progress is not None and (
                        done // chunk_rows > (done - rows.num_rows) // chunk_rows or done == total
                    ):
                        progress(done, total)
                meta = self._merged_meta(symbols, bars.meta)
                if meta is not None:
                    staged.append(self._stage(meta, self._root / "_qt_symbols.parquet"))
                if bars.actions is not None and bars.actions.num_rows:
                    staged.append(self._stage(self._merged_actions(bars.actions), self._root / "_qt_actions.parquet"))
            except BaseException:
                for tmp, _ in staged:
                    tmp.unlink(missing_ok=True)
                raise
            for tmp, final in staged:
                os.replace(tmp, final)
        return WriteReport(rows=total, changed=changed, symbols=len(symbols))

    def _remove_leftovers(self) -> None:
        """Temporary files and trash of a writer that was killed (we hold the lock, so no writer is live)."""
        for tmp in [*self._root.glob(".tmp-*.parquet"), *self._root.glob("*/.tmp-*.parquet")]:
            tmp.unlink(missing_ok=True)
        for trash in self._root.glob(".trash-*"):
            shutil.rmtree(trash, ignore_errors=True)

    def _merge(self, symbol: str, new: pa.Table) -> tuple[int, pa.Table | None]:
        """(rows new or changed, the merged table or None when nothing changes)."""
        path = self._partition(symbol) / PART
        new = new.sort_by("timestamp")
        if not path.exists():
            return new.num_rows, new
        old = pq.read_table(path, schema=FILE_SCHEMA)
        old_ts = old["timestamp"].to_numpy()
        new_ts = new["timestamp"].to_numpy()
        pos = np.searchsorted(old_ts, new_ts).clip(0, max(len(old_ts) - 1, 0))
        matched = old_ts[pos] == new_ts if len(old_ts) else np.zeros(len(new_ts), dtype=bool)
        same = matched.copy()
        for f in BAR_FIELDS:
            a = old[f].to_numpy(zero_copy_only=False).astype(np.float64)[pos]
            b = new[f].to_numpy(zero_copy_only=False).astype(np.float64)
            same &= (a == b) | (np.isnan(a) & np.isnan(b))
        n_changed = int((~same).sum())
        if n_changed == 0:
            return 0, None
        keep_old = np.ones(len(old_ts), dtype=bool)
        keep_old[pos[matched]] = False
        merged = pa.concat_tables([old.filter(pa.array(keep_old)), new]).sort_by("timestamp")
        return n_changed, merged

    def _stage(self, table: pa.Table, final: Path) -> tuple[Path, Path]:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".tmp-{uuid.uuid4().hex}.parquet"
        pq.write_table(table, tmp)
        return tmp, final

    def _merged_meta(self, symbols: list[str], meta: SymbolMeta) -> pa.Table | None:
        """The metadata table with ``symbols`` set to ``meta``, or None when nothing changes."""
        current = self.metadata(symbols)
        if len(current) == len(symbols) and all(m == meta for m in current.values()):
            return None
        now = np.datetime64(dt.datetime.now(dt.UTC).replace(tzinfo=None), "us")
        n = len(symbols)
        fresh = pa.table(
            {
                "symbol": pa.array(symbols, pa.string()),
                "source": [meta.source] * n,
                "prices": [meta.prices.value] * n,
                "currency": [meta.currency] * n,
                "timezone": pa.array([meta.timezone] * n, pa.string()),
                "updated_at": pa.array(np.full(n, now), pa.timestamp("us")),
            },
            schema=META_SCHEMA,
        )
        old = self._read_side("_qt_symbols.parquet", META_SCHEMA)
        kept = old.filter(pc.invert(pc.is_in(old["symbol"], value_set=fresh["symbol"])))
        return pa.concat_tables([kept, fresh]).sort_by("symbol")

    def _merged_actions(self, actions: pa.Table) -> pa.Table:
        old = self._read_side("_qt_actions.parquet", ACTIONS_SCHEMA)
        key_old = pc.binary_join_element_wise(old["symbol"], old["timestamp"].cast(pa.string()), "|")
        key_new = pc.binary_join_element_wise(actions["symbol"], actions["timestamp"].cast(pa.string()), "|")
        kept = old.filter(pc.invert(pc.is_in(key_old, value_set=key_new)))
        return pa.concat_tables([kept, actions]).sort_by([("symbol", "ascending"), ("timestamp", "ascending")])

    def _read_side(self, name: str, schema: pa.Schema) -> pa.Table:
        path = self._root / name
        return pq.read_table(path, schema=schema) if path.exists() else schema.empty_table()

    # -- reading --------------------------------------------------------------------
    def _snapshot(self) -> contextlib.AbstractContextManager[None]:
        return self._locked(fcntl.LOCK_SH)

    def _scan(self, symbols: list[str], lo: np.datetime64 | None, hi: np.datetime64 | None) -> pa.Table:
        import pyarrow.dataset as ds

        paths = [str(self._partition(s) / PART) for s in symbols if (self._partition(s) / PART).exists()]
        if not paths:
            return pa.schema([pa.field("symbol", pa.string()), *FILE_SCHEMA]).empty_table()
        part = ds.partitioning(pa.schema([("symbol", pa.string())]), flavor="hive")
        dataset = ds.dataset(
            paths,
            schema=FILE_SCHEMA.append(pa.field("symbol", pa.string())),
            format="parquet",
            partitioning=part,
            partition_base_dir=str(self._root),
        )
        condition = None
        if lo is not None:
            condition = ds.field("timestamp") >= pa.scalar(lo, pa.timestamp("us"))
        if hi is not None:
            upper = ds.field("timestamp") < pa.scalar(hi, pa.timestamp("us"))
            condition = upper if condition is None else condition & upper
        return dataset.to_table(filter=condition)

    def _scan_actions(self, symbols: list[str], after: np.datetime64 | None) -> pa.Table:
        table = self._read_side("_qt_actions.parquet", ACTIONS_SCHEMA)
        mask = pc.is_in(table["symbol"], value_set=pa.array(symbols, pa.string()))
        if after is not None:
            mask = pc.and_(mask, pc.greater(table["timestamp"], pa.scalar(after, pa.timestamp("us"))))
        return table.filter(mask)

    def metadata(self, symbols: Sequence[str] | None = None) -> dict[str, SymbolMeta]:
        """Metadata of ``symbols`` (all when None)."""
        table = self._read_side("_qt_symbols.parquet", META_SCHEMA)
        wanted = None if symbols is None else set(symbols)
        out = {}
        for r in table.to_pylist():
            if wanted is None or r["symbol"] in wanted:
                out[r["symbol"]] = SymbolMeta(r["source"], PriceBasis(r["prices"]), r["currency"], r["timezone"])
        return out

    def coverage(self) -> list[Coverage]:
        """First and last timestamp and row count of every symbol."""
        symbols = sorted(self.metadata())
        if not symbols:
            return []
        table = self._scan(symbols, None, None).select(["symbol", "timestamp"])
        stats = table.group_by("symbol").aggregate([("timestamp", "min"), ("timestamp", "max"), ("timestamp", "count")])
        stats = stats.sort_by("symbol").to_pydict()
        return [
            Coverage(s, np.datetime64(lo, "us"), np.datetime64(hi, "us"), int(n))
            for s, lo, hi, n in zip(
                stats["symbol"], stats["timestamp_min"], stats["timestamp_max"], stats["timestamp_count"], strict=True
            )
        ]

    def delete(self, symbol: str) -> int:
        """Remove one symbol's partition, actions and metadata; returns the bars removed."""
        with self._locked():
            path = self._partition(symbol) / PART
            removed = pq.read_metadata(path).num_rows if path.exists() else 0
            meta = self._read_side("_qt_symbols.parquet", META_SCHEMA)
            actions = self._read_side("_qt_actions.parquet", ACTIONS_SCHEMA)
            staged = [
                self._stage(meta.filter(pc.not_equal(meta["symbol"], symbol)), self._root / "_qt_symbols.parquet"),
                self._stage(
                    actions.filter(pc.not_equal(actions["symbol"], symbol)), self._root / "_qt_actions.parquet"
                ),
            ]
            if path.parent.exists():
                trash = self._root / f".trash-{uuid.uuid4().hex}"
                os.replace(path.parent, trash)
                shutil.rmtree(trash)
            for tmp, final in staged:
                os.replace(tmp, final)
        return removed


def _without_empty_fields(table: pa.Table) -> pa.Table:
    """Leave out fields with no value at all (close-only data), so other Parquet readers see no NaN columns.

    The store reads its files with FILE_SCHEMA, which restores them as nulls.
    """
    keep = [c for c in table.column_names if c in ("timestamp", "close") or table[c].null_count < table.num_rows]
    return table.select(keep)
