"""The bar schema (pandera): what a long frame of bars must satisfy before qt uses it.

A long frame has one row per (timestamp, symbol) and the columns timestamp, symbol,
close, and optionally open, high, low, volume. Violations are reported by file row,
so a user can find and fix them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from qt.enums import Field
from qt.errors import DataError

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

MAX_REPORTED = 20


def bar_schema(columns: list[str]) -> pa.DataFrameSchema:
    """A pandera schema for the bar columns present in ``columns``.

    Checks: prices finite, > 0 and not NaN, volume finite and >= 0, high >= max(open, close),
    low <= min(open, close), no duplicate (timestamp, symbol), sorted by
    (timestamp, symbol). Time zones are checked when the frame is built.
    """
    import pandera.pandas as pa

    cols: dict[str, pa.Column] = {
        "timestamp": pa.Column(nullable=False),
        "symbol": pa.Column(nullable=False, checks=pa.Check(lambda s: s.str.len() > 0, error="empty symbol")),
    }

    def finite(what: str) -> pa.Check:
        return pa.Check(lambda s: s.abs() < np.inf, error=f"{what} must be finite")

    for f in (Field.OPEN, Field.HIGH, Field.LOW, Field.CLOSE):
        if f.value in columns:
            checks_f = [pa.Check.gt(0, error="price must be > 0"), finite("price")]
            cols[f.value] = pa.Column(float, checks_f, nullable=False, coerce=True)
    if Field.VOLUME.value in columns:
        checks_v = [pa.Check.ge(0, error="volume must be >= 0"), finite("volume")]
        cols["volume"] = pa.Column(float, checks_v, nullable=False, coerce=True)

    checks = []
    if "high" in columns:
        others = [c for c in ("open", "close", "low") if c in columns]
        checks.append(
            pa.Check(lambda df, o=others: df["high"] >= df[o].max(axis=1), error=f"high must be >= {', '.join(others)}")
        )
    if "low" in columns:
        others = [c for c in ("open", "close") if c in columns]
        if others:
            checks.append(
                pa.Check(
                    lambda df, o=others: df["low"] <= df[o].min(axis=1), error=f"low must be <= {', '.join(others)}"
                )
            )
    checks.append(pa.Check(_sorted_rows, error="rows must be sorted by (timestamp, symbol)"))
    return pa.DataFrameSchema(cols, checks=checks, unique=["timestamp", "symbol"], report_duplicates="all")


def rows_pass(columns: dict[str, np.ndarray], timestamps_valid: bool) -> bool:
    """Whether every row passes every per-row check of ``bar_schema`` (vectorized, no per-row Python).

    ``columns`` maps bar field -> float64 values of the present fields (one per row). Uniqueness
    and order are checked where the panel is built; when this returns False, run ``validate_bars``
    for the row-by-row report.
    """
    if not timestamps_valid:
        return False
    with np.errstate(invalid="ignore"):
        for name, values in columns.items():
            if not len(values):
                continue
            low, high = values.min(), values.max()  # NaN propagates and fails both comparisons
            if not ((low >= 0 if name == Field.VOLUME.value else low > 0) and high < np.inf):
                return False
        scratch = np.empty_like(columns["close"]) if "close" in columns else None
        if "high" in columns and not _bounded(columns["high"], columns, ("open", "close", "low"), scratch, above=True):
            return False
        if "low" in columns and not _bounded(columns["low"], columns, ("open", "close"), scratch, above=False):
            return False
    return True


def _bounded(
    values: np.ndarray,
    columns: dict[str, np.ndarray],
    names: tuple[str, ...],
    scratch: np.ndarray | None,
    *,
    above: bool,
) -> bool:
    """Values >= the rows' max of ``names`` (above) or <= their min, with one reused buffer."""
    present = [columns[c] for c in names if c in columns]
    if not present:
        return True
    bound = present[0]
    if len(present) > 1:
        combine = np.maximum if above else np.minimum
        bound = combine(present[0], present[1], out=scratch)
        for other in present[2:]:
            combine(bound, other, out=bound)
    return bool((values >= bound).all() if above else (values <= bound).all())


def _sorted_rows(df: pd.DataFrame) -> pd.Series:
    """True for each row that is not before its predecessor in (timestamp, symbol) order."""
    ts, sym = df["timestamp"], df["symbol"]
    prev_ts, prev_sym = ts.shift(), sym.shift()
    return (ts > prev_ts) | ((ts == prev_ts) & (sym >= prev_sym)) | prev_ts.isna()


def validate_bars(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Validate a long frame of bars; raise DataError naming the source and bad rows.

    Rows are reported by ``frame``'s index labels (the loaders number data rows from 1).
    """
    import pandera.errors

    schema = bar_schema(list(frame.columns))
    try:
        return schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        raise DataError(format_failures(exc.failure_cases, frame, source)) from None


def format_failures(cases: pd.DataFrame, frame: pd.DataFrame, source: str) -> str:
    """Turn pandera's failure cases into one line per bad row and problem, sorted by row."""
    problems: dict[tuple[float, str], str] = {}
    for rec in cases.itertuples(index=False):
        check = str(rec.check)
        if "uniqueness" in check or "duplicates" in check:
            problem = "duplicate (timestamp, symbol)"
        elif rec.schema_context == "DataFrameSchema" or (rec.column in frame.columns and check == ""):
            problem = check
        elif check == "not_nullable":
            problem = f"{rec.column} is missing (NaN)"
        else:
            problem = f"{rec.column}: {check}, got {rec.failure_case}"
        idx = rec.index
        key = (float("inf") if idx is None or idx != idx else float(idx), problem)
        problems.setdefault(key, _describe_row(frame, idx) + problem)
    lines = [problems[k] for k in sorted(problems)]
    head = "\n  ".join(lines[:MAX_REPORTED])
    more = f"\n  ... and {len(lines) - MAX_REPORTED} more" if len(lines) > MAX_REPORTED else ""
    return f"{source}: {len(lines)} problem(s) in the bars (rows counted from 1, header excluded):\n  {head}{more}"


def _describe_row(frame: pd.DataFrame, idx: object) -> str:
    """'row 7 (2020-01-03, AAPL): ' for an index label of ``frame``; '' when unknown."""
    if idx is None or idx != idx or idx not in frame.index:
        return ""
    row = frame.loc[idx]
    return f"row {idx} ({row['timestamp']}, {row['symbol']}): "
