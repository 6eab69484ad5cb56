"""The leaderboard of a real 4-run sweep in which one run fails, and `qt sweep-report` / `qt tearsheet`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
SMALL = ("data=synthetic", "data.n_assets=25", "data.n_days=400")


def qt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qt", *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    sweep_dir = tmp_path_factory.mktemp("sweep")
    # lookback=-3 fails validation; the other three run
    out = qt(
        "run", "-m", *SMALL, "strategy.params.lookback=42,63,-3,126", "report.top_n=2", f"hydra.sweep.dir={sweep_dir}"
    )
    return sweep_dir, out


def test_the_sweep_continues_past_a_failed_run(sweep):
    sweep_dir, out = sweep
    assert out.returncode == 0, out.stderr
    assert "run 2 failed: strategy." in out.stderr and "got -3" in out.stderr
    error = json.loads((sweep_dir / "2" / "error.json").read_text())
    assert error["type"] == "ConfigError" and "got -3" in error["error"]
    assert not (sweep_dir / "2" / "equity.parquet").exists()
    top = list(pd.read_csv(sweep_dir / "leaderboard.csv")["run"].astype(str).head(2))  # report.top_n=2
    for ok in ("0", "1", "3"):  # lean sweep outputs: every run keeps metrics and equity, the top runs the rest
        assert (sweep_dir / ok / "metrics.json").exists() and (sweep_dir / ok / "equity.parquet").exists()
        assert (sweep_dir / ok / "performance.json").exists() == (ok in top), ok


def test_leaderboard_ranks_runs_and_lists_the_failed_one(sweep):
    sweep_dir, out = sweep
    board = pd.read_parquet(sweep_dir / "leaderboard.parquet")
    csv = pd.read_csv(sweep_dir / "leaderboard.csv")
    assert len(board) == len(csv) == 4
    assert list(board["status"]) == ["ok", "ok", "ok", "failed"]
    ranked = board[board["status"] == "ok"]
    metrics = {r: json.loads((sweep_dir / r / "metrics.json").read_text())["sharpe"] for r in ("0", "1", "3")}
    assert list(ranked["run"]) == sorted(metrics, key=lambda r: -metrics[r])
    assert list(ranked["rank"]) == [1, 2, 3]
    assert ranked["sharpe"].tolist() == pytest.approx(sorted(metrics.values(), reverse=True))
    failed = board[board["status"] == "failed"].iloc[0]
    assert failed["run"] == "2" and "got -3" in failed["error"] and pd.isna(failed["rank"])
    # overrides are columns, and every run's directory is listed
    assert {"data", "data.n_assets", "data.n_days", "strategy.params.lookback"} <= set(board.columns)
    assert sorted(board["strategy.params.lookback"].astype(str)) == ["-3", "126", "42", "63"]
    assert set(board["run_dir"]) == {str(sweep_dir / r) for r in "0123"}
    # the console shows the ranked table, the failure included
    assert "leaderboard - 4 runs ranked by sharpe" in out.stdout and "got -3" in out.stdout


def test_tearsheets_only_for_the_top_runs_and_linked_from_the_html(sweep):
    sweep_dir, _ = sweep
    board = pd.read_parquet(sweep_dir / "leaderboard.parquet")
    top = list(board["run"].head(2))
    for run in "0123":
        assert (sweep_dir / run / "tearsheet.html").exists() == (run in top), run
    html = (sweep_dir / "leaderboard.html").read_text()
    for run in top:
        assert f'href="{run}/tearsheet.html"' in html
    assert "got -3" in html and "http" not in html.replace("http://www.w3.org/2000/svg", "")


def test_sweep_report_rebuilds_the_leaderboard(sweep, tmp_path):
    sweep_dir, _ = sweep
    (sweep_dir / "leaderboard.csv").unlink()
    out = qt("sweep-report", str(sweep_dir), "--sort-by", "max_drawdown", "--top", "0")
    assert out.returncode == 0, out.stderr
    board = pd.read_csv(sweep_dir / "leaderboard.csv")
    ranked = board[board["status"] == "ok"]["max_drawdown"].tolist()
    assert ranked == sorted(ranked, reverse=True)  # the shallowest drawdown (closest to 0) first
    assert "ranked by max_drawdown" in out.stdout


def test_sweep_report_errors_are_one_line(tmp_path, sweep):
    missing = qt("sweep-report", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no such directory" in missing.stderr and "Traceback" not in missing.stderr
    empty = qt("sweep-report", str(tmp_path))
    assert empty.returncode == 2 and "no runs found" in empty.stderr
    bad = qt("sweep-report", str(sweep[0]), "--sort-by", "sharp")
    assert bad.returncode == 2 and "--sort-by: 'sharp' is not a metric of these runs" in bad.stderr


def test_qt_tearsheet_rerenders_a_finished_run(sweep):
    sweep_dir, _ = sweep
    run = sweep_dir / str(pd.read_csv(sweep_dir / "leaderboard.csv")["run"].iloc[0])  # a top run: full files
    (run / "tearsheet.html").unlink(missing_ok=True)
    out = qt("tearsheet", str(run))
    assert out.returncode == 0, out.stderr
    assert (run / "tearsheet.html").stat().st_size > 10_000
    failed = qt("tearsheet", str(sweep_dir / "2"))
    assert failed.returncode == 2
    lines = failed.stderr.strip().splitlines()  # one line naming the failed run's folder
    assert len(lines) == 1 and str(sweep_dir / "2") in lines[0] and "Traceback" not in failed.stderr


def test_a_single_failing_run_still_exits_2_with_one_message(tmp_path):
    out = qt("run", *SMALL, "strategy.params.lookback=-3", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ERROR: strategy.") and "lookback" in last and "-3" in last
    assert "Traceback" not in out.stderr and not (tmp_path / "error.json").exists()
