"""Writing a run's results: all files appear together, or none do.

Files are written into a hidden staging folder inside the run directory and moved
into place only when every one of them is complete, so a failed run never leaves
half-written results behind.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from qt.config.jsonsafe import write_json
from qt.enums import OrderStatus, Side
from qt.results.result import RunResult

RESULT_FILES = (
    "equity.parquet",
    "weights.parquet",
    "orders.parquet",
    "fills.parquet",
    "decisions.parquet",
    "events.parquet",
    "metrics.json",
    "manifest.json",
)
LEAN_FILES = ("equity.parquet", "metrics.json", "manifest.json")  # a sweep's run by default: enough to rank and PBO
STAGING = ".partial"


def write_run(
    run_dir: Path,
    result: RunResult,
    metrics: Mapping[str, Any],
    manifest: Mapping[str, Any],
    extra_json: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    only: frozenset[str] | None = None,
) -> None:
    """Write every result file of a run atomically (as a set) into ``run_dir`` (plus ``extra_json`` files).

    ``only`` keeps just the files it names (``LEAN_FILES`` for a sweep's lean run).
    """
    writers: dict[str, Callable[[Path], None]] = {
        "equity.parquet": lambda p: _write_parquet(equity_table(result), p),
        "weights.parquet": lambda p: _write_parquet(weights_table(result), p),
        "orders.parquet": lambda p: _write_parquet(orders_table(result), p),
        "fills.parquet": lambda p: _write_parquet(fills_table(result), p),
        "decisions.parquet": lambda p: _write_parquet(decisions_table(result), p),
        "events.parquet": lambda p: _write_parquet(events_table(result), p),
        "metrics.json": lambda p: write_json(metrics, p),
        "manifest.json": lambda p: write_json(manifest, p),
    }
    for name, data in (extra_json or {}).items():
        writers[name] = functools.partial(_write_extra, data)
    if only is not None:
        writers = {name: w for name, w in writers.items() if name in only}
    write_atomically(run_dir, writers)


def _write_extra(data: Mapping[str, Any], path: Path) -> None:
    write_json(data, path)


def write_atomically(run_dir: Path, writers: Mapping[str, Callable[[Path], None]]) -> None:
    """Call each writer on a staging path, then move all files into ``run_dir``."""
    staging = run_dir / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    moved: list[Path] = []
    try:
        for name, write in writers.items():
            write(staging / name)
        for name in writers:
            os.replace(staging / name, run_dir / name)
            moved.append(run_dir / name)
    except BaseException:
        for path in moved:
            path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _timestamps(result: RunResult, idx: np.ndarray) -> pa.Array:
    tz = result.panel.tz
    return pa.array(result.panel.timestamps[idx], type=pa.timestamp("us", tz=tz))


def equity_table(result: RunResult) -> pa.Table:
    """One row per bar: nav, cash, exposures, turnover and the bar's return."""
    idx = np.arange(result.panel.n_bars)
    return pa.table(
        {
            "timestamp": _timestamps(result, idx),
            "nav": result.nav,
            "cash": result.cash,
            "gross_exposure": result.gross_exposure,
            "net_exposure": result.net_exposure,
            "turnover": result.turnover,
            "return": result.returns,
        }
    )


def weights_table(result: RunResult) -> pa.Table:
    """Per decision and symbol held before or after: weight before trading and target weight."""
    symbols = np.asarray(result.panel.symbols, dtype=object)
    rows_t, rows_s, before, target = [], [], [], []
    for d in result.decisions:
        held = np.flatnonzero((d.before != 0) | (d.target != 0))
        rows_t.append(np.full(held.size, d.t))
        rows_s.append(held)
        before.append(d.before[held])
        target.append(d.target[held])
    t = np.concatenate(rows_t) if rows_t else np.zeros(0, dtype=np.intp)
    s = np.concatenate(rows_s) if rows_s else np.zeros(0, dtype=np.intp)
    return pa.table(
        {
            "timestamp": _timestamps(result, t),
            "symbol": pa.array(symbols[s], type=pa.string()),
            "weight_before": np.concatenate(before) if before else np.zeros(0),
            "target_weight": np.concatenate(target) if target else np.zeros(0),
        }
    )


def _order_columns(result: RunResult) -> dict[str, np.ndarray]:
    """Every order of every batch, concatenated column-wise; order ids number them from 1."""
    batches = result.fills
    if not batches:
        empty = np.zeros(0)
        return {k: empty for k in ("decided", "filled_at", "asset", "qty", "status", "price", "fees", "reason")}
    return {
        "decided": np.concatenate([np.full(len(b.orders), b.orders.decided_at) for b in batches]),
        "filled_at": np.concatenate([np.full(len(b.orders), b.filled_at) for b in batches]),
        "asset": np.concatenate([b.orders.assets for b in batches]),
        "qty": np.concatenate([b.orders.quantities for b in batches]),
        "status": np.concatenate([b.status for b in batches]),
        "price": np.concatenate([b.prices for b in batches]),
        "fees": np.concatenate([b.fees for b in batches]),
        "reason": np.concatenate([b.reasons for b in batches]),
    }


def orders_table(result: RunResult) -> pa.Table:
    """Every order: when decided, symbol, side, shares, status and the reason when not filled."""
    c = _order_columns(result)
    symbols = np.asarray(result.panel.symbols, dtype=object)
    asset = c["asset"].astype(np.intp)
    return pa.table(
        {
            "order_id": np.arange(1, asset.size + 1, dtype=np.int64),
            "decided_at": _timestamps(result, c["decided"].astype(np.intp)),
            "symbol": pa.array(symbols[asset], type=pa.string()),
            "side": pa.array(np.where(c["qty"] > 0, Side.BUY.value, Side.SELL.value), type=pa.string()),
            "quantity": np.abs(c["qty"]).astype(np.float64),
            "status": pa.array(c["status"].astype(str), type=pa.string()),
            "reason": pa.array(c["reason"].astype(str), type=pa.string()),
        }
    )


def fills_table(result: RunResult) -> pa.Table:
    """Every fill: order id, time, symbol, side, shares, price, fees and notional."""
    c = _order_columns(result)
    filled = c["status"].astype(str) == OrderStatus.FILLED.value
    ids = np.arange(1, filled.size + 1, dtype=np.int64)[filled]
    asset = c["asset"].astype(np.intp)[filled]
    qty, price = c["qty"][filled].astype(np.float64), c["price"][filled].astype(np.float64)
    symbols = np.asarray(result.panel.symbols, dtype=object)
    return pa.table(
        {
            "order_id": ids,
            "timestamp": _timestamps(result, c["filled_at"].astype(np.intp)[filled]),
            "symbol": pa.array(symbols[asset], type=pa.string()),
            "side": pa.array(np.where(qty > 0, Side.BUY.value, Side.SELL.value), type=pa.string()),
            "quantity": np.abs(qty),
            "price": price,
            "fees": c["fees"][filled].astype(np.float64),
            "notional": np.abs(qty) * price,
        }
    )


def decisions_table(result: RunResult) -> pa.Table:
    """One row per decision: the optimizer's status, solver, fallback steps, and VaR/CVaR (no timings: reruns match)."""
    ds = result.decisions
    t = np.array([d.t for d in ds], dtype=np.intp)
    columns: dict[str, Any] = {
        "timestamp": _timestamps(result, t),
        "status": pa.array([d.report.status if d.report else "" for d in ds], type=pa.string()),
        "solver": pa.array([d.report.solver if d.report else "" for d in ds], type=pa.string()),
        "fallback_steps": pa.array([" | ".join(d.report.steps) if d.report else "" for d in ds], type=pa.string()),
        "gross": np.array([float(np.abs(d.target).sum()) for d in ds], dtype=np.float64),
        "n_names": np.array([int((d.target != 0).sum()) for d in ds], dtype=np.int64),
    }
    for k in sorted({k for d in ds for k in d.risk}):
        columns[k] = np.array([d.risk.get(k, np.nan) for d in ds], dtype=np.float64)
    return pa.table(columns)


def events_table(result: RunResult) -> pa.Table:
    """One row per post-trade risk event: when, which limit, what was seen, the scale applied, halted or not."""
    ev = result.events
    return pa.table(
        {
            "timestamp": _timestamps(result, np.array([e.t for e in ev], dtype=np.intp)),
            "kind": pa.array([e.kind for e in ev], type=pa.string()),
            "detail": pa.array([e.detail for e in ev], type=pa.string()),
            "scale": np.array([e.scale for e in ev], dtype=np.float64),
            "halt": pa.array([e.halt for e in ev], type=pa.bool_()),
        }
    )


def write_parquet(table: pa.Table, path: Path) -> None:
    """One result table as zstd-compressed Parquet (the format of every result file)."""
    pq.write_table(table, path, compression="zstd")


_write_parquet = write_parquet
