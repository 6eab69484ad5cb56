"""Speed and exactness of the optimizer path: xmom + mean-variance (Ledoit-Wolf, turnover penalty, long-only capped).

Workload (issues 3 and 9): data=synthetic 500 assets x 5,000 days, monthly decisions, fills at
close, no costs; the exact problem (252-day Ledoit-Wolf, 500 x 252 factored form) solved by qt's
active-set solver (the YAML default) and by Clarabel, and the opt-in 20-factor approximation.
Per-rebalance solve time (median, p95, the cold first solve), the whole backtest, the gaps
between the books. Run: .venv/bin/python benchmarks/optimizer.py
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
from qt.data.sources.synthetic import SyntheticData
from qt.execution.simulator import ExecutionSimulator
from qt.portfolio.constraints import Constraints
from qt.portfolio.convex.mean_variance import MeanVariance
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
SETUPS = {  # label -> MeanVariance keyword arguments
    "exact, ACTIVE_SET (default)": {"solver": "ACTIVE_SET"},
    "exact, Clarabel": {"solver": "CLARABEL"},
    "max_factors 20, Clarabel (the old default)": {"solver": "CLARABEL", "max_factors": 20},
}


def optimizer(**kw: object) -> MeanVariance:
    return MeanVariance(
        risk_model=LedoitWolf(window=252, min_periods=60),
        constraints=Constraints(long_only=True, max_weight=0.05),
        risk_aversion=1.0,
        turnover_penalty=0.002,
        **kw,
    )


def time_engine(panel, scores, strategy, opt: MeanVariance) -> dict:
    engine = BacktestEngine(
        strategy=strategy, portfolio=opt, sizer=Sizer(), execution=ExecutionSimulator(), capital=1e6
    )
    t0 = time.perf_counter()
    result = engine.run(panel, scores)
    total = time.perf_counter() - t0
    solved = [d for d in result.decisions if d.report and d.report.solver != "none"]
    solves = np.array([d.report.solve_ms for d in solved])
    warm = solves[1:]
    return {
        "total_s": total,
        "n_decisions": len(result.decisions),
        "n_solves": solves.size,
        "cold_ms": float(solves[0]),
        "median_ms": float(np.median(warm)),
        "p95_ms": float(np.percentile(warm, 95)),
        "solve_sum_s": float(solves.sum() / 1e3),
        "solvers": ", ".join(sorted({d.report.solver for d in solved})),
        "statuses": ", ".join(sorted({d.report.status for d in result.decisions if d.report})),
        "names": float(np.median([(d.target > 1e-6).sum() for d in result.decisions if d.target.any()])),
        "books": np.array([d.target for d in result.decisions]),
        "last": _last_solver_stats(opt),
    }


def _last_solver_stats(opt: MeanVariance) -> str:
    """Iterations and solver-only time of the last cvxpy solve (empty if cvxpy never solved)."""
    problems = [p.problem for p in opt._cache.values()]
    stats = [p.solver_stats for p in problems if p.solver_stats is not None]
    if not stats:
        return ""
    last = stats[-1]
    return f"{last.num_iters} iterations, {last.solve_time * 1e3:.0f} ms inside the solver"


def time_process() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        out = subprocess.run([*QT, *RUN, f"hydra.run.dir={tmp}/run"], capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"qt run failed:\n{out.stderr}")
    return wall


def main() -> None:
    panel = SyntheticData(n_assets=500, n_days=5000, seed=7).load()
    strategy = CrossSectionalMomentum()
    scores = strategy.scores(panel)
    load = os.getloadavg()[0]
    runs = {label: time_engine(panel, scores, strategy, optimizer(**kw)) for label, kw in SETUPS.items()}
    load = max(load, os.getloadavg()[0])
    run_s = time_process()
    fast, clarabel, approx = runs.values()
    exact_gap = float(np.abs(fast["books"] - clarabel["books"]).max())
    approx_gap = float(np.abs(approx["books"] - clarabel["books"]).max())
    rows = []
    for label, e in runs.items():
        rows.append(
            f"| {label} | {e['median_ms']:.1f} ms | {e['p95_ms']:.1f} ms | {e['cold_ms']:.0f} ms "
            f"| {e['solve_sum_s']:.2f} s | {e['total_s']:.2f} s | {e['solvers']} |"
        )
    table = "\n".join(rows)
    md = f"""## Optimizer (`benchmarks/optimizer.py`)

Synthetic data 500 assets x 5,000 days (seed 7), xmom scores, mean-variance with Ledoit-Wolf
(252 daily returns: Σ is exactly a 500 x 252 low-rank term plus a diagonal), risk aversion 1,
turnover penalty 0.002, long only, max weight 5 %; {fast["n_decisions"]} monthly decisions
({fast["n_solves"]} solves), fills at close, no costs. {os.cpu_count()} cores shared with other
jobs (load average up to {load:.1f} while measuring), {time.strftime("%Y-%m-%d")}. Target: median
exact re-solve ≤ 25 ms.

| setup | median re-solve | p95 | first solve | all solves | whole backtest | solver used |
|---|---|---|---|---|---|---|
{table}

Whole `qt run` process with `portfolio=meanvar` (ACTIVE_SET, + VaR, stress, outputs, tearsheet): {run_s:.2f} s.
Largest weight gap over every decision: ACTIVE_SET vs Clarabel {exact_gap:.1e} (both exact; Clarabel
stops at its 1e-8 gap tolerance, and each book is the next decision's held book, so rounding carries
forward); max_factors 20 vs exact {approx_gap * 100:.1f} percentage points.
Median names held: {fast["names"]:.0f}; statuses: {fast["statuses"]}.

Where the time goes. Clarabel (interior point) re-solves the compiled DPP problem without
canonicalizing again (its last exact re-solve: {clarabel["last"]}), but each iteration factors a
KKT system whose 252 x 500 risk block fills in densely, so warm starts (an interior-point method
cannot use them) and solver settings (faer or QDLDL, equilibration, threads) change little; OSQP
needs 150-500 iterations at 1e-5 and is no faster. ACTIVE_SET uses the structure: starting from
the held book (a warm start: held names at their weight, the rest at 0 or the cap) a primal-dual
active-set loop solves the optimality (KKT) system on the free weights only (here a median of
7 of them, at most ~70: the turnover penalty pins most held names; ~15 small dense solves) and verifies every condition; only when that fails (the first
decision, from cash) does ADMM with one Woodbury factorization of the 252-column form (one
500 x 252 x 252 product, ~0.3 s on this loaded machine) find the active set first. Problems outside
its class (group limits, turnover or volatility caps, gross caps, max Sharpe) go to Clarabel, as
does any solution it cannot verify; `decisions.parquet` names the solver used. The timings move
with the machine's load: the same max_factors-20 Clarabel row measured 11.5 ms on a quiet day
(2026-11-24).
"""
    write_section("optimizer", md)
    print(md)


if __name__ == "__main__":
    main()
