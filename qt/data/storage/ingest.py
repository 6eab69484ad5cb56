"""``qt data ingest``: read a file of bars, check every row, and load the good ones in one write.

Problems are reported by data row (counted from 1, header excluded) and reason. A file with
problems loads nothing unless bad rows are skipped; then the good rows load and the bad
ones go, with their reasons, to a rejects file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qt.data.adjustments import ACTION_COLUMNS, action_factors
from qt.data.sources.files import BAR_COLUMNS, canonical_frame, to_datetimes
from qt.data.sources.layout import PriceField, resolve_columns
from qt.data.storage.base import ACTIONS_SCHEMA, BAR_FIELDS, BARS_SCHEMA, BarSet, PriceBasis, Progress, SymbolMeta
from qt.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from qt.data.storage.base import BarStore


@dataclass(frozen=True)
class CheckedFile:
    """A file after checking: good rows (canonical, sorted), actions, and problems by row."""

    raw: pd.DataFrame
    good: pd.DataFrame
    actions: pd.DataFrame
    problems: list[tuple[int, str]]
    report: str

    @property
    def bad_rows(self) -> list[int]:
        """Row numbers with at least one problem, ascending."""
        return sorted({row for row, _ in self.problems})


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did."""

    path: Path
    rows: int
    loaded: int
    rejected: int
    changed: int
    symbols: int
    seconds: float
    rejects_path: Path | None


def read_file(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file (or hive-partitioned Parquet folder), columns as written."""
    import pandas as pd

    from qt.data.sources.files import ParquetData

    if not path.exists():
        raise DataError(f"{path} does not exist")
    try:
        if path.is_dir():
            return ParquetData(path=str(path))._read(path)
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if path.suffix.lower() in (".csv", ".txt", ".gz"):
            return pd.read_csv(path)
    except DataError:
        raise
    except Exception as exc:
        if type(exc).__name__ == "EmptyDataError":
            raise DataError(f"{path}: the file is empty (no header, no rows)") from None
        raise DataError(f"{path}: cannot be read: {exc}") from exc
    raise DataError(f"{path}: unknown file type {path.suffix!r}; use .csv or .parquet")


def check_file(
    raw: pd.DataFrame,
    source: str,
    *,
    columns: dict[str, str] | None = None,
    tz: str | None = None,
    price: PriceField | None = None,
    symbol: str | None = None,
) -> CheckedFile:
    """Check every row: timestamps, numbers, duplicates, the pandera bar schema, corporate actions.

    ``symbol`` names the bars of a one-symbol file without a symbol column (e.g. the file name);
    ``price`` chooses close or adj_close when the file has an adjusted close.
    """
    import pandas as pd

    from qt.data.schema import format_failures

    raw = raw.reset_index(drop=True)
    raw.index = pd.RangeIndex(1, len(raw) + 1)
    prepared, problems = _parse_timestamps(raw, columns or {}, source, tz)
    frame = canonical_frame(prepared, columns or {}, source, price=price, symbol=symbol)
    for f in BAR_FIELDS:
        if f in frame.columns:
            numbers = pd.to_numeric(frame[f], errors="coerce")
            for label in frame.index[(frame[f].notna() & numbers.isna()).to_numpy()]:
                problems.append((int(label), f"{f} is not a number, got {frame.at[label, f]!r}"))
            frame[f] = numbers.astype(np.float64)
    problems += _duplicates(frame, {row for row, _ in problems})
    bad = {row for row, _ in problems}
    candidates = frame.loc[~frame.index.isin(list(bad))].sort_values(["timestamp", "symbol"], kind="stable")
    schema_cases = _schema_failures(candidates, source)
    bad |= {int(i) for i in schema_cases["index"]}
    good = candidates.loc[~candidates.index.isin(list(bad))]
    for name in ACTION_COLUMNS:
        if name in raw.columns:
            good = good.assign(**{name: raw.loc[good.index, name]})
    actions, action_problems = action_factors(good)
    problems += action_problems
    bad |= {row for row, _ in action_problems}
    good = good.loc[~good.index.isin(list(bad)), [c for c in BAR_COLUMNS if c in good.columns]]
    parts = [c for c in (schema_cases, _as_cases(problems)) if len(c)]
    cases = pd.concat(parts, ignore_index=True) if parts else schema_cases
    cases["index"] = [int(i) for i in cases["index"]]  # row numbers print as 7, not 7.0
    report = format_failures(cases, frame, source) if len(cases) else ""
    schema_problems = [
        (int(r.index), _case_text(r.schema_context, r.column, r.check, r.failure_case))
        for r in schema_cases.itertuples()
    ]
    return CheckedFile(
        raw=raw, good=good, actions=actions, problems=sorted(set(problems + schema_problems)), report=report
    )


def _parse_timestamps(
    raw: pd.DataFrame, columns: dict[str, str], source: str, tz: str | None
) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """Parse the timestamp column in place of the raw one; unparseable values become NaT and problems."""
    import pandas as pd

    if len(raw.columns) == 0 or len(raw) == 0:
        return raw, []  # canonical_frame names the empty file
    mapping = resolve_columns([str(c) for c in raw.columns], columns, source)
    names = [k for k, v in mapping.items() if v == "timestamp"]
    if not names:
        return raw, []  # canonical_frame names the missing column
    name = names[0]
    col = raw[name]
    parsed = to_datetimes(col, source)
    problems = [
        (int(label), "timestamp is missing" if pd.isna(col[label]) else f"timestamp is not a date, got {col[label]!r}")
        for label in raw.index[parsed.isna().to_numpy()]
    ]
    if tz is not None:
        try:
            parsed = (
                parsed.dt.tz_convert(tz) if isinstance(parsed.dtype, pd.DatetimeTZDtype) else parsed.dt.tz_localize(tz)
            )
        except Exception as exc:
            raise DataError(f"{source}: timestamp: cannot put the timestamps in time zone {tz!r}: {exc}") from None
    return raw.assign(**{name: parsed}), problems


def _duplicates(frame: pd.DataFrame, already_bad: set[int]) -> list[tuple[int, str]]:
    """Repeated (timestamp, symbol): exact copies are bad after the first; conflicting groups are bad whole."""
    import pandas as pd

    usable = frame.loc[frame["timestamp"].notna() & ~frame.index.isin(list(already_bad))]
    dup = usable.duplicated(["timestamp", "symbol"], keep=False)
    if not dup.any():
        return []
    rows = usable.loc[dup]
    head = rows.index.to_series().groupby([rows["timestamp"], rows["symbol"]], sort=False).transform("first")
    firsts = rows.loc[head.to_numpy()]
    same = np.ones(len(rows), dtype=bool)
    for c in rows.columns:
        if c in ("timestamp", "symbol"):
            continue
        a, b = rows[c].to_numpy(dtype=np.float64), firsts[c].to_numpy(dtype=np.float64)
        same &= (a == b) | (np.isnan(a) & np.isnan(b))
    conflict = pd.Series(~same, index=rows.index).groupby(head.to_numpy()).transform("any").to_numpy()
    out = []
    for label, first, clash in zip(rows.index, head.to_numpy(), conflict, strict=True):
        if clash:
            others = ", ".join(str(x) for x in rows.index[head.to_numpy() == first] if x != label)
            out.append((int(label), f"duplicate (timestamp, symbol) with different values than row(s) {others}"))
        elif label != first:
            out.append((int(label), f"duplicate (timestamp, symbol): a copy of row {first}"))
    return out


def _schema_failures(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Pandera's failure cases for ``frame`` (empty when it passes); whole-file failures raise."""
    import pandas as pd
    import pandera.errors

    from qt.data.schema import bar_schema

    try:
        bar_schema(list(frame.columns)).validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        whole = cases[cases["index"].isna()]
        if len(whole):
            reasons = "; ".join(sorted({f"{r.column}: {r.check}" for r in whole.itertuples()}))
            raise DataError(f"{source}: the file as a whole fails the bar schema: {reasons}") from None
        return cases
    return pd.DataFrame(columns=["schema_context", "column", "check", "check_number", "failure_case", "index"])


def _as_cases(problems: list[tuple[int, str]]) -> pd.DataFrame:
    """Problems found outside pandera, in the shape of its failure cases (for format_failures)."""
    import pandas as pd

    return pd.DataFrame(
        {
            "schema_context": "DataFrameSchema",
            "column": None,
            "check": [p for _, p in problems],
            "check_number": None,
            "failure_case": None,
            "index": [r for r, _ in problems],
        }
    )


def _case_text(context: object, column: object, check: object, failure_case: object) -> str:
    """One pandera failure as a reason for the rejects file (worded as format_failures words it)."""
    if context == "DataFrameSchema" or column is None or column != column:
        return str(check)
    if check == "not_nullable":
        return f"{column} is missing (NaN)"
    return f"{column}: {check}, got {failure_case}"


def to_barset(good: pd.DataFrame, actions: pd.DataFrame, *, source: str, currency: str, prices: PriceBasis) -> BarSet:
    """Checked rows as the storage normal form: naive UTC timestamps, sorted by (symbol, timestamp)."""
    import pandas as pd
    import pyarrow as pa

    stamps = good["timestamp"]
    tz = None
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        tz = str(stamps.dt.tz)
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    ts = stamps.to_numpy(dtype="datetime64[us]")
    symbols = good["symbol"].to_numpy(dtype=object)
    codes = pd.factorize(good["symbol"], sort=True)[0]  # integer codes: sorting strings is slow
    order = np.lexsort((ts, codes)) if len(good) else np.arange(0)
    data: dict[str, pa.Array] = {
        "symbol": pa.array(symbols[order], pa.string()),
        "timestamp": pa.array(ts[order], pa.timestamp("us")),
    }
    for f in BAR_FIELDS:
        data[f] = (
            pa.array(good[f].to_numpy(np.float64)[order], pa.float64())
            if f in good.columns
            else pa.nulls(len(good), pa.float64())
        )
    action_table = None
    if len(actions):
        a_ts = actions["timestamp"]
        if isinstance(a_ts.dtype, pd.DatetimeTZDtype):
            a_ts = a_ts.dt.tz_convert("UTC").dt.tz_localize(None)
        action_table = pa.table(
            {
                "symbol": pa.array(actions["symbol"].to_numpy(dtype=object), pa.string()),
                "timestamp": pa.array(a_ts.to_numpy(dtype="datetime64[us]"), pa.timestamp("us")),
                **{c: pa.array(actions[c].to_numpy(np.float64)) for c in ("split_ratio", "dividend", "factor")},
            },
            schema=ACTIONS_SCHEMA,
        )
    meta = SymbolMeta(source=source, prices=prices, currency=currency, timezone=tz)
    return BarSet(pa.Table.from_pydict(data, schema=BARS_SCHEMA), meta, action_table)


def write_rejects(checked: CheckedFile, path: Path) -> None:
    """The bad rows as they were in the file, with their row number and reasons, as CSV."""
    reasons: dict[int, list[str]] = {}
    for row, problem in checked.problems:
        reasons.setdefault(row, []).append(problem)
    rows = checked.bad_rows
    out = checked.raw.loc[rows].copy()
    out.insert(0, "row", rows)
    out["reason"] = ["; ".join(reasons[r]) for r in rows]
    tmp = path.with_name(path.name + ".tmp")
    out.to_csv(tmp, index=False)
    tmp.replace(path)


def ingest_file(
    path: Path,
    store: BarStore,
    *,
    skip_bad_rows: bool = False,
    rejects_path: Path | None = None,
    columns: dict[str, str] | None = None,
    tz: str | None = None,
    source: str | None = None,
    currency: str = "USD",
    prices: PriceBasis = PriceBasis.RAW,
    price: PriceField | None = None,
    chunk_rows: int = 1_000_000,
    progress: Progress | None = None,
) -> IngestReport:
    """Check ``path`` and write its good rows to ``store`` in one transaction (nothing when any row is bad).

    A file without a symbol column holds one symbol, named by the file (``AAPL.csv`` -> AAPL).
    """
    started = time.perf_counter()
    raw = read_file(path)
    symbol = None if path.is_dir() else path.stem
    checked = check_file(raw, str(path), columns=columns, tz=tz, price=price, symbol=symbol)
    bad = checked.bad_rows
    if bad and not skip_bad_rows:
        raise DataError(
            f"{checked.report}\n{len(bad)} bad row(s) of {len(raw)}; nothing was loaded. "
            "Fix the file, or pass --skip-bad-rows to load the good rows and write the bad ones to a rejects file"
        )
    if checked.good.empty:
        raise DataError(f"{path}: no good rows to load ({len(bad)} bad row(s) of {len(raw)})")
    written_rejects = None
    if bad:
        written_rejects = rejects_path or path.with_name(f"{path.stem}.rejects.csv")
        write_rejects(checked, written_rejects)
    bars = to_barset(checked.good, checked.actions, source=source or path.name, currency=currency, prices=prices)
    result = store.write(bars, chunk_rows=chunk_rows, progress=progress)
    return IngestReport(
        path=path,
        rows=len(raw),
        loaded=result.rows,
        rejected=len(bad),
        changed=result.changed,
        symbols=result.symbols,
        seconds=time.perf_counter() - started,
        rejects_path=written_rejects,
    )
