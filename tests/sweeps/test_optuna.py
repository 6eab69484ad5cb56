"""qt's Optuna sweeper: it finds a planted best lookback, resumes a study, shares one on PostgreSQL.

The planted data: each asset's return is ``r[t] = a * r[t - L] + noise`` (L = 60). With
``skip=0`` and daily rebalancing, xmom's score at t is the sum of the last ``lookback``
returns; it holds the predictive term ``r[t + 1 - L]`` only when ``lookback >= L``, and
more terms only add noise, so the Sharpe ratio is ~0 below 60 and peaks at exactly 60.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

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
    best_dir = tmp_path / "study" / str(summary["best"]["number"])  # the top trial gets its full files and page
    assert (best_dir / "tearsheet.html").is_file() and (best_dir / "weights.parquet").is_file()


def test_resume_continues_the_trial_count(tmp_path) -> None:
    args = ("run", "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler=random",
            *TINY, "report.top_n=0", "strategy.params.lookback=int(interval(40,120))")  # fmt: skip
    qt(*args, cwd=tmp_path)
    (study_dir,) = (tmp_path / "outputs" / "optuna").iterdir()  # named by the command: the same on a rerun
    again = qt(*args, cwd=tmp_path)
    assert "Warning" not in again.stderr, again.stderr  # Optuna's heartbeat warnings stay out of the console
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
    for i in range(2):  # the deflated Sharpe ratio counts every trial of the study, the other process's too
        summary = json.loads((tmp_path / f"p{i}" / "optuna.json").read_text())
        completed = sum(t["state"] == "COMPLETE" for t in summary["trials"])
        overfitting = json.loads((tmp_path / f"p{i}" / "overfitting.json").read_text())
        assert overfitting["n_trials"] == completed >= 3 and len(overfitting["runs"]) == 3


def _running_with_heartbeat(db: Path) -> list[int]:
    """Numbers of RUNNING trials that have beaten at least once (read while the sweep writes)."""
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            rows = con.execute(
                "SELECT t.number FROM trials t JOIN trial_heartbeats h ON h.trial_id = t.trial_id "
                "WHERE t.state = 'RUNNING'"
            ).fetchall()
    except sqlite3.Error:  # tables not created yet, or locked for a moment
        return []
    return [int(r[0]) for r in rows]


def test_a_killed_trial_is_failed_when_the_study_resumes(tmp_path) -> None:
    import optuna

    args = [sys.executable, "-m", "qt", "run", "-m", "hydra/sweeper=optuna", "hydra.sweeper.sampler=random",
            "hydra.sweeper.heartbeat_interval=1", "hydra.sweeper.grace_period=2", "hydra.sweep.dir=study",
            "hydra.sweeper.study_name=killed", "data=synthetic", "data.n_assets=150", "data.n_days=1500",
            "report.progress=false", "report.top_n=0", "strategy.params.lookback=int(interval(40,120))"]  # fmt: skip
    proc = subprocess.Popen(
        [*args, "hydra.sweeper.n_trials=50"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    db = tmp_path / "study" / "optuna.db"
    deadline = time.monotonic() + 120
    try:
        while not (running := _running_with_heartbeat(db)) and time.monotonic() < deadline:
            assert proc.poll() is None, "the sweep ended before a trial could be killed"
            time.sleep(0.05)
        assert running, "no trial was seen RUNNING within 120 s"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole sweep process, mid-trial
        proc.wait(timeout=30)
    storage = f"sqlite:///{db}"
    killed = running[0]
    assert optuna.load_study(study_name="killed", storage=storage).trials[killed].state.name == "RUNNING"
    time.sleep(3)  # longer than the grace period: its heartbeat is stale by now
    out = subprocess.run([*args, "hydra.sweeper.n_trials=1"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=180, check=False)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    trials = optuna.load_study(study_name="killed", storage=storage).trials
    assert not [t.number for t in trials if t.state.name == "RUNNING"]
    assert trials[killed].state.name == "FAIL" and "no heartbeat" in trials[killed].user_attrs["error"]
    assert trials[-1].number == len(trials) - 1 and trials[-1].state.name == "COMPLETE"  # the study went on
    summary = json.loads((tmp_path / "study" / "optuna.json").read_text())
    assert summary["trials"][killed]["state"] == "FAIL"
    assert f"trial {killed}: its process stopped" in out.stderr + out.stdout


MARKER = "pw-Mk7Qz9"  # a password planted in storage URLs: it must appear in no file and no output
BAD_INPUTS = {
    "n_trials=0": (["hydra.sweeper.n_trials=0"], "hydra.sweeper.n_trials: must be >= 1, got 0"),
    "n_trials=-1": (["hydra.sweeper.n_trials=-1"], "hydra.sweeper.n_trials: must be >= 1, got -1"),
    "n_jobs=0": (["hydra.sweeper.n_jobs=0"], "hydra.sweeper.n_jobs: must be >= 1 or -1"),
    "seed=-5": (["hydra.sweeper.seed=-5"], "hydra.sweeper.seed: must be >= 0, got -5"),
    "seed=abc": (["hydra.sweeper.seed=abc"], "hydra.sweeper.seed: must be a whole number >= 0, got 'abc'"),
    "grace<interval": (["hydra.sweeper.grace_period=5"], "hydra.sweeper.grace_period: must be >= 11, got 5"),
    "grid+interval": (["hydra.sweeper.sampler=grid"], "sampler=grid needs choices or range(start,stop,step)"),
    "closed port": ([f"hydra.sweeper.storage=postgresql://u:{MARKER}@127.0.0.1:{{closed}}/db"], "Connection refused"),
    "silent port": ([f"hydra.sweeper.storage=postgresql://u:{MARKER}@127.0.0.1:{{silent}}/db"], "timeout"),
    "not a URL": (["hydra.sweeper.storage=just-a-name"], "'just-a-name' is not a database URL"),
    "unknown scheme": ([f"hydra.sweeper.storage=foo://u:{MARKER}@h/db"], "unknown scheme 'foo'"),
    "unwritable sqlite": (["hydra.sweeper.storage=sqlite:///{file}/optuna.db"], "is a file, not a folder"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_optuna_settings_are_one_message_exit_2_within_30_s(tmp_path, case) -> None:
    from qt.testing.servers import silent_server

    from .conftest import free_port

    extra, expected = BAD_INPUTS[case]
    (tmp_path / "a-file").write_text("not a folder")
    with silent_server() as silent:
        extra = [e.format(closed=free_port(), silent=silent, file=tmp_path / "a-file") for e in extra]
        start = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "qt", "run", "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", *TINY,
             "hydra.sweep.dir=study", "strategy.params.lookback=int(interval(40,120))", *extra],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        took = time.monotonic() - start
    assert out.returncode == 2, out.stdout + out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and expected in lines[0], out.stderr
    key = "strategy.params.lookback" if case == "grid+interval" else "hydra.sweeper"
    assert lines[0].startswith(f"ERROR: {key}"), lines[0]
    assert "Traceback" not in out.stdout + out.stderr and took <= 30, took
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not [p for p in written if MARKER in p.read_text(errors="replace")]
    assert MARKER not in out.stdout + out.stderr
    assert not list(tmp_path.rglob("*/metrics.json"))  # nothing ran


def test_the_storage_password_is_written_nowhere(tmp_path, study_db) -> None:
    user_url = study_db.replace("://", f"://postgres:{MARKER}@", 1) if "@" not in study_db else study_db
    if "@" in study_db:  # postgresql://USER@HOST/DB: put the marker in as the password
        scheme, rest = study_db.split("://", 1)
        user, host = rest.split("@", 1)
        user_url = f"{scheme}://{user.split(':', 1)[0]}:{MARKER}@{host}"
    out = subprocess.run(
        [sys.executable, "-m", "qt", "run", "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2",
         f"hydra.sweeper.storage={user_url}", "hydra.sweeper.sampler=random", *TINY, "report.top_n=1",
         "hydra.sweep.dir=study", "strategy.params.lookback=int(interval(40,120))"],
        cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr  # trust authentication: the password is not checked
    files = [p for p in (tmp_path / "study").rglob("*") if p.is_file() and p.suffix != ".parquet"]
    assert (tmp_path / "study" / "multirun.yaml") in files and len(files) > 10
    assert not [str(p) for p in files if MARKER in p.read_text(errors="replace")]
    assert MARKER not in out.stdout + out.stderr
    multirun = (tmp_path / "study" / "multirun.yaml").read_text()
    assert "<redacted>" in multirun and multirun.count("hydra.sweeper.storage=") == 1


def _states(db: Path) -> dict[int, str]:
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return {int(n): str(s) for n, s in con.execute("SELECT number, state FROM trials").fetchall()}
    except sqlite3.Error:
        return {}


def test_ctrl_c_ends_a_study_with_one_line_and_the_finished_trials_ranked(tmp_path) -> None:
    import optuna

    args = [sys.executable, "-m", "qt", "run", "-m", "hydra/sweeper=optuna", "hydra.sweeper.sampler=random",
            "hydra.sweep.dir=study", "hydra.sweeper.study_name=stopped", "hydra.sweeper.n_trials=50",
            "data=synthetic", "data.n_assets=150", "data.n_days=1500", "report.progress=false",
            "strategy.params.lookback=int(interval(40,120))"]  # fmt: skip
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = tmp_path / "study" / "optuna.db"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        states = _states(db)
        if "COMPLETE" in states.values() and "RUNNING" in states.values():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # Ctrl-C, mid-trial
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted: the study stopped asking for trials"), err
    assert "Traceback" not in out + err
    trials = optuna.load_study(study_name="stopped", storage=f"sqlite:///{db}").trials
    assert not [t.number for t in trials if t.state.name == "RUNNING"]
    done = sorted(t.number for t in trials if t.state.name == "COMPLETE")
    stopped = [t for t in trials if t.state.name == "FAIL"]
    assert done and len(stopped) == 1 and stopped[0].user_attrs["error"].startswith("interrupted")
    assert f"trial {stopped[0].number} failed as interrupted" in lines[0]
    board = leaderboard(tmp_path / "study")
    assert sorted(board.index[board["status"] == "ok"]) == done  # the finished trials are ranked
    assert json.loads((tmp_path / "study" / "optuna.json").read_text())["n_trials"] == len(trials)
