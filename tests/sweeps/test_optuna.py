"""qt's Optuna sweeper: it finds a planted best lookback, resumes a study, shares one on PostgreSQL.

The planted data: each asset's return is ``r[t] = a * r[t - L] + noise`` (L = 60). With
``skip=0`` and daily rebalancing, xmom's score at t is the sum of the last ``lookback``
returns; it holds the predictive term ``r[t + 1 - L]`` only when ``lookback >= L``, and
more terms only add noise, so the Sharpe ratio is ~0 below 60 and peaks at exactly 60.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import numpy as np
import pandas as pd
import pytest

from .conftest import TINY, leaderboard, qt

PLANTED = 60


def _planted(path, *, n_assets: int = 24, n_days: int = 520, lag: int = PLANTED, a: float = 0.9) -> None:
    rng = np.random.default_rng(7)
    noise = rng.normal(0.0, 0.01, size=(n_days + 4 * lag, n_assets))
    r = np.zeros_like(noise)
    for t in range(len(r)):
        r[t] = noise[t] + (a * r[t - lag] if t >= lag else 0.0)
    r = r[4 * lag :]
    close = 100.0 * np.cumprod(1.0 + r, axis=0)
    days = pd.bdate_range("2015-01-02", periods=n_days)
    symbols = [f"S{i:02d}" for i in range(n_assets)]
    frame = pd.DataFrame(
        {
            "timestamp": np.repeat(days, n_assets),
            "symbol": np.tile(symbols, n_days),
            "close": close.ravel(),
        }
    )
    for col in ("open", "high", "low"):
        frame[col] = frame["close"]
    frame["volume"] = 1e6
    frame.to_parquet(path, index=False)


def test_finds_the_planted_lookback(tmp_path) -> None:
    _planted(tmp_path / "planted.parquet")
    qt(
        "run", "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=14", "hydra.sweeper.seed=3",
        "data=parquet", "data.path=planted.parquet", "strategy.params.skip=0", "strategy.params.frequency=daily",
        "report.progress=false", "report.top_n=1", "objective=sharpe", "hydra.sweep.dir=study",
        "strategy.params.lookback=int(interval(30,120))", cwd=tmp_path, timeout=240,
    )  # fmt: skip
    summary = json.loads((tmp_path / "study" / "optuna.json").read_text())
    assert summary["n_trials"] == 14 and summary["objective"] == "sharpe"
    best = summary["best"]["params"]["strategy.params.lookback"]
    assert PLANTED <= best <= PLANTED + 12, summary["best"]
    done = [t for t in summary["trials"] if t["state"] == "COMPLETE"]
    below = [t["value"] for t in done if t["params"]["strategy.params.lookback"] < PLANTED]
    assert below and max(below) < summary["best"]["value"] / 2
    board = leaderboard(tmp_path / "study")
    assert board.loc[summary["best"]["number"], "rank"] == 1  # the leaderboard ranks by the objective
    html = (tmp_path / "study" / "leaderboard.html").read_text()
    assert "optimization history" in html.lower() and "parameter importances" in html.lower()


def test_resume_continues_the_trial_count(tmp_path) -> None:
    args = ("run", "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler=random",
            *TINY, "report.top_n=0", "strategy.params.lookback=int(interval(40,120))")  # fmt: skip
    qt(*args, cwd=tmp_path)
    (study_dir,) = (tmp_path / "outputs" / "optuna").iterdir()  # named by the command: the same on a rerun
    qt(*args, cwd=tmp_path)
    assert [p.name for p in (tmp_path / "outputs" / "optuna").iterdir()] == [study_dir.name]
    summary = json.loads((study_dir / "optuna.json").read_text())
    assert [t["number"] for t in summary["trials"]] == [0, 1, 2, 3]
    assert sorted(int(p.parent.name) for p in study_dir.glob("*/metrics.json")) == [0, 1, 2, 3]
    assert len(leaderboard(study_dir)) == 4


def test_failed_trials_are_recorded(tmp_path) -> None:
    # lookback <= skip (21) fails validation: those trials fail, the study goes on
    qt(
        "run", "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=4", "hydra.sweeper.sampler=grid",
        *TINY, "report.top_n=0", "strategy.params.lookback=choice(10,20,63,126)", "hydra.sweep.dir=study",
        cwd=tmp_path,
    )  # fmt: skip
    summary = json.loads((tmp_path / "study" / "optuna.json").read_text())
    states = {t["params"]["strategy.params.lookback"]: t["state"] for t in summary["trials"]}
    assert states == {10: "FAIL", 20: "FAIL", 63: "COMPLETE", 126: "COMPLETE"}
    assert all("must be < lookback" in t["error"] for t in summary["trials"] if t["state"] == "FAIL")
    board = leaderboard(tmp_path / "study")
    assert sorted(board["status"]) == ["failed", "failed", "ok", "ok"]


@pytest.fixture
def study_db(postgres: str):
    """A fresh PostgreSQL database for one study, dropped afterwards."""
    import psycopg

    name = f"qt_optuna_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres, autocommit=True, connect_timeout=5) as con:
        con.execute(f"CREATE DATABASE {name}")
    base = postgres.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(postgres, autocommit=True, connect_timeout=5) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_two_processes_share_a_postgres_study(tmp_path, study_db) -> None:
    import optuna

    args = [sys.executable, "-m", "qt", "run", "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=3",
            f"hydra.sweeper.storage={study_db}", "hydra.sweeper.study_name=shared", "hydra.sweeper.sampler=random",
            *TINY, "report.top_n=0", "strategy.params.lookback=int(interval(40,200))"]  # fmt: skip
    procs = [
        subprocess.Popen(
            [*args, f"hydra.sweep.dir=p{i}"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for i in range(2)
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, out.decode()[-3000:]
    study = optuna.load_study(study_name="shared", storage=study_db.replace("postgresql://", "postgresql+psycopg://"))
    numbers = [t.number for t in study.trials]
    assert sorted(numbers) == list(range(6))  # distinct trial numbers, total = 3 + 3
    mine = [sorted(int(p.parent.name) for p in (tmp_path / f"p{i}").glob("*/metrics.json")) for i in range(2)]
    assert sorted(mine[0] + mine[1]) == list(range(6)) and len(mine[0]) == len(mine[1]) == 3
