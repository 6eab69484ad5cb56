"""Lean sweep runs: config, manifest, metrics and equity; `qt rerun RUN --full` adds the rest byte for byte.

The same 3-run sweep is made twice on tiny data: lean (the default) and with
``report.sweep_outputs=full`` (every run writes every file, as before). Each lean run's
full files, materialized after the sweep (the top run) or by ``qt rerun RUN --full``,
must equal the full sweep's files byte for byte.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from .conftest import METRICS, TINY, leaderboard, qt

SWEEP = (*TINY, "strategy.params.lookback=42,63,84", "report.top_n=1")
LEAN = {"equity.parquet", "metrics.json", "manifest.json", "run.log"}
NOT_COMPARED = {"manifest.json", "run.log"}  # timings, log lines


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    cwd = tmp_path_factory.mktemp("lean")
    qt("run", "-m", *SWEEP, "hydra.sweep.dir=lean", cwd=cwd)
    qt("run", "-m", *SWEEP, "report.top_n=3", "report.sweep_outputs=full", "hydra.sweep.dir=full", cwd=cwd)
    return cwd / "lean", cwd / "full"


def _files(run_dir: Path) -> set[str]:
    return {p.name for p in run_dir.iterdir() if p.is_file()}


def _masked(run_dir: Path, name: str) -> bytes:
    """A file's bytes with the run's folder (as the tearsheet shows it, absolute or relative) masked."""
    data = (run_dir / name).read_bytes()
    for shown in (str(run_dir.resolve()), f"{run_dir.parent.name}/{run_dir.name}"):
        data = data.replace(shown.encode(), b"<RUN_DIR>")
    return data


def _assert_same_as_full(lean: Path, full: Path) -> None:
    assert _files(lean) == _files(full)
    for name in sorted(_files(full) - NOT_COMPARED):
        if name == "tearsheet.html":
            assert _masked(lean, name) == _masked(full, name), name
        else:
            assert (lean / name).read_bytes() == (full / name).read_bytes(), name


def test_lean_runs_keep_what_the_leaderboard_needs(sweeps: tuple[Path, Path]) -> None:
    lean, full = sweeps
    board, reference = leaderboard(lean), leaderboard(full)
    pd.testing.assert_frame_equal(board[METRICS], reference[METRICS])
    top = str(board.loc[board["rank"] == 1].index[0])
    for run in board.index.astype(str):
        if run != top:
            assert _files(lean / run) == LEAN, run  # no weights, orders, fills, decisions, tearsheet
        assert (lean / run / ".hydra" / "config.yaml").is_file()
    assert (full / "0" / "weights.parquet").is_file()


def test_top_run_is_materialized_after_the_sweep(sweeps: tuple[Path, Path]) -> None:
    lean, full = sweeps
    board = leaderboard(lean)
    top = str(board.loc[board["rank"] == 1].index[0])
    _assert_same_as_full(lean / top, full / top)


def test_rerun_full_is_byte_identical_to_a_full_run(sweeps: tuple[Path, Path]) -> None:
    lean, full = sweeps
    board = leaderboard(lean)
    run = str(board.loc[board["rank"] == 3].index[0])
    assert "weights.parquet" not in _files(lean / run)
    out = qt("rerun", str(lean / run), "--full", cwd=lean.parent)
    assert "byte-identical" in out.stdout and "weights.parquet" in out.stdout
    _assert_same_as_full(lean / run, full / run)


def test_rerun_full_refuses_a_run_whose_results_differ(sweeps: tuple[Path, Path], tmp_path: Path) -> None:
    lean, _ = sweeps
    board = leaderboard(lean)
    run = str(board.loc[board["rank"] == 2].index[0])
    copy = tmp_path / run
    subprocess.run(["cp", "-r", str(lean / run), str(copy)], check=True)
    (copy / "metrics.json").write_text((copy / "metrics.json").read_text().replace('"n_trades": ', '"n_trades": 1'))
    before = _files(copy)
    proc = subprocess.run(
        [sys.executable, "-m", "qt", "rerun", str(copy), "--full"],
        cwd=lean.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "differs from the recorded run in metrics.json" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert _files(copy) == before  # nothing added


def test_notebook_api_materializes_a_lean_run_on_demand(sweeps: tuple[Path, Path], tmp_path: Path) -> None:
    import os

    import qt as qt_api

    lean, full = sweeps
    run = str(leaderboard(lean).query("rank == 2").index[0])
    copy = tmp_path / run
    subprocess.run(["cp", "-r", str(lean / run), str(copy)], check=True)
    before = os.getcwd()
    try:
        os.chdir(lean.parent)  # where the sweep ran (the manifest's cwd)
        fills = qt_api.load(copy).fills
    finally:
        os.chdir(before)
    assert fills.equals(pd.read_parquet(full / run / "fills.parquet"))
    assert (copy / "weights.parquet").read_bytes() == (full / run / "weights.parquet").read_bytes()
