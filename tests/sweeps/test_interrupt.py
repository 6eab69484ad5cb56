"""Ctrl-C (SIGINT to a real `qt` process) ends a backtest and a sweep cleanly: one line, exit 130.

A backtest leaves no result file (results appear only when complete). A sweep stops
launching, abandons the running run(s) and writes the leaderboard of the finished ones;
with joblib the signal goes to the main process alone, or to the whole process group as
a terminal sends it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

# runs of a few seconds each, so the signal lands while one is running
SLOW = ("data=synthetic", "data.n_assets=400", "data.n_days=6000", "report.progress=false", "cache=off")
RESULTS = {"equity.parquet", "metrics.json", "manifest.json", "weights.parquet", "tearsheet.html"}


def _interrupt(
    args: list[str], cwd: Path, ready: Path | list[Path], *, group: bool = False
) -> subprocess.CompletedProcess:
    """Start `qt ARGS`, wait until a ``ready`` file exists, send SIGINT; its exit code and output."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "qt", *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives a foreground command
    )
    wanted = ready if isinstance(ready, list) else [ready]
    deadline = time.monotonic() + 240
    try:
        while not any(p.exists() for p in wanted):
            assert proc.poll() is None, f"qt ended before the signal: {proc.communicate()}"
            assert time.monotonic() < deadline, "timed out waiting for the run to start"
            time.sleep(0.05)
        if group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("interrupted: ")
    return lines[0]


def _no_staging(folder: Path) -> None:
    assert not [p for p in folder.rglob("*") if p.name in (".partial", ".rerun")]


def test_backtest(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = _interrupt(["run", *SLOW, f"hydra.run.dir={run}"], tmp_path, run / ".hydra" / "config.yaml")
    line = _one_line(proc)
    assert str(run) in line and "stopped before writing its results" in line
    assert not RESULTS & {p.name for p in run.iterdir()}  # nothing half-written
    _no_staging(run)


def _check_sweep(line: str, sweep: Path) -> None:
    board = pd.read_csv(sweep / "leaderboard.csv")
    finished = board[board["status"] == "ok"]
    assert len(finished) >= 1 and finished["sharpe"].notna().all()
    for run in finished["run"]:
        assert (sweep / str(run) / "metrics.json").is_file()
    abandoned = [d.name for d in sweep.iterdir() if d.is_dir() and not (d / "metrics.json").is_file()]
    assert "stopped launching" in line
    if abandoned:  # the runs under way when the signal came are named
        assert "abandoned" in line and all(a in line for a in abandoned)
    else:  # joblib: both workers may have just finished their runs when the signal came
        assert "no run was running" in line
    assert f"the leaderboard of the {len(finished)} finished run" in line
    _no_staging(sweep)
    assert len([d for d in sweep.iterdir() if d.is_dir()]) < 6  # launching stopped


def test_basic_sweep(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = ["run", "-m", *SLOW, "strategy.params.lookback=42,63,84,105,126,147", f"hydra.sweep.dir={sweep}"]
    proc = _interrupt(args, tmp_path, sweep / "1" / ".hydra" / "config.yaml")  # run 0 done, run 1 running
    line = _one_line(proc)
    _check_sweep(line, sweep)
    assert "run 1 abandoned" in line


@pytest.mark.parametrize("group", [False, True], ids=["main-process", "process-group"])
def test_joblib_sweep(tmp_path: Path, group: bool) -> None:
    sweep = tmp_path / "sweep"
    args = [
        "run", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *SLOW,
        "strategy.params.lookback=42,63,84,105,126,147", f"hydra.sweep.dir={sweep}",
    ]  # fmt: skip
    ready = [sweep / str(i) / "metrics.json" for i in range(6)]
    line = _one_line(_interrupt(args, tmp_path, ready, group=group))
    _check_sweep(line, sweep)


def test_a_ctrl_c_that_omegaconf_wrapped_as_a_config_error_is_still_an_interrupt() -> None:
    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigAttributeError

    from qt.errors import interrupted_inside

    cfg = OmegaConf.create({"a": 1})
    OmegaConf.set_struct(cfg, True)
    try:
        try:
            raise KeyboardInterrupt  # the signal, landing while OmegaConf handles a node
        except KeyboardInterrupt:
            _ = cfg.defaults  # OmegaConf's own error, raised while the interrupt is being handled
    except ConfigAttributeError as exc:
        assert interrupted_inside(exc)
    assert not interrupted_inside(ConfigAttributeError("defaults"))
