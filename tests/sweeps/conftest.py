"""Helpers for sweep tests: real `qt run -m` processes on tiny synthetic data in a temporary folder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

# 20 assets x 300 days: a run takes a fraction of a second
TINY = ("data=synthetic", "data.n_assets=20", "data.n_days=300", "report.progress=false")
METRICS = [
    "total_return",
    "cagr",
    "ann_vol",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "annual_turnover",
    "n_trades",
]


def qt(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real `qt` CLI; fail with its output when it exits non-zero."""
    proc = subprocess.run(
        [sys.executable, "-m", "qt", *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"qt {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def leaderboard(sweep_dir: Path) -> pd.DataFrame:
    """The sweep's leaderboard.csv, one row per run, indexed by the run folder's name."""
    table = pd.read_csv(sweep_dir / "leaderboard.csv")
    return table.set_index("run").sort_index()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ray_env(tmp_path_factory: pytest.TempPathFactory):
    """Environment and a short temp folder for a real Ray (unix socket paths must stay under 107 characters)."""
    pytest.importorskip("ray")
    short = Path(f"/tmp/qtray-{os.getpid()}-{time.monotonic_ns() % 10**8}")
    short.mkdir()
    yield {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}, short
    shutil.rmtree(short, ignore_errors=True)
