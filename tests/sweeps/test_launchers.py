"""Every launcher gives the same leaderboard, and a failing run is recorded without stopping the sweep.

The sweep has 6 runs: lookback 21, 63, 126 x quantile 0.2, 0.3. xmom skips the last 21
bars, so lookback=21 is invalid ("skip (21) must be < lookback (21)"): those two runs
fail in every launcher, and the four others must give identical numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from .conftest import METRICS, TINY, leaderboard, qt

SWEEP = (*TINY, "strategy.params.lookback=21,63,126", "strategy.params.quantile=0.2,0.3", "report.top_n=0")


@pytest.fixture(scope="module")
def basic(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    cwd = tmp_path_factory.mktemp("basic")
    qt("run", "-m", *SWEEP, "hydra.sweep.dir=sweep", cwd=cwd)
    return leaderboard(cwd / "sweep")


def _check(board: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert len(board) == 6
    failed = board[board["status"] == "failed"]
    assert sorted(failed["strategy.params.lookback"]) == [21, 21]
    assert failed["error"].str.contains("must be < lookback").all()
    ok = board[board["status"] == "ok"]
    assert len(ok) == 4 and ok["sharpe"].notna().all()
    np.testing.assert_array_equal(ok[METRICS].to_numpy(), reference.loc[ok.index, METRICS].to_numpy())
    # the same runs under the same folder numbers, with the same overrides
    pd.testing.assert_frame_equal(
        board[["strategy.params.lookback", "strategy.params.quantile", "status"]],
        reference[["strategy.params.lookback", "strategy.params.quantile", "status"]],
    )


def test_basic_records_failures(basic: pd.DataFrame) -> None:
    assert (basic["status"] == "ok").sum() == 4
    ranked = basic[basic["status"] == "ok"].sort_values("rank")
    assert ranked["sharpe"].is_monotonic_decreasing


def test_joblib_same_numbers(basic: pd.DataFrame, tmp_path) -> None:
    qt("run", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *SWEEP, "hydra.sweep.dir=sweep", cwd=tmp_path)
    _check(leaderboard(tmp_path / "sweep"), basic)


def test_submitit_local_same_numbers(basic: pd.DataFrame, tmp_path) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    qt(
        "run", "-m", "hydra/launcher=submitit_local", "hydra.launcher.cpus_per_task=1", "hydra.launcher.timeout_min=5",
        *SWEEP, "hydra.sweep.dir=sweep", cwd=tmp_path,
    )  # fmt: skip
    _check(leaderboard(tmp_path / "sweep"), basic)


def test_ray_local_same_numbers(basic: pd.DataFrame, tmp_path, ray_env) -> None:
    env, temp = ray_env
    qt(
        "run", "-m", "hydra/launcher=ray", "hydra.launcher.num_cpus=2", f"hydra.launcher.temp_dir={temp}",
        *SWEEP, "hydra.sweep.dir=sweep", cwd=tmp_path, env=env,
    )  # fmt: skip
    board = leaderboard(tmp_path / "sweep")
    _check(board, basic)
    logs = [(tmp_path / "sweep" / str(run) / "run.log").read_text() for run in board.index]
    assert all("ray worker: node" in log for log in logs)
