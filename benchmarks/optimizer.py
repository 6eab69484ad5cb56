"""Speed of the optimizer path: xmom + mean-variance (Ledoit-Wolf, turnover penalty, long-only capped).

Workload (issue 3): data=synthetic 500 assets x 5,000 days, monthly decisions, fills at close,
no costs; per-rebalance solve time (median, p95, the cold first solve) and the whole backtest.
Run: .venv/bin/python benchmarks/optimizer.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from readme_section import write_section

from qt.backtest.engine import BacktestEngine
from qt.backtest.execution_sim import ExecutionSimulator
from qt.data.sources.synthetic import SyntheticData
from qt.portfolio.constraints import Constraints
from qt.portfolio.optimizers import MeanVariance
from qt.portfolio.risk_models import LedoitWolf
from qt.risk.sizing import Sizer
from qt.strategies.xmom_crosssec import CrossSectionalMomentum

QT = [sys.executable, "-m", "qt"]
RUN = [
    "run",
    "data=synthetic",
    "data.n_assets=500",
    "data.n_days=5000",
    "data.seed=7",
    "strategy=xmom",
    "portfolio=meanvar",
    "portfolio.turnover_penalty=0.002",
    "risk_model=ledoit_wolf",
    "constraints=long_only_capped",
    "constraints.max_weight=0.05",
]


def optimizer() -> MeanVariance:
    return MeanVariance(
        risk_model=LedoitWolf(window=252, min_periods=60),
        constraints=Constraints(long_only=True, max_weight=0.05),
        risk_aversion=1.0,
        turnover_penalty=0.002,
    )


def time_engine() -> dict[str, float]:
    panel = SyntheticData(n_assets=500, n_days=5000, seed=7).load()
    strategy = CrossSectionalMomentum()
    scores = strategy.scores(panel)
    engine = BacktestEngine(
        strategy=strategy, portfolio=optimizer(), sizer=Sizer(), execution=ExecutionSimulator(), capital=1e6
    )
    t0 = time.perf_counter()
    result = engine.run(panel, scores)
    total = time.perf_counter() - t0
    solves = np.array([d.report.solve_ms for d in result.decisions if d.report and d.report.solver != "none"])
    statuses = {d.report.status for d in result.decisions if d.report}
    warm = solves[1:]
    return {
        "total_s": total,
        "n_decisions": len(result.decisions),
        "n_solves": solves.size,
        "cold_ms": float(solves[0]),
        "median_ms": float(np.median(warm)),
        "p95_ms": float(np.percentile(warm, 95)),
        "solve_sum_s": float(solves.sum() / 1e3),
        "statuses": ", ".join(sorted(statuses)),
        "names": float(np.median([(d.target > 1e-6).sum() for d in result.decisions if d.target.any()])),
    }


def time_process() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        out = subprocess.run([*QT, *RUN, f"hydra.run.dir={tmp}/run"], capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"qt run failed:\n{out.stderr}")
    return wall


def main() -> None:
    e = time_engine()
    run_s = time_process()
    rows = [
        ("median re-solve, 500 assets", f"{e['median_ms']:.1f} ms", "≤ 25 ms"),
        ("p95 re-solve", f"{e['p95_ms']:.1f} ms", ""),
        ("first solve (compiles the problem)", f"{e['cold_ms']:.0f} ms", ""),
        (f"all {e['n_solves']} solves", f"{e['solve_sum_s']:.2f} s", ""),
        ("whole backtest (engine: estimate + solve + accounting)", f"{e['total_s']:.2f} s", "≤ 10 s"),
        ("whole `qt run` process (+ VaR, stress, outputs, tearsheet)", f"{run_s:.2f} s", ""),
    ]
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    md = f"""## Optimizer (`benchmarks/optimizer.py`)

Synthetic data 500 assets x 5,000 days (seed 7), xmom scores, mean-variance with Ledoit-Wolf
(252 daily returns), risk aversion 1, turnover penalty 0.002, long only, max weight 5 %, Clarabel;
{e["n_decisions"]} monthly decisions, fills at close, no costs. {os.cpu_count()} cores, {time.strftime("%Y-%m-%d")}.

| what | measured | target |
|---|---|---|
{table}

Solver statuses: {e["statuses"]}; median names held: {e["names"]:.0f}. The problem is compiled once
(cvxpy Parameters, DPP) and re-solved with new numbers. Ledoit-Wolf's covariance enters as its exact
low-rank + diagonal form compressed to the top 20 principal directions with every asset's variance kept
exactly (`portfolio.max_factors`, null for the full form: ~400 ms per solve at 252 factors).
The `qt run` line also times interpreter start, imports (cvxpy among them), data generation, VaR and
stress tests per decision and writing the outputs.
"""
    write_section("optimizer", md)
    print(md)


if __name__ == "__main__":
    main()
