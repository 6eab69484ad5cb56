"""Speed of the market data stores: bulk ingest and panel reads on DuckDB, PostgreSQL and Parquet.

Workload (issue 6): synthetic OHLCV, 2,000 symbols x 5,000 business days (10 M rows), written
with one ``store.write`` (one transaction); then a 500-symbol panel over the whole span
(5,000 days, 2000-01-03 .. 2019-03-01) read back. Plus a re-ingest of the same rows (all
unchanged) and the whole ``qt data ingest`` command (file read + row checks + load) on 1 M rows.
Run: .venv/bin/python benchmarks/storage.py   (PostgreSQL from $QT_POSTGRES_DSN or 127.0.0.1:5432/test)
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from readme_section import write_section

from qt.data.sources.synthetic import SyntheticData
from qt.data.storage import open_store
from qt.data.storage.base import BarSet, SymbolMeta
from qt.testing.services import POSTGRES, reachable

N_SYMBOLS, N_DAYS, READ_SYMBOLS, READ_REPEAT = 2_000, 5_000, 500, 3
DSN = os.environ.get("QT_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
TARGETS = {
    "duckdb": ("≥ 2 M rows/s", 2e6, "≤ 1 s", 1.0),
    "postgres": ("≥ 300 k rows/s", 3e5, "≤ 5 s", 5.0),
    "parquet": ("", 0.0, "", float("inf")),
}


def bench_backend(kind: str, bars: BarSet, symbols: list[str], expected: np.ndarray) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix=f"qt-bench-{kind}-"))
    schema = f"qt_bench_{uuid.uuid4().hex[:8]}"
    kwargs = {"data_dir": str(folder)} if kind != "postgres" else {"dsn": DSN, "schema": schema}
    out: dict[str, float] = {}
    try:
        with open_store(kind, **kwargs) as store:
            t0 = time.perf_counter()
            report = store.write(bars)
            out["ingest_s"] = time.perf_counter() - t0
            assert report.changed == bars.bars.num_rows
            t0 = time.perf_counter()
            again = store.write(bars)
            out["reingest_s"] = time.perf_counter() - t0
            assert again.changed == 0
        reads = []
        for _ in range(READ_REPEAT):
            with open_store(kind, read_only=True, **kwargs) as store:
                t0 = time.perf_counter()
                panel = store.read(symbols, start="1999-06-01", end="2019-05-31")
                reads.append(time.perf_counter() - t0)
        assert panel.close.shape == expected.shape and np.array_equal(panel.close, expected)
        out["read_first_s"], out["read_median_s"] = reads[0], statistics.median(reads)
        out["rows"] = bars.bars.num_rows
        out["disk_mb"] = _disk_mb(folder) if kind != "postgres" else _pg_mb(schema)
    finally:
        if kind == "postgres":
            with open_store("postgres", dsn=DSN, schema=schema) as store:
                store.drop_schema()  # type: ignore[attr-defined]
        shutil.rmtree(folder, ignore_errors=True)
    return out


def _disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def _pg_mb(schema: str) -> float:
    import psycopg

    with psycopg.connect(DSN) as conn:
        row = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r'",
            [schema],
        ).fetchone()
    return float(row[0] or 0) / 1e6 if row else 0.0


def bench_cli_ingest() -> dict[str, float]:
    """The whole `qt data ingest` process on a 1 M-row Parquet file (200 symbols x 5,000 days) into DuckDB."""
    folder = Path(tempfile.mkdtemp(prefix="qt-bench-cli-"))
    try:
        path = folder / "bars.parquet"
        SyntheticData(n_assets=200, n_days=N_DAYS, seed=11).load().to_frame().to_parquet(path)
        env = {**os.environ, "QT_DATA_DIR": str(folder / "store")}
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "qt", "data", "ingest", str(path), "--store", "duckdb"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        total = time.perf_counter() - t0
        assert "1,000,000 new or changed" in done.stdout, done.stdout
        return {"cli_s": total, "rows": 1_000_000}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    panel = SyntheticData(n_assets=N_SYMBOLS, n_days=N_DAYS, seed=5).load()
    bars = BarSet.from_panel(panel, SymbolMeta(source="synthetic"))
    symbols = list(panel.symbols[:: N_SYMBOLS // READ_SYMBOLS])
    expected = panel.close[:, :: N_SYMBOLS // READ_SYMBOLS]
    kinds = ["duckdb", "postgres", "parquet"]
    if not reachable(POSTGRES):
        print("PostgreSQL is not reachable; skipping it", file=sys.stderr)
        kinds.remove("postgres")
    results = {}
    for kind in kinds:
        print(f"== {kind}", flush=True)
        results[kind] = bench_backend(kind, bars, symbols, expected)
        print(results[kind], flush=True)
    cli = bench_cli_ingest()
    print("cli", cli, flush=True)
    write_section("storage", _markdown(results, cli))


def _markdown(results: dict[str, dict[str, float]], cli: dict[str, float]) -> str:
    lines = [
        "## Market data storage (`benchmarks/storage.py`)",
        "",
        f"Synthetic OHLCV, {N_SYMBOLS:,} symbols x {N_DAYS:,} business days = {N_SYMBOLS * N_DAYS / 1e6:.0f} M rows, "
        "written with one `store.write` (one transaction; an empty store). The read is a "
        f"{READ_SYMBOLS}-symbol panel over the whole span (5,000 days, 2000-01-03 to 2019-03-01: the 20-year "
        f"panel), from a fresh connection, median of {READ_REPEAT}. 2 cores, {dt.date.today().isoformat()}.",
        "",
        "| backend | ingest | target | re-ingest (all unchanged) | panel read | target | on disk |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, r in results.items():
        ingest_target, _, read_target, _ = TARGETS[kind]
        rate = r["rows"] / r["ingest_s"]
        lines.append(
            f"| {kind} | {rate / 1e6:.2f} M rows/s ({r['ingest_s']:.1f} s) | {ingest_target} | "
            f"{r['reingest_s']:.1f} s | {r['read_median_s']:.2f} s (first {r['read_first_s']:.2f} s) | {read_target} | "
            f"{r['disk_mb']:,.0f} MB |"
        )
    lines += [
        "",
        f"The whole `qt data ingest` command on a {cli['rows'] / 1e6:.0f} M-row Parquet file into DuckDB (interpreter "
        f"start, file read, every row checked with the pandera schema, load): {cli['cli_s']:.1f} s "
        f"({cli['rows'] / cli['cli_s'] / 1e3:,.0f} k rows/s end to end). Row checks, not the store, bound the command.",
        "",
        "How: DuckDB stages Arrow batches into a temporary table and merges with an anti-join (identical rows "
        "are skipped); PostgreSQL gets binary COPY built with numpy (no per-row Python) straight into the table "
        "when the symbols are new, else into a temporary table merged with `INSERT ... ON CONFLICT DO UPDATE "
        "... WHERE IS DISTINCT FROM`, and reads back one row per symbol whose columns the server packs into "
        "`bytea` (`timestamp_send`, `float8send`), parsed with `np.frombuffer`; "
        "Parquet writes one file per symbol partition and reads the requested partitions with `pyarrow.dataset`.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
