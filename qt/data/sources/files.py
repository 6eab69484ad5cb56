"""Parquet and CSV files of bars in long form, with a column mapping for other names."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qt.data.panel import BarPanel
from qt.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

BAR_COLUMNS = ("timestamp", "symbol", "open", "high", "low", "close", "volume")
REQUIRED = ("timestamp", "symbol", "close")


class _FileSource(BaseModel):
    """Shared behaviour of file sources: map columns, parse timestamps, validate, pivot."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(description="a file, or for parquet also a (hive-partitioned) directory")
    columns: dict[str, str] | None = Field(
        default=None,
        description="source column -> bar column, e.g. {Date: timestamp, Ticker: symbol, Adj Close: close}",
    )

    @field_validator("columns")
    @classmethod
    def _targets_are_bar_columns(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        bad = sorted(t for t in (v or {}).values() if t not in BAR_COLUMNS)
        if bad:
            raise ValueError(f"maps to unknown bar column(s) {bad}; allowed: {list(BAR_COLUMNS)}")
        return v

    def _read(self, path: Path) -> pd.DataFrame:
        raise DataError(f"{path}: no reader for this source")

    def load(self) -> BarPanel:
        """Read the file, validate every row, and return the panel."""
        path = Path(self.path).expanduser()
        if not path.exists():
            raise DataError(f"data.path: {path} does not exist")
        try:
            raw = self._read(path)
        except DataError:
            raise
        except Exception as exc:  # a reader's own error: name the file, keep the reason
            raise DataError(f"{path}: cannot be read: {exc}") from exc
        frame = canonical_frame(raw, self.columns or {}, str(path))
        return frame_to_panel(frame, str(path), name=path.stem)


class ParquetData(_FileSource):
    """Bars from a Parquet file or dataset directory.

    Examples
    --------
    >>> source = ParquetData(path="prices.parquet", columns={"Date": "timestamp"})
    >>> source.columns
    {'Date': 'timestamp'}
    """

    def _read(self, path: Path) -> pd.DataFrame:
        import pandas as pd

        if path.is_dir():
            return _read_hive_dataset(path)
        return pd.read_parquet(path)


def _read_hive_dataset(path: Path) -> pd.DataFrame:
    """A hive-partitioned folder (``symbol=AAPL/...``); partition values come back as plain strings."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    dataset = ds.dataset(path, format="parquet", partitioning=ds.HivePartitioning.discover(infer_dictionary=True))
    table = dataset.to_table()
    for i, column in enumerate(table.schema):
        if pa.types.is_dictionary(column.type):
            table = table.set_column(i, column.name, table.column(i).cast(pa.string()))
    return table.to_pandas()


class CsvData(_FileSource):
    """Bars from a CSV file with a header row."""

    def _read(self, path: Path) -> pd.DataFrame:
        import pandas as pd

        return pd.read_csv(path)


def canonical_frame(raw: pd.DataFrame, columns: dict[str, str], source: str) -> pd.DataFrame:
    """Rename to bar columns, keep only those, parse timestamps; rows are numbered from 1."""
    import pandas as pd

    mapping = {"date": "timestamp", **columns}
    missing_src = sorted(k for k in columns if k not in raw.columns)
    if missing_src:
        raise DataError(
            f"{source}: data.columns maps column(s) {missing_src} that the file lacks; it has {list(raw.columns)}"
        )
    frame = raw.rename(columns={k: v for k, v in mapping.items() if k in raw.columns})
    frame = frame[[c for c in BAR_COLUMNS if c in frame.columns]]
    lacking = [c for c in REQUIRED if c not in frame.columns]
    if lacking:
        raise DataError(
            f"{source}: missing column(s) {lacking}; the file has {list(raw.columns)}. "
            "Map other names with data.columns, e.g. data.columns={Date:timestamp,Ticker:symbol}"
        )
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    frame["timestamp"] = parse_timestamps(frame["timestamp"], source)
    frame["symbol"] = frame["symbol"].astype("str")
    return frame


def to_datetimes(col: pd.Series, source: str) -> pd.Series:
    """``col`` as datetimes in one time zone (or naive); values that do not parse become NaT.

    Values carrying different time zones are an error: one file, one time zone.
    """
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(col):
        return col
    try:
        parsed = pd.to_datetime(col, errors="coerce", format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise DataError(f"{source}: timestamp: mixed or unparseable time zones ({exc}); use one time zone") from None
    if not pd.api.types.is_datetime64_any_dtype(parsed):
        raise DataError(f"{source}: timestamp: values carry different time zones; use one time zone")
    return parsed


def parse_timestamps(col: pd.Series, source: str) -> pd.Series:
    """Datetime column in one time zone (or naive); names rows that do not parse."""
    parsed = to_datetimes(col, source)
    if parsed is col:
        return col
    bad = parsed.isna() & col.notna() | col.isna()
    if bad.any():
        rows = ", ".join(f"row {i} ({col[i]!r})" for i in bad[bad].index[:20])
        raise DataError(f"{source}: timestamp: {int(bad.sum())} value(s) are not dates: {rows}")
    return parsed


def frame_to_panel(frame: pd.DataFrame, source: str, name: str) -> BarPanel:
    """Sort, validate with the bar schema, and pivot into a panel."""
    from qt.data.schema import validate_bars

    frame = frame.sort_values(["timestamp", "symbol"], kind="stable")
    frame = validate_bars(frame, source)
    return BarPanel.from_frame(frame, name=name)
