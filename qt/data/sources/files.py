"""Parquet and CSV files of bars: long form, vendor layouts (Yahoo, Stooq), or a folder of them.

A file has one row per (timestamp, symbol); a file without a symbol column holds one symbol,
named by the file (``AAPL.csv``), and a folder of such files is many symbols. Validated
panels are reused in the process and, with the panel cache on, across processes (see memo.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from qt.data.panel import BarPanel
from qt.data.sources.layout import ADJ_CLOSE, BAR_COLUMNS, REQUIRED, PriceField
from qt.data.sources.longform import canonical_frame, checked_frame, fast_panel, frame_to_panel, to_datetimes
from qt.errors import DataError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow.parquet as pq

__all__ = ["BAR_COLUMNS", "REQUIRED", "CsvData", "ParquetData", "canonical_frame", "frame_to_panel", "to_datetimes"]


class _FileSource(BaseModel):
    """Shared behaviour of file sources: find the files, map columns, validate, build the panel once."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    suffixes: ClassVar[tuple[str, ...]] = ()

    path: str = Field(description="a file, or a folder (hive-partitioned Parquet, or one file per symbol)")
    columns: dict[str, str] | None = Field(
        default=None,
        description="source column -> bar column, e.g. {Date: timestamp, Ticker: symbol, Adj Close: close}",
    )
    price: PriceField | None = Field(
        default=None, description="close or adj_close; None = close (the log says so when an adjusted close exists)"
    )
    cache: bool = Field(
        default=False, description="keep the validated panel on disk (the config sets ${cache.enabled})"
    )
    cache_dir: str = Field(default="outputs/.signal_cache", description="the cache folder; panels go in its panels/")

    @field_validator("columns")
    @classmethod
    def _targets_are_bar_columns(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        allowed = (*BAR_COLUMNS, ADJ_CLOSE)
        bad = sorted(t for t in (v or {}).values() if t not in allowed)
        if bad:
            raise ValueError(f"maps to unknown bar column(s) {bad}; allowed: {list(allowed)}")
        return v

    def _read(self, path: Path) -> pd.DataFrame:
        raise DataError(f"{path}: no reader for this source")

    def load(self) -> BarPanel:
        """Read the file(s), validate every row, and return the panel (reused while the files are unchanged)."""
        from qt.data.sources.memo import file_fingerprint, files_under, load_once, source_key

        path = Path(os.path.expandvars(self.path)).expanduser()
        if not path.exists():
            raise DataError(f"data.path: {path} does not exist")
        settings = {"columns": self.columns, "price": self.price}
        key = source_key(type(self).__name__, settings, file_fingerprint(files_under(path)))
        cache_dir = os.path.expandvars(self.cache_dir) if self.cache else None
        return load_once(key, lambda: self._build(path), label=str(path), cache_dir=cache_dir)

    def _build(self, path: Path) -> BarPanel:
        if path.is_dir():
            return self._build_folder(path)
        frame = self._frame(path, self._read_file(path), symbol=path.stem)
        return frame_to_panel(frame, str(path), name=path.stem)

    def _read_file(self, path: Path) -> pd.DataFrame:
        try:
            return self._read(path)
        except DataError:
            raise
        except Exception as exc:  # a reader's own error: name the file, keep the reason
            if type(exc).__name__ == "EmptyDataError":
                raise DataError(f"{path}: the file is empty (no header, no rows)") from None
            raise DataError(f"{path}: cannot be read: {exc}") from exc

    def _frame(self, path: Path, raw: pd.DataFrame, symbol: str | None) -> pd.DataFrame:
        return canonical_frame(raw, self.columns or {}, str(path), price=self.price, symbol=symbol)

    def _build_folder(self, path: Path) -> BarPanel:
        """A folder of files, one symbol each unless a file has a symbol column."""
        import pandas as pd

        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in self.suffixes)
        if not files:
            kinds = " or ".join(self.suffixes)
            others = sorted({p.suffix.lower() or p.name for p in path.iterdir() if not p.name.startswith(".")})
            if not others:
                raise DataError(f"{path}: the folder is empty: no {kinds} files in it")
            hint = " (use data=parquet for Parquet files)" if ".parquet" in others else ""
            raise DataError(
                f"{path}: the folder holds no {kinds} files (it has {', '.join(others[:5])}); point data.path at a "
                f"file or a folder of {kinds} files{hint}"
            )
        frames = [self._frame(p, self._read_file(p), symbol=p.stem) for p in files]
        for frame in frames:
            frame["symbol"] = frame["symbol"].astype(object).astype("str")
        whole = pd.concat(frames, ignore_index=True)
        whole.index = pd.RangeIndex(1, len(whole) + 1)
        panel = fast_panel(whole, name=path.name)
        if panel is not None:
            return panel
        for p, frame in zip(files, frames, strict=True):
            checked_frame(frame, str(p))  # names the file and its bad rows
        return BarPanel.from_frame(checked_frame(_without_clashes(whole, files, frames, path), str(path)), path.name)


def _without_clashes(whole: pd.DataFrame, files: list[Path], frames: list[pd.DataFrame], path: Path) -> pd.DataFrame:
    """``whole`` when no (timestamp, symbol) is in two files; else an error naming the bars and their files."""
    import numpy as np

    owner = np.repeat(np.array([p.name for p in files], dtype=object), [len(f) for f in frames])
    keyed = whole[["timestamp", "symbol"]].assign(file=owner)
    dup = keyed[keyed.duplicated(["timestamp", "symbol"], keep=False)]
    if dup.empty:
        return whole
    groups = dup.groupby(["symbol", "timestamp"], sort=True)["file"].agg(lambda f: ", ".join(sorted(set(f))))
    listed = "; ".join(f"{s} {t} in {names}" for (s, t), names in list(groups.items())[:10])
    raise DataError(f"{path}: {len(groups)} bar(s) are in several files ({listed}); keep each bar in one file")


class ParquetData(_FileSource):
    """Bars from a Parquet file, a hive-partitioned dataset folder, or a folder of one-symbol files.

    Examples
    --------
    >>> source = ParquetData(path="prices.parquet", columns={"Date": "timestamp"})
    >>> source.columns
    {'Date': 'timestamp'}
    """

    suffixes: ClassVar[tuple[str, ...]] = (".parquet", ".pq")

    def _read(self, path: Path) -> pd.DataFrame:
        if path.is_dir():
            return _read_hive_dataset(path)
        return _read_parquet_file(path)

    def _build(self, path: Path) -> BarPanel:
        if path.is_dir() and _is_hive(path):
            frame = self._frame(path, self._read_file(path), symbol=None)
            return frame_to_panel(frame, str(path), name=path.stem)
        if path.is_file():
            try:
                panel = _arrow_panel(path, self.columns or {}, path.stem)
            except DataError:
                raise
            except Exception as exc:
                raise DataError(f"{path}: cannot be read: {exc}") from exc
            if panel is not None:
                return panel
        return super()._build(path)


def _is_hive(path: Path) -> bool:
    """A hive-partitioned dataset: some entry is named key=value."""
    return any("=" in p.name for p in path.iterdir())


def _read_parquet_file(path: Path) -> pd.DataFrame:
    """One Parquet file as written."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).read().to_pandas()


def _arrow_panel(path: Path, columns: dict[str, str], name: str) -> BarPanel | None:
    """The panel of a long-form Parquet file straight from Arrow, one column at a time (no pandas).

    None when the file needs the general path: another layout (adjusted close, one symbol per
    file, missing columns), nulls or text where numbers belong, or a row that fails a check.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from qt.data.sources.layout import resolve_columns
    from qt.data.sources.longform import panel_from_arrays

    handle = pq.ParquetFile(path)
    names = handle.schema_arrow.names
    mapping = resolve_columns(names, columns, str(path))
    source_of = {bar: src for src, bar in mapping.items()}
    if ADJ_CLOSE in source_of or not set(REQUIRED) <= set(source_of) or handle.metadata.num_rows == 0:
        return None
    ts = handle.read(columns=[source_of["timestamp"]]).column(0)
    if not pa.types.is_timestamp(ts.type) or ts.null_count:
        return None
    tz = ts.type.tz
    stamps = ts.cast(pa.timestamp("us", tz=tz)).to_numpy().astype("datetime64[us]", copy=False)
    del ts
    s_codes, symbols = _arrow_symbol_codes(pq.ParquetFile(path, read_dictionary=[source_of["symbol"]]), source_of)
    if s_codes is None:
        return None
    values: dict[str, np.ndarray] = {}
    for f in ("open", "high", "low", "close", "volume"):
        if f in source_of:
            col = handle.read(columns=[source_of[f]]).column(0)
            if col.null_count or not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
                return None
            values[f] = col.to_numpy().astype(np.float64, copy=False)
    return panel_from_arrays(stamps, tz, s_codes, symbols, values, name)


def _arrow_symbol_codes(handle: pq.ParquetFile, source_of: dict[str, str]) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """Each row's index into the sorted symbols, read dictionary-encoded (no string per row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from qt.data.sources.longform import used_codes

    sym = handle.read(columns=[source_of["symbol"]]).column(0)
    if sym.null_count:
        return None, ()
    if not pa.types.is_dictionary(sym.type):
        sym = pc.dictionary_encode(sym)
    sym = sym.unify_dictionaries() if isinstance(sym, pa.ChunkedArray) else sym
    chunks = sym.chunks if isinstance(sym, pa.ChunkedArray) else [sym]
    labels = [str(x) for x in chunks[0].dictionary.to_pylist()] if chunks else []
    if len(set(labels)) != len(labels):
        return None, ()
    order = sorted(range(len(labels)), key=labels.__getitem__)
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(labels))
    indices = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in chunks])
    return used_codes(rank[indices], [labels[i] for i in order])


def _read_hive_dataset(path: Path) -> pd.DataFrame:
    """A hive-partitioned folder (``symbol=AAPL/...``); partition values come back as plain strings."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    dataset = ds.dataset(path, format="parquet", partitioning=ds.HivePartitioning.discover(infer_dictionary=True))
    table = dataset.to_table()
    for i, column in enumerate(table.schema):
        if pa.types.is_dictionary(column.type):
            table = table.set_column(i, column.name, table.column(i).cast(pa.string()))
    if table.num_columns == 0:
        raise DataError(f"{path}: the folder is empty: no Parquet files in it")
    return table.to_pandas()


class CsvData(_FileSource):
    """Bars from a CSV file with a header row, or a folder of CSV files (one symbol per file)."""

    suffixes: ClassVar[tuple[str, ...]] = (".csv", ".txt")

    def _read(self, path: Path) -> pd.DataFrame:
        import pandas as pd

        return pd.read_csv(path)
