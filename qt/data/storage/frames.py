"""Arrow tables in the storage normal form <-> panels, and read windows in naive UTC."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from qt.data.panel import BarPanel
from qt.data.storage.base import BAR_FIELDS
from qt.enums import Field
from qt.errors import DataError


def table_to_panel(table: pa.Table, symbols: list[str], tz: str | None, name: str) -> BarPanel:
    """Scatter rows into [T x N] arrays: no per-row Python; fields with no value at all are left out.

    ``symbols`` is the sorted request; symbols without a row in ``table`` are dropped.
    """
    import pandas as pd

    table = table.combine_chunks()
    stamps = table["timestamp"].to_numpy().astype("datetime64[us]", copy=False)
    t_codes, t_uniques = pd.factorize(stamps, sort=True)
    s_codes = _symbol_codes(table["symbol"], symbols)
    present = np.bincount(s_codes, minlength=len(symbols)) > 0
    remap = np.cumsum(present) - 1
    s_codes = remap[s_codes]
    kept = tuple(s for s, p in zip(symbols, present, strict=True) if p)
    shape = (len(t_uniques), len(kept))
    fields: dict[Field, np.ndarray] = {}
    for f in BAR_FIELDS:
        column = table[f]
        if column.null_count == len(column):
            continue
        values = column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        if f != "close" and np.isnan(values).all():
            continue
        arr = np.full(shape, np.nan)
        arr[t_codes, s_codes] = values
        fields[Field(f)] = arr
    return BarPanel(np.asarray(t_uniques, dtype="datetime64[us]"), kept, fields, tz=tz, name=name)


def _symbol_codes(column: pa.ChunkedArray | pa.Array, symbols: list[str]) -> np.ndarray:
    """Position of each row's symbol in ``symbols`` (dictionary columns map their dictionary only)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    value_set = pa.array(symbols, pa.string())
    if pa.types.is_dictionary(array.type):
        dict_codes = pc.index_in(array.dictionary.cast(pa.string()), value_set=value_set).to_numpy(zero_copy_only=False)
        codes = dict_codes[array.indices.to_numpy(zero_copy_only=False)]
    else:
        codes = pc.index_in(array, value_set=value_set).to_numpy(zero_copy_only=False)
    if np.isnan(codes.astype(np.float64)).any():
        raise DataError("the store returned rows of symbols that were not requested")
    return codes.astype(np.intp)


def window_bounds(
    start: str | None, end: str | None, tz: str | None
) -> tuple[np.datetime64 | None, np.datetime64 | None]:
    """[lo, hi) in naive UTC for start <= t <= end; a bare date as ``end`` includes that whole day.

    For tz-aware data, dates and naive times are read in the data's time zone.
    """
    return _bound(start, tz, inclusive_day=False), _bound(end, tz, inclusive_day=True)


def _bound(value: str | None, tz: str | None, *, inclusive_day: bool) -> np.datetime64 | None:
    import pandas as pd

    if value is None or str(value) in ("", "None"):
        return None
    text = str(value)
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise DataError(f"not a date or time: {text!r}; use e.g. 2020-01-31 or 2020-01-31T15:30") from None
    if inclusive_day and len(text) <= 10:
        stamp = stamp + pd.Timedelta(days=1)
    elif inclusive_day:
        stamp = stamp + pd.Timedelta(microseconds=1)
    if tz is not None:
        stamp = stamp.tz_localize(tz) if stamp.tzinfo is None else stamp
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    elif stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return np.datetime64(stamp.as_unit("us").to_datetime64(), "us")
