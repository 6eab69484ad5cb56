"""Speed and memory of the backtest spine: engine alone, the whole `qt run` process, `qt --help`.

Workload (issue 2): data=synthetic 500 assets x 5,000 days, xmom (252/21/0.2) + equal weights,
monthly, fills at close, no costs; plus the engine at 2,000 x 5,000.
Run: .venv/bin/python benchmarks/backtest.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from readme_section import write_section

from qt.backtest.engine import BacktestEngine
from qt.data.sources.synthetic import SyntheticData
from qt.execution.simulator import ExecutionSimulator
from qt.portfolio.optimizers import EqualWeight
from qt.risk.models import ValueAtRisk
from qt.risk.sizing import Sizer
from qt.strategies.xmom_crosssec import CrossSectionalMomentum

REPEAT = 5
QT = [sys.executable, "-m", "qt"]


def plain_numpy(close: np.ndarray, decide: np.ndarray, scores: np.ndarray, capital: float) -> np.ndarray:
    """The same equity curve in plain numpy, for scale (the issue's 0.02 s reference)."""
    shares = np.zeros(close.shape[1])
    cash = capital
    nav = np.empty(close.shape[0])
    for t in np.flatnonzero(decide):
        s = scores[t]
        ok = np.flatnonzero(np.isfinite(s))
        value = cash + shares @ close[t]
        shares = np.zeros_like(shares)
        if ok.size:
            k = max(1, int(0.2 * ok.size))
            top = ok[np.lexsort((ok, -s[ok]))][:k]
            shares[top] = value / k / close[t, top]
        cash = value - shares @ close[t]
        nav[t] = value
    return nav


def time_engine(n_assets: int, n_days: int) -> dict[str, float]:
    panel = SyntheticData(n_assets=n_assets, n_days=n_days, seed=7).load()
    strategy = CrossSectionalMomentum()
    t0 = time.perf_counter()
    scores = strategy.scores(panel)
    signals = time.perf_counter() - t0
    engine = BacktestEngine(
        strategy=strategy, portfolio=EqualWeight(), sizer=Sizer(), execution=ExecutionSimulator(), capital=1e6
    )
    runs = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        engine.run(panel, scores)
        runs.append(time.perf_counter() - t0)
    with_var = BacktestEngine(
        strategy=strategy,
        portfolio=EqualWeight(),
        sizer=Sizer(),
        execution=ExecutionSimulator(),
        capital=1e6,
        var=ValueAtRisk(),
    )
    var_runs = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        with_var.run(panel, scores)
        var_runs.append(time.perf_counter() - t0)
    decide = strategy.rebalance.schedule(panel.timestamps)
    t0 = time.perf_counter()
    plain_numpy(panel.close, decide, scores, 1e6)
    numpy_s = time.perf_counter() - t0
    return {
        "engine_s": statistics.median(runs),
        "var_s": statistics.median(var_runs),
        "signals_s": signals,
        "numpy_s": numpy_s,
    }


PEAK_RSS_LAUNCHER = (
    "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(rc)"
)


def time_process(args: list[str]) -> tuple[float, float]:
    """Median wall time of a command, and its peak RSS in MB.

    The peak is read by a tiny launcher process: a child forked from this (large) process
    would report this process's memory as its own.
    """
    walls, peaks = [], []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", PEAK_RSS_LAUNCHER, *args], capture_output=True, text=True, check=False
        )
        walls.append(time.perf_counter() - t0)
        if out.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed:\n{out.stderr}")
        peaks.append(int(out.stderr.strip().splitlines()[-1]) / 1024.0)
    return statistics.median(walls), max(peaks)


def main() -> None:
    small = time_engine(500, 5000)
    large = time_engine(2000, 5000)
    with tempfile.TemporaryDirectory() as tmp:
        run_args = [
            *QT,
            "run",
            "data=synthetic",
            "data.n_assets=500",
            "data.n_days=5000",
            "data.seed=7",
            "strategy=xmom",
            f"hydra.run.dir={tmp}/run",
        ]
        run_s, run_rss = time_process(run_args)
    help_s, _ = time_process([*QT, "--help"])
    cpu = os.cpu_count()
    rows = [
        ("engine alone, 500 x 5,000", f"{small['engine_s']:.3f} s", "≤ 0.25 s"),
        (
            "engine with the default risk stage (VaR/CVaR per decision), 500 x 5,000",
            f"{small['var_s']:.3f} s",
            "≤ 0.25 s",
        ),
        ("engine alone, 2,000 x 5,000", f"{large['engine_s']:.3f} s", "≤ 1 s"),
        ("xmom scores, 500 x 5,000", f"{small['signals_s']:.3f} s", ""),
        ("plain-numpy equity curve, 500 x 5,000 (reference)", f"{small['numpy_s']:.3f} s", "≈ 0.02 s"),
        ("whole `qt run` process, 500 x 5,000", f"{run_s:.2f} s", "≤ 1.5 s"),
        ("peak RSS of that process", f"{run_rss:.0f} MB", "≤ 600 MB"),
        ("`qt --help`", f"{help_s:.3f} s", "≤ 0.3 s"),
    ]
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    md = f"""## Backtest spine (`benchmarks/backtest.py`)

Synthetic data, xmom (lookback 252, skip 21, quantile 0.2) + equal weights, monthly decisions,
fills at close, no costs. Median of {REPEAT} runs on {cpu} cores, {time.strftime("%Y-%m-%d")}.

| what | measured | target |
|---|---|---|
{table}

The engine loops over bars in Python and works across assets with numpy; strategy, portfolio and
sizing run only at the ~240 month ends. The whole-process time is `qt run` with its default config:
interpreter start, imports (hydra, pandas, pyarrow, pydantic), composing and validating the config,
generating the synthetic data, the signal cache, VaR/CVaR and stress tests of every decision, and
writing every output file including performance.json and tearsheet.html.
"""
    write_section("backtest", md)
    print(md)


if __name__ == "__main__":
    main()
