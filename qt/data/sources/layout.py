"""Vendor file layouts: which file column is which bar column, and which close a run uses.

Column names are matched case-insensitively, with spaces, dashes and ``<>`` ignored, so
Yahoo (``Date, Open, High, Low, Close, Adj Close, Volume``) and Stooq
(``Date, Open, High, Low, Close, Volume``) files load without a mapping. An explicit
``data.columns`` mapping always wins over a name that merely looks like a bar column.
"""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from qt.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("qt")

BAR_COLUMNS = ("timestamp", "symbol", "open", "high", "low", "close", "volume")
REQUIRED = ("timestamp", "symbol", "close")
ADJ_CLOSE = "adj_close"
# normalized file column name -> bar column ("ticker" is deliberately absent: it is mapped explicitly)
ALIASES = {
    "timestamp": "timestamp",
    "date": "timestamp",
    "datetime": "timestamp",
    "symbol": "symbol",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "volume": "volume",
    "vol": "volume",
    "adj_close": ADJ_CLOSE,
    "adjclose": ADJ_CLOSE,
    "adjusted_close": ADJ_CLOSE,
}


class PriceField(StrEnum):
    """Which close a run trades on: the file's close, or its adjusted close (Yahoo's ``Adj Close``)."""

    CLOSE = "close"
    ADJ_CLOSE = "adj_close"


def normalize(name: object) -> str:
    """'Adj Close' -> 'adj_close', '<CLOSE>' -> 'close': lower case, separators as '_'."""
    return re.sub(r"[\s\-.]+", "_", str(name).strip().strip("<>").strip().lower())


def resolve_columns(names: list[str], columns: dict[str, str], source: str) -> dict[str, str]:
    """File column -> bar column (or ``adj_close``) for every column qt uses.

    ``columns`` (the user's mapping) comes first; other columns are matched by ALIASES.
    Two file columns that both look like one bar column are an error naming both.
    """
    missing_src = sorted(k for k in columns if k not in names)
    if missing_src:
        raise DataError(f"{source}: data.columns maps column(s) {missing_src} that the file lacks; it has {names}")
    chosen = dict(columns)
    taken = set(columns.values())
    if "timestamp" not in taken and "date" in names and "date" not in chosen:
        chosen["date"], taken = "timestamp", taken | {"timestamp"}  # the historical default
    auto: dict[str, str] = {}
    for name in names:
        if name in chosen:
            continue
        target = ALIASES.get(normalize(name))
        if target is None or target in taken:
            continue
        if target in auto:
            first = auto[target]
            if name == target:  # the exact bar name wins over a look-alike
                auto[target] = name
                continue
            if first == target:
                continue
            raise DataError(
                f"{source}: columns {first!r} and {name!r} both look like {target!r}; "
                f"choose one with data.columns={{{first}:{target}}}"
            )
        auto[target] = name
    chosen.update({src: dst for dst, src in auto.items()})
    return chosen


def missing_columns_message(raw: pd.DataFrame, mapping: dict[str, str], lacking: list[str], source: str) -> str:
    """The error for missing bar columns, with a data.columns hint that maps every one of them."""
    unused = [c for c in raw.columns if c not in mapping]
    hint = dict(mapping.items())
    for target in lacking:
        guess = _guess(raw, [c for c in unused if c not in hint], target)
        hint[guess] = target
    pairs = ",".join(f"{k}:{v}" for k, v in hint.items() if v in BAR_COLUMNS or v == ADJ_CLOSE)
    return (
        f"{source}: missing column(s) {lacking}; the file has {list(raw.columns)}. "
        f"Map other names with data.columns, e.g. data.columns={{{pairs}}} "
        "(a file of one symbol without a symbol column takes its symbol from the file name, e.g. AAPL.csv)"
    )


def _guess(raw: pd.DataFrame, candidates: list[str], target: str) -> str:
    """The unused file column most likely to hold ``target`` (a made-up column name for the hint when none fits)."""
    import pandas as pd

    for name in candidates:
        col = raw[name]
        numeric = pd.api.types.is_numeric_dtype(col)
        if target == "close" and numeric:
            return str(name)
        if target == "timestamp" and (pd.api.types.is_datetime64_any_dtype(col) or _parses_as_dates(col)):
            return str(name)
        if target == "symbol" and not numeric and not _parses_as_dates(col):
            return str(name)
    return f"YOUR_{target.upper()}_COLUMN"


def _parses_as_dates(col: pd.Series) -> bool:
    import pandas as pd

    head = col.dropna().head(5)
    if head.empty or pd.api.types.is_numeric_dtype(head):
        return False
    return bool(pd.to_datetime(head.astype(str), errors="coerce", format="ISO8601").notna().all())


def choose_close(frame: pd.DataFrame, price: PriceField | None, source: str) -> pd.DataFrame:
    """Make ``close`` the close the run uses; say which when the file has both and nobody chose.

    With ``adj_close`` chosen, open, high and low are scaled by adj_close / close, so a bar
    stays consistent (low <= close <= high) on the adjusted basis.
    """
    has_close, has_adj = "close" in frame.columns, ADJ_CLOSE in frame.columns
    if price is PriceField.ADJ_CLOSE and not has_adj:
        raise DataError(
            f"{source}: data.price=adj_close, but the file has no adjusted close column "
            "(Adj Close or adj_close); use data.price=close or map one with data.columns={COLUMN:adj_close}"
        )
    if price is PriceField.CLOSE and not has_close and has_adj:
        raise DataError(
            f"{source}: data.price=close, but the file has only an adjusted close; use data.price=adj_close"
        )
    if not has_adj:
        return frame
    if price is None and has_close:
        log.warning(
            "%s: the file has both close and adjusted close; using close "
            "(set data.price=adj_close to use the adjusted close, or data.price=close to silence this)",
            source,
        )
    use_adj = price is PriceField.ADJ_CLOSE or (price is None and not has_close)
    if not use_adj:
        return frame.drop(columns=ADJ_CLOSE)
    if price is None:
        log.warning("%s: the file has only an adjusted close; using it as close", source)
    if has_close:
        factor = _numbers(frame, ADJ_CLOSE) / _numbers(frame, "close")
        frame = frame.assign(**{c: _numbers(frame, c) * factor for c in ("open", "high", "low") if c in frame.columns})
    else:
        frame = frame.drop(columns=[c for c in ("open", "high", "low") if c in frame.columns])
    return frame.assign(close=frame[ADJ_CLOSE]).drop(columns=ADJ_CLOSE)


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as float64; values that are not numbers become NaN (and fail validation by row)."""
    import pandas as pd

    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
