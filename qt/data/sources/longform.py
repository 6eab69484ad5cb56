"""Long frames of bars -> validated panels: canonical columns, timestamps, checks, [T x N] arrays.

The usual case costs vectorized numpy only: every per-row check at once, then the rows are
scattered into the panel from factorized codes (no sort, no pivot). Only when a check fails
does the row-by-row pandera report run, so every bad row is still named as before.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from qt.data.panel import BarPanel
from qt.data.sources.layout import (
    ADJ_CLOSE,
    BAR_COLUMNS,
    REQUIRED,
    PriceField,
    choose_close,
    missing_columns_message,
    resolve_columns,
)
from qt.enums import Field
from qt.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("qt")


def canonical_frame(
    raw: pd.DataFrame,
    columns: dict[str, str],
    source: str,
    *,
    price: PriceField | None = None,
    symbol: str | None = None,
) -> pd.DataFrame:
    """Rename to bar columns, keep only those, parse timestamps; rows are numbered from 1.

    ``symbol`` names the bars of a file without a symbol column (a file of one symbol, e.g.
    AAPL.csv) when every other column is a bar column or a number.
    """
    import pandas as pd

    if len(raw.columns) == 0:
        raise DataError(f"{source}: the file is empty (no header, no rows)")
    if len(raw) == 0:
        raise DataError(f"{source}: no bars: the file has a header {list(raw.columns)} but no rows")
    mapping = resolve_columns([str(c) for c in raw.columns], columns, source)
    frame = raw.rename(columns=mapping)
    frame = frame[[c for c in (*BAR_COLUMNS, ADJ_CLOSE) if c in frame.columns]]
    if "symbol" not in frame.columns and symbol is not None and _only_bar_or_numeric(raw, mapping):
        frame = frame.assign(symbol=pd.Series(symbol, index=frame.index, dtype="str"))
    lacking = [c for c in REQUIRED if c not in frame.columns and not (c == "close" and ADJ_CLOSE in frame.columns)]
    if lacking:
        raise DataError(missing_columns_message(raw, mapping, lacking, source))
    frame = choose_close(frame, price, source)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    frame["timestamp"] = parse_timestamps(frame["timestamp"], source)
    frame["symbol"] = _symbols_as_text(frame["symbol"])
    return frame


def _only_bar_or_numeric(raw: pd.DataFrame, mapping: dict[str, str]) -> bool:
    """No unmapped text column that could be the symbols (then taking the file name would hide it)."""
    import pandas as pd

    return all(c in mapping or pd.api.types.is_numeric_dtype(raw[c]) for c in raw.columns)


def _symbols_as_text(col: pd.Series) -> pd.Series:
    """Symbols as text; a categorical column stays categorical (cheap) with text categories in sorted order."""
    import pandas as pd

    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = [str(c) for c in col.cat.categories]
        if len(set(cats)) == len(cats):
            col = col.cat.rename_categories(cats)
            return col.cat.reorder_categories(sorted(cats))
        col = col.astype(object)
    return col.astype("str")


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
    """Validate a canonical frame and scatter it into a panel; a failed check names every bad row."""
    if len(frame) == 0:
        raise DataError(f"{source}: no bars: no rows")
    panel = fast_panel(frame, name)
    if panel is not None:
        return panel
    return BarPanel.from_frame(checked_frame(frame, source), name=name)


def checked_frame(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """The row-by-row check (pandera), sorted: raises DataError naming each bad row and problem."""
    import pandas as pd

    from qt.data.schema import validate_bars

    if isinstance(frame["symbol"].dtype, pd.CategoricalDtype):
        frame = frame.assign(symbol=frame["symbol"].astype(object).astype("str"))
    frame = frame.sort_values(["timestamp", "symbol"], kind="stable")
    return validate_bars(frame, source)


def fast_panel(frame: pd.DataFrame, name: str) -> BarPanel | None:
    """The panel when every row passes every check (vectorized); None when some row fails one."""
    import pandas as pd

    stamps, tz = _utc_stamps(frame["timestamp"])
    if stamps is None:
        return None
    s_codes, symbols = _symbol_codes(frame["symbol"])
    if s_codes is None:
        return None
    values: dict[str, np.ndarray] = {}
    for f in Field:
        if f.value in frame.columns:
            col = frame[f.value]
            if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
                return None  # text that may or may not coerce: the row-by-row check decides
            values[f.value] = col.to_numpy(dtype=np.float64)
    return panel_from_arrays(stamps, tz, s_codes, symbols, values, name)


def panel_from_arrays(
    stamps: np.ndarray,
    tz: str | None,
    s_codes: np.ndarray,
    symbols: tuple[str, ...],
    values: dict[str, np.ndarray],
    name: str,
) -> BarPanel | None:
    """Check the rows (vectorized) and scatter them into [T x N] arrays; None when a row fails a check.

    ``stamps`` are naive UTC datetime64[us], ``s_codes`` each row's index into the sorted ``symbols``,
    ``values`` bar field name -> float64 per row.
    """
    from qt.data.schema import rows_pass

    if not rows_pass(values, timestamps_valid=not np.isnat(stamps).any()):
        return None
    t_codes, t_uniques = _time_codes(stamps)
    n_rows, shape = len(stamps), (len(t_uniques), len(symbols))
    cell = t_codes * shape[1] + s_codes  # each row's place in the flattened [T x N] panel
    dense = n_rows == shape[0] * shape[1] and n_rows > 0 and cell[0] == 0 and bool((np.diff(cell) == 1).all())
    fields: dict[Field, np.ndarray] = {}
    for f in Field:
        if f.value not in values:
            continue
        if dense:  # rows in (timestamp, symbol) order with every cell present: the panel is a reshape
            fields[f] = values[f.value].reshape(shape)
            continue
        arr = np.full(shape[0] * shape[1], np.nan)
        arr[cell] = values[f.value]
        fields[f] = arr.reshape(shape)
    if not dense and np.count_nonzero(~np.isnan(fields[Field.CLOSE])) != n_rows:
        return None  # a repeated (timestamp, symbol)
    return BarPanel(np.asarray(t_uniques, dtype="datetime64[us]"), symbols, fields, tz=tz, name=name)


def _time_codes(stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's index into the sorted distinct timestamps, and those timestamps (no sort when already sorted)."""
    if len(stamps) > 1 and bool((stamps[1:] >= stamps[:-1]).all()):
        first = np.empty(len(stamps), dtype=bool)
        first[0] = True
        np.not_equal(stamps[1:], stamps[:-1], out=first[1:])
        return np.cumsum(first) - 1, stamps[first]
    import pandas as pd

    codes, uniques = pd.factorize(stamps, sort=True)
    return codes.astype(np.int64, copy=False), np.asarray(uniques)


def _utc_stamps(col: pd.Series) -> tuple[np.ndarray | None, str | None]:
    """Timestamps as naive UTC datetime64[us] and the time zone (None when naive)."""
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(col):
        return None, None
    tz = None
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        tz = str(col.dt.tz)
        col = col.dt.tz_convert("UTC").dt.tz_localize(None)
    return col.to_numpy(dtype="datetime64[us]"), tz


def _symbol_codes(col: pd.Series) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """Each row's position in the sorted symbols, and the symbols; None when a symbol is missing or empty."""
    import pandas as pd

    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy()
        names = [str(c) for c in col.cat.categories]  # sorted by canonical_frame
    else:
        codes, uniques = pd.factorize(col.to_numpy(dtype=object), sort=True)
        names = [str(c) for c in uniques]
    return used_codes(codes, names)


def used_codes(codes: np.ndarray, names: list[str]) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """Codes into sorted ``names`` renumbered to the names in use; None when a code is missing or a name empty."""
    if (len(codes) and codes.min() < 0) or any(not s for s in names):
        return None, ()
    used = np.bincount(codes, minlength=len(names)) > 0
    if not used.all():
        codes = (np.cumsum(used) - 1)[codes]
        names = [s for s, u in zip(names, used, strict=True) if u]
    return codes.astype(np.intp, copy=False), tuple(names)
