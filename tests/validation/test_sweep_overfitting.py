"""A 6-run grid's leaderboard: each run's deflated Sharpe ratio and the sweep's PBO, worked out here by hand.

The runs' daily returns are read from their equity.parquet, cut to the bars every run traded,
and the statistics are computed from the papers' formulas with plain numpy loops (moments by
hand, every CSCV split enumerated), independently of qt.validation.overfitting.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

GAMMA = 0.5772156649015329
TINY = ("data=synthetic", "data.n_assets=20", "data.n_days=300", "report.progress=false", "report.top_n=0")


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    cwd = tmp_path_factory.mktemp("grid")
    proc = subprocess.run(
        [sys.executable, "-m", "qt", "run", "-m", *TINY, "strategy.params.lookback=42,63,126",
         "strategy.params.quantile=0.1,0.2", "hydra.sweep.dir=sweep"],
        cwd=cwd, capture_output=True, text=True, timeout=300, check=False, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return cwd / "sweep", proc


def _returns_by_hand(sweep: Path) -> tuple[list[str], np.ndarray]:
    frames, starts = {}, []
    for run in sorted(p.name for p in sweep.iterdir() if (p / "equity.parquet").is_file()):
        eq = pd.read_parquet(sweep / run / "equity.parquet").set_index("timestamp")
        frames[run] = eq["return"]
        starts.append(eq.index[eq["turnover"] > 0][0])
    table = pd.concat(frames, axis=1, join="inner")
    table = table[table.index >= max(starts)]
    return list(table.columns), table.to_numpy()


def _sharpe(x: np.ndarray) -> float:
    return float(x.mean() / x.std(ddof=1))


def _dsr_by_hand(r: np.ndarray, sharpes: list[float]) -> float:
    n = len(sharpes)
    v = float(np.var(sharpes, ddof=1))
    sr0 = math.sqrt(v) * ((1 - GAMMA) * norm.ppf(1 - 1 / n) + GAMMA * norm.ppf(1 - 1 / (n * math.e)))
    d = r - r.mean()
    m2, m3, m4 = (d**2).mean(), (d**3).mean(), (d**4).mean()
    skew, kurt = m3 / m2**1.5, m4 / m2**2
    sr = _sharpe(r)
    return float(norm.cdf((sr - sr0) * math.sqrt(len(r) - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)))


def _pbo_by_hand(m: np.ndarray, s: int = 16) -> float:
    size = len(m) // s
    m = m[len(m) - size * s :]
    blocks = [m[i * size : (i + 1) * size] for i in range(s)]
    n, overfit, splits = m.shape[1], 0, 0
    for chosen in combinations(range(s), s // 2):
        train = np.vstack([blocks[i] for i in chosen])
        test = np.vstack([blocks[i] for i in range(s) if i not in chosen])
        is_sr = [_sharpe(train[:, j]) for j in range(n)]
        oos_sr = [_sharpe(test[:, j]) for j in range(n)]
        best = int(np.argmax(is_sr))
        rank = 1 + sum(o < oos_sr[best] for o in oos_sr)
        w = rank / (n + 1)
        overfit += math.log(w / (1 - w)) <= 0
        splits += 1
    return overfit / splits


def test_leaderboard_dsr_and_pbo_equal_a_hand_worked_computation(grid) -> None:
    sweep, _ = grid
    runs, returns = _returns_by_hand(sweep)
    assert len(runs) == 6 and len(returns) > 100
    sharpes = [_sharpe(returns[:, j]) for j in range(6)]
    board = pd.read_csv(sweep / "leaderboard.csv").set_index("run")
    for j, run in enumerate(runs):
        assert board.loc[int(run), "dsr"] == pytest.approx(_dsr_by_hand(returns[:, j], sharpes), rel=1e-9, abs=1e-12)
    summary = json.loads((sweep / "overfitting.json").read_text())
    assert summary["n_trials"] == 6 and summary["n_bars"] == len(returns)
    assert summary["pbo"] == pytest.approx(_pbo_by_hand(returns), abs=1e-12)


def test_the_console_and_page_say_the_verdict(grid) -> None:
    sweep, proc = grid
    summary = json.loads((sweep / "overfitting.json").read_text())
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("overfitting:")]
    assert len(lines) == 1, proc.stdout
    assert f"PBO {summary['pbo']:.2f}" in lines[0] and "6 configs" in lines[0]
    assert len(lines[0]) <= 80  # fits the 80-column console table above it
    assert summary["verdict"] == lines[0]
    html = (sweep / "leaderboard.html").read_text()
    assert "probability of backtest overfitting" in html and f"{summary['pbo']:.3f}" in html


def test_a_sweep_report_rebuild_keeps_the_measure_and_draws_lean_top_runs(grid) -> None:
    sweep, _ = grid
    before = json.loads((sweep / "overfitting.json").read_text())
    assert not list(sweep.glob("*/weights.parquet"))  # the sweep's runs are lean (top_n=0)
    proc = subprocess.run(
        [sys.executable, "-m", "qt", "sweep-report", str(sweep), "--sort-by", "calmar", "--top", "2"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    after = json.loads((sweep / "overfitting.json").read_text())
    assert {k: v for k, v in after.items() if k not in ("best_run", "verdict", "meaning")} == {
        k: v for k, v in before.items() if k not in ("best_run", "verdict", "meaning")
    }  # the same runs and returns: only the best run (now by calmar) may differ
    assert "overfitting:" in proc.stdout
    board = pd.read_csv(sweep / "leaderboard.csv")
    top = [str(r) for r in board["run"].head(2)]
    assert sorted(p.parent.name for p in sweep.glob("*/tearsheet.html")) == sorted(top)  # made full, then drawn
    assert all((sweep / r / "weights.parquet").is_file() for r in top)


@pytest.mark.parametrize(
    ("dsr", "pbo", "reading"),
    [
        (0.99, 0.10, "holds up"),
        (0.99, 0.70, "choice overfit"),
        (0.30, 0.10, "likely overfit"),
        (0.80, 0.60, "likely overfit"),
        (0.80, 0.30, "inconclusive"),
        (0.99, None, "holds up"),
    ],
)
def test_the_verdict_reads_dsr_and_pbo_together(dsr, pbo, reading) -> None:
    from qt.evaluation.sweep_overfitting import SweepOverfitting

    o = SweepOverfitting(
        runs=("0", "1"), sharpe={"0": 0.1, "1": 0.05}, dsr={"0": dsr, "1": 0.2}, n_trials=2, n_bars=500,
        start="2020-01-01", end="2021-12-31", trials_variance=0.001, expected_max_sharpe=0.02, pbo=pbo,
        partitions=16, pbo_note=None if pbo is not None else "too few bars",
    )  # fmt: skip
    line = o.verdict("0")
    assert line.endswith(f" - {reading}") and f"DSR {dsr:.2f} (best run 0, 2 configs)" in line
    assert ("PBO -" in line) == (pbo is None)
