"""``qt data``: load files of bars into a store, list what it holds, show a symbol, remove one.

Drivers (duckdb, psycopg) are imported only when a store is opened.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from qt.errors import DataError

if TYPE_CHECKING:
    from qt.data.storage.base import BarStore

STORES = ("duckdb", "postgres", "parquet")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``ingest``, ``ls``, ``show`` and ``rm`` actions and their options."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    ingest = sub.add_parser("ingest", help="check a CSV or Parquet file of bars and load it (one transaction per file)")
    ingest.add_argument("files", nargs="+", type=Path, metavar="FILE", help="CSV or Parquet file(s) of bars, long form")
    ingest.add_argument("--skip-bad-rows", action="store_true", help="load the good rows; write the bad ones to a file")
    ingest.add_argument("--rejects", type=Path, help="where bad rows go (default FILE.rejects.csv beside FILE)")
    ingest.add_argument("--columns", help="map file columns to bar columns: Date=timestamp,Ticker=symbol")
    ingest.add_argument(
        "--tz", help="time zone of naive timestamps (or to convert aware ones to), e.g. America/New_York"
    )
    ingest.add_argument("--source", help="where the data came from (default: the file name)")
    ingest.add_argument("--currency", default="USD", help="currency of the prices (default USD)")
    ingest.add_argument(
        "--price",
        choices=("close", "adj_close"),
        help="which close to store when the file has both (Yahoo's Adj Close): close or adj_close",
    )
    ingest.add_argument(
        "--prices", choices=("raw", "adjusted"), default="raw", help="are the file's prices raw or vendor-adjusted"
    )
    ingest.add_argument("--chunk-rows", type=int, default=1_000_000, help="rows per bulk-load batch (progress unit)")
    show = sub.add_parser("show", help="a few bars of one symbol and a summary")
    show.add_argument("symbol")
    show.add_argument("--start", help="first date or time (inclusive)")
    show.add_argument("--end", help="last date or time (inclusive)")
    show.add_argument("--rows", type=int, default=5, help="rows shown at each end (default 5)")
    show.add_argument("--raw", action="store_true", help="raw prices instead of split/dividend-adjusted")
    show.add_argument("--calendar", default="XNYS", help="exchange calendar for missing sessions (default XNYS)")
    sub.add_parser("ls", help="symbols with first and last timestamp and row counts")
    rm = sub.add_parser("rm", help="remove a symbol's bars, actions and metadata")
    rm.add_argument("symbol")
    for p in (ingest, show, *(sub.choices[n] for n in ("ls", "rm"))):
        p.add_argument(
            "--store",
            choices=STORES,
            default=os.environ.get("QT_STORE", "duckdb"),
            help="backend (default $QT_STORE or duckdb)",
        )
        p.add_argument("--data-dir", help="folder of the duckdb/parquet store (default $QT_DATA_DIR or ~/.qt/data)")
        p.add_argument(
            "--pg-schema", help="PostgreSQL schema (default $QT_POSTGRES_SCHEMA or qt); DSN: $QT_POSTGRES_DSN"
        )


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action; output piped into ``head`` may stop early without a traceback."""
    try:
        return _dispatch(args)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _dispatch(args: argparse.Namespace) -> int:
    from qt.data.storage import open_store

    read_only = args.action in ("ls", "show")
    with open_store(args.store, data_dir=args.data_dir, schema=args.pg_schema, read_only=read_only) as store:
        if args.action == "ingest":
            return _ingest(store, args)
        if args.action == "ls":
            return _ls(store)
        if args.action == "show":
            return _show(store, args)
        removed = store.delete(args.symbol)
        print(f"removed {args.symbol}: {removed:,} bars from {store.location}")
        return 0


def _ingest(store: BarStore, args: argparse.Namespace) -> int:
    columns = _parse_columns(args.columns)
    flags = _FlagWording()
    logging.getLogger("qt").addFilter(flags)
    try:
        for path in args.files:
            _ingest_one(store, args, path, columns)
    except DataError as exc:
        raise DataError(as_flags(str(exc))) from None
    finally:
        logging.getLogger("qt").removeFilter(flags)
    return 0


def as_flags(text: str) -> str:
    """A data-source message in the words of ``qt data ingest``: ``data.price=X`` is ``--price X`` there.

    Examples
    --------
    >>> as_flags("use data.price=close or map one with data.columns={Adj:adj_close}")
    'use --price close or map one with --columns Adj=adj_close'
    """
    text = re.sub(r"data\.price=(\w+)", r"--price \1", text)
    return re.sub(r"data\.columns=\{([^:}]+):([^}]+)\}", r"--columns \1=\2", text)


class _FlagWording(logging.Filter):
    """Warnings logged by the data sources while ingesting, in the ingest command's words."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = as_flags(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def _ingest_one(store: BarStore, args: argparse.Namespace, path: Path, columns: dict[str, str] | None) -> None:
    from qt.data.sources.layout import PriceField
    from qt.data.storage.base import PriceBasis
    from qt.data.storage.ingest import ingest_file

    print(f"ingesting {path} into {store.kind.value} ({store.location})", flush=True)
    report = ingest_file(
        path,
        store,
        skip_bad_rows=args.skip_bad_rows,
        rejects_path=args.rejects,
        columns=columns,
        tz=args.tz,
        source=args.source,
        currency=args.currency,
        prices=PriceBasis(args.prices),
        price=PriceField(args.price) if args.price else None,
        chunk_rows=args.chunk_rows,
        progress=_progress,
    )
    print(
        f"loaded {path}: {report.loaded:,} rows of {report.symbols:,} symbol(s) "
        f"({report.changed:,} new or changed, {report.loaded - report.changed:,} unchanged) "
        f"in {report.seconds:.2f} s"
    )
    if report.rejects_path is not None:
        print(f"skipped {report.rejected:,} bad row(s); written with their reasons to {report.rejects_path}")


def _progress(done: int, total: int) -> None:
    print(f"  staged {done:,} / {total:,} rows", file=sys.stderr, flush=True)


def _parse_columns(text: str | None) -> dict[str, str] | None:
    from qt.errors import ConfigError

    if not text:
        return None
    mapping = {}
    for item in text.split(","):
        src, sep, dst = item.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise ConfigError("--columns", f"expected SOURCE=BAR pairs separated by commas, got {item!r}")
        mapping[src.strip()] = dst.strip()
    return mapping


def _ls(store: BarStore) -> int:
    coverage = store.coverage()
    if not coverage:
        print(f"{store.location}: empty; load bars with `qt data ingest FILE --store {store.kind.value}`")
        return 0
    meta = store.metadata()
    rows = [("symbol", "first", "last", "rows", "tz", "source")]
    for c in coverage:
        m = meta.get(c.symbol)
        tz = m.timezone if m else None
        rows.append(
            (c.symbol, _stamp(c.first, tz), _stamp(c.last, tz), f"{c.rows:,}", tz or "-", m.source if m else "-")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.rjust(w) if i == 3 else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True))))
    total = sum(c.rows for c in coverage)
    print(f"{len(coverage):,} symbol(s), {total:,} bars in {store.location}")
    return 0


def _stamp(value: object, tz: str | None) -> str:
    import pandas as pd

    ts = pd.Timestamp(value)
    if tz is not None:
        return str(ts.tz_localize("UTC").tz_convert(tz))
    return str(ts.date()) if ts == ts.normalize() else str(ts)


def _show(store: BarStore, args: argparse.Namespace) -> int:
    import pandas as pd

    from qt.data.calendars import missing_sessions
    from qt.data.storage.base import Adjust

    adjust = Adjust.RAW if args.raw else Adjust.ADJUSTED
    panel = store.read([args.symbol], args.start, args.end, adjust=adjust, name=args.symbol)
    frame = panel.to_frame().drop(columns="symbol")
    with pd.option_context("display.width", 120, "display.max_columns", 10):
        shown = frame if len(frame) <= 2 * args.rows else pd.concat([frame.head(args.rows), frame.tail(args.rows)])
        print(shown.to_string(index=False))
    close = frame["close"].to_numpy()
    print(
        f"{args.symbol} ({adjust.value} prices): {len(frame):,} bars, {_shown(frame['timestamp'].iloc[0])} to "
        f"{_shown(frame['timestamp'].iloc[-1])}; close min {close.min():.4g} max {close.max():.4g}, "
        f"first {close[0]:.4g} last {close[-1]:.4g} ({close[-1] / close[0] - 1:+.2%})"
    )
    if panel.tz is None:
        gaps = missing_sessions(panel, calendar=args.calendar)[args.symbol]
        listed = ", ".join(str(d) for d in gaps[:10]) + (" ..." if len(gaps) > 10 else "")
        print(f"missing {args.calendar} sessions: {len(gaps)}" + (f" ({listed})" if len(gaps) else ""))
    return 0


def _shown(ts: object) -> str:
    import pandas as pd

    stamp = pd.Timestamp(str(ts))
    return str(stamp.date()) if stamp.tzinfo is None and stamp == stamp.normalize() else str(stamp)
