"""Sweeps at engine speed: qt's basic and joblib launchers against vectorbt on the same 64-parameter grid.

Measured, each as a whole `qt run -m` process with warm caches (a warm-up sweep over the
lookbacks fills the signal and panel caches first):

1. A 64-run grid (xmom: 8 lookbacks x 8 quantiles, equal weights) on a 500-asset x 5,000-day
   long-form Parquet file with the basic launcher: wall time, and a run's cost against its
   engine + signals time (from the sweep's ``throughput.json``). Target: <= 1.3x.
2. The same grid with ``hydra/launcher=joblib hydra.launcher.n_jobs=2``: speed-up over basic
   (target >= 1.8x on an idle 2-core machine).
3. A 1,000-run grid of xmom (25 lookbacks x 40 quantiles) on the bundled sample with joblib on
   2 workers (target <= 2 minutes).
4. vectorbt on the same 64-parameter grid and data, its fastest way: one
   ``Portfolio.from_order_func`` with the 64 parameter sets as column groups (500 assets each,
   cash shared within a group), month-end rebalancing to equal weights of the top quantile by
   ``close[t-21] / close[t-lookback] - 1``. Timed twice: the first call compiles its numba code.
5. Ray (local, 2 CPUs) on the 64-run grid, when Ray is installed.

Prints a table with the machine's load average; writes the "Sweeps" section of
benchmarks/README.md (not with --tiny). Run on a quiet machine:

    .venv/bin/python benchmarks/sweep.py              # the figures (several minutes)
    .venv/bin/python benchmarks/sweep.py --tiny       # a smoke run on tiny sizes (no README)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from readme_section import write_section

QT = [sys.executable, "-m", "qt"]
SKIP = 21  # xmom's default skip


@dataclass(frozen=True)
class Size:
    """The sizes of one benchmark run."""

    assets: int
    days: int
    lookbacks: tuple[int, ...]
    quantiles: tuple[float, ...]
    sample_lookbacks: tuple[int, ...]
    sample_quantiles: tuple[float, ...]


FULL = Size(
    assets=500,
    days=5000,
    lookbacks=(42, 63, 84, 105, 126, 168, 210, 252),
    quantiles=(0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5),
    sample_lookbacks=tuple(range(42, 292, 10)),  # 25
    sample_quantiles=tuple(round(0.05 + 0.01 * i, 2) for i in range(40)),  # 40
)
TINY = Size(
    assets=30,
    days=400,
    lookbacks=(42, 63),
    quantiles=(0.2, 0.3),
    sample_lookbacks=(42, 63),
    sample_quantiles=(0.2, 0.3),
)


def _csv(values: tuple[float, ...] | tuple[int, ...]) -> str:
    return ",".join(str(v) for v in values)


def write_long_parquet(path: Path, n_assets: int, n_days: int) -> None:
    """The synthetic panel as a long-form Parquet file (timestamp, symbol, OHLCV), as a user's file would be."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from qt.data.sources.synthetic import SyntheticData

    panel = SyntheticData(n_assets=n_assets, n_days=n_days, seed=7).load()
    t, n = panel.n_bars, panel.n_assets
    columns: dict[str, pa.Array] = {
        "timestamp": pa.array(np.repeat(panel.timestamps, n), pa.timestamp("us")),
        "symbol": pa.array(np.tile(np.asarray(panel.symbols, dtype=object), t), pa.string()),
    }
    for f, values in panel.fields.items():
        columns[f.value] = pa.array(values.reshape(-1))
    pq.write_table(pa.table(columns), path)


@dataclass(frozen=True)
class Sweep:
    """One `qt run -m` process: wall time, its load average, the sweep's throughput.json."""

    wall_s: float
    load_avg: float
    throughput: dict[str, float]


def sweep(cwd: Path, name: str, *args: str, env: dict[str, str]) -> Sweep:
    """Run `qt run -m ARGS` into ``cwd/name``; fail loudly if it fails or a run failed."""
    base = ["report.progress=false", "report.top_n=0", f"hydra.sweep.dir={name}"]
    start = time.perf_counter()
    done = subprocess.run([*QT, "run", "-m", *base, *args], cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    throughput = json.loads((cwd / name / "throughput.json").read_text())
    return Sweep(wall, os.getloadavg()[0], throughput)


def vectorbt_grid(
    close: np.ndarray, month_end: np.ndarray, lookbacks: tuple[int, ...], quantiles: tuple[float, ...]
) -> float:
    """Seconds of one vectorbt ``Portfolio.from_order_func`` over every (lookback, quantile) as a column group."""
    import vectorbt as vbt

    t, n = close.shape
    params = [(lb, q) for lb in lookbacks for q in quantiles]
    rebal = np.flatnonzero(month_end)
    row_of = np.full(t, -1, dtype=np.int64)
    row_of[rebal] = np.arange(rebal.size)
    weights = np.zeros((rebal.size, len(params) * n))  # target weight per rebalance row and column
    for g, (lb, q) in enumerate(params):
        mom = np.full((t, n), np.nan)
        mom[lb:] = close[lb - SKIP : t - SKIP] / close[: t - lb] - 1.0
        for r, i in enumerate(rebal):
            score = mom[i]
            ok = np.flatnonzero(np.isfinite(score))
            if ok.size == 0:
                continue
            k = max(1, int(np.floor(q * ok.size)))
            top = ok[np.argsort(-score[ok], kind="stable")[:k]]
            weights[r, g * n + top] = 1.0 / k

    pre_segment, order = _vectorbt_functions()
    wide = np.tile(close, (1, len(params)))
    groups = np.repeat(np.arange(len(params)), n)
    start = time.perf_counter()
    pf = vbt.Portfolio.from_order_func(
        wide,
        order,
        pre_segment_func_nb=pre_segment,
        pre_segment_args=(weights, row_of),
        segment_mask=np.repeat(month_end[:, None], len(params), axis=1),
        group_by=groups,
        cash_sharing=True,
        call_seq="default",  # sorted in pre_segment (sort_call_seq_nb), as vectorbt asks
        init_cash=1_000_000.0,
        max_orders=int(rebal.size * wide.shape[1]) + 1,  # orders only on rebalance rows: T x columns would not fit
        max_logs=0,
    )
    nav = pf.value().to_numpy()  # the NAV of every parameter set
    return time.perf_counter() - start, nav


_NUMBA: list[object] = []


def _vectorbt_functions() -> tuple[object, object]:
    """vectorbt's two callbacks, compiled once per process (numba): rebalance to a row of target weights."""
    if _NUMBA:
        return _NUMBA[0], _NUMBA[1]
    from numba import njit
    from vectorbt.portfolio import nb
    from vectorbt.portfolio.enums import Direction, SizeType

    @njit
    def pre_segment(c, weights, row_of):
        for col in range(c.from_col, c.to_col):
            c.last_val_price[col] = nb.get_col_elem_nb(c, col, c.close)
        row = weights[row_of[c.i], c.from_col : c.to_col]
        out = np.empty(c.group_len, dtype=np.float64)
        nb.sort_call_seq_nb(c, row, SizeType.TargetPercent, Direction.LongOnly, out, False)  # sells first
        return (row,)

    @njit
    def order(c, row):
        col = c.call_seq_now[c.call_idx]
        return nb.order_nb(
            size=row[col], price=c.close[c.i, c.col], size_type=SizeType.TargetPercent, direction=Direction.LongOnly
        )

    _NUMBA.extend([pre_segment, order])
    return pre_segment, order


def vectorbt_side(parquet: Path, size: Size) -> tuple[float, float, np.ndarray] | None:
    """(first call with numba compiling, second call, NAV [T x runs]) of the vectorbt grid, or None."""
    try:
        import vectorbt  # noqa: F401
    except ImportError:
        return None
    import pandas as pd

    frame = pd.read_parquet(parquet, columns=["timestamp", "symbol", "close"])
    wide = frame.pivot(index="timestamp", columns="symbol", values="close").sort_index()
    stamps = pd.DatetimeIndex(wide.index)
    month_end = np.r_[stamps.month[1:] != stamps.month[:-1], True]
    close = wide.to_numpy(dtype=np.float64)
    first, _ = vectorbt_grid(close, month_end, size.lookbacks, size.quantiles)
    second, nav = vectorbt_grid(close, month_end, size.lookbacks, size.quantiles)
    return first, second, nav


def same_work(sweep_dir: Path, nav: np.ndarray) -> float:
    """Largest relative gap between qt's NAV and vectorbt's over the grid's runs (the same job numbering)."""
    import pyarrow.parquet as pq

    gaps = []
    for job in range(nav.shape[1]):
        qt_nav = pq.read_table(sweep_dir / str(job) / "equity.parquet", columns=["nav"])["nav"].to_numpy()
        gaps.append(float(np.max(np.abs(qt_nav / nav[:, job] - 1.0))))
    return max(gaps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: a smoke run, the README is not touched")
    parser.add_argument("--no-ray", action="store_true", help="leave out the Ray sweep")
    args = parser.parse_args()
    size = TINY if args.tiny else FULL
    n_runs = len(size.lookbacks) * len(size.quantiles)
    n_sample = len(size.sample_lookbacks) * len(size.sample_quantiles)
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="qt-sweep-bench-") as tmp:
        cwd = Path(tmp)
        write_long_parquet(cwd / "prices.parquet", size.assets, size.days)
        env = {**os.environ, "QT_CACHE_DIR": str(cwd / "cache"), "RAY_AUTH_MODE": "disabled", "COLUMNS": "120"}
        data = ["data=parquet", "data.path=prices.parquet", "strategy=xmom", "portfolio=equal"]
        grid = [
            *data,
            f"strategy.params.lookback={_csv(size.lookbacks)}",
            f"strategy.params.quantile={_csv(size.quantiles)}",
        ]
        sweep(cwd, "warm", *data, f"strategy.params.lookback={_csv(size.lookbacks)}", env=env)
        basic = sweep(cwd, "basic", *grid, env=env)
        joblib = sweep(cwd, "joblib", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *grid, env=env)
        tb = basic.throughput
        rows += [
            (
                f"basic launcher, {n_runs} runs",
                f"{basic.wall_s:.1f} s ({tb['runs_per_minute']:.0f} runs/min), load {basic.load_avg:.1f}",
                "",
            ),
            ("a run in the basic sweep / its engine + signals", f"{tb['cost_ratio']:.2f}x", "<= 1.3x"),
            (
                "where a basic run's time went (s)",
                ", ".join(
                    f"{k[:-2]} {tb[k]:.3f}" for k in ("load_s", "signals_s", "engine_s", "outputs_s", "overhead_s")
                ),
                "",
            ),
            (f"joblib n_jobs=2, {n_runs} runs", f"{joblib.wall_s:.1f} s, load {joblib.load_avg:.1f}", ""),
            ("joblib speed-up over basic (wall)", f"{basic.wall_s / joblib.wall_s:.2f}x", ">= 1.8x"),
        ]
        sample_grid = [
            "strategy=xmom", "portfolio=equal", f"strategy.params.lookback={_csv(size.sample_lookbacks)}",
        ]  # fmt: skip
        sweep(cwd, "sample-warm", *sample_grid, env=env)
        sample = sweep(
            cwd, "sample", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *sample_grid,
            f"strategy.params.quantile={_csv(size.sample_quantiles)}", env=env,
        )  # fmt: skip
        rows.append(
            (
                f"{n_sample}-run grid on the bundled sample, joblib n_jobs=2",
                f"{sample.wall_s:.1f} s ({sample.throughput['runs_per_minute']:.0f} runs/min), load {sample.load_avg:.1f}",
                "<= 120 s" if n_sample >= 1000 else "",
            )
        )
        print(*(f"| {a} | {b} | {c} |" for a, b, c in rows), sep="\n", flush=True)  # so far, in case vectorbt fails
        vbt = vectorbt_side(cwd / "prices.parquet", size)
        if vbt is None:
            rows.append(("vectorbt, same grid", "not installed (pip install vectorbt)", ""))
        else:
            rows += [
                (
                    f"vectorbt from_order_func, {n_runs} column groups",
                    f"{vbt[1]:.1f} s (first call, compiling: {vbt[0]:.1f} s)",
                    "",
                ),
                ("qt joblib / vectorbt (wall)", f"{joblib.wall_s / vbt[1]:.2f}x", "<= 1.0x"),
                ("qt basic / vectorbt (wall)", f"{basic.wall_s / vbt[1]:.2f}x", ""),
            ]
        if not args.no_ray:
            try:
                import ray  # noqa: F401

                temp = cwd / "ray"
                on_ray = sweep(
                    cwd, "ray", "hydra/launcher=ray", "hydra.launcher.num_cpus=2", f"hydra.launcher.temp_dir={temp}",
                    *grid, env=env,
                )  # fmt: skip
                rows.append(
                    (f"Ray (local, 2 CPUs), {n_runs} runs", f"{on_ray.wall_s:.1f} s, load {on_ray.load_avg:.1f}", "")
                )
            except ImportError:
                rows.append(("Ray", "not installed (pip install 'qt[ray]')", ""))
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    section = f"""
## Sweeps (`benchmarks/sweep.py`)

xmom with equal weights; {n_runs}-run grid ({len(size.lookbacks)} lookbacks x {len(size.quantiles)} quantiles) on a
{size.assets}-asset x {size.days}-day long-form Parquet file, warm signal and panel caches; wall time of each whole
`qt run -m` process with the load average (1 min) when it ended; {dt.date.today().isoformat()}, {os.cpu_count()} cores.

| what | measured | target |
|---|---|---|
{table}
"""
    print(section)
    if not args.tiny:
        write_section("sweep", section)


if __name__ == "__main__":
    main()
