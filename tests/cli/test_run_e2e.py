"""End-to-end runs of the real `qt` CLI in a subprocess, on small data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qt.results.writer import LEAN_FILES, RESULT_FILES

pytestmark = pytest.mark.slow
SMALL = ("data=synthetic", "data.n_assets=25", "data.n_days=400", "strategy.params.lookback=63")


def result_files(run_dir: Path) -> set[str]:
    return {p.name for p in run_dir.iterdir() if p.name in RESULT_FILES} if run_dir.exists() else set()


def test_default_run_on_the_bundled_sample(qt_cli, tmp_path):
    out = qt_cli("run", "strategy=xmom", "portfolio=equal", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    assert result_files(tmp_path) == set(RESULT_FILES)
    assert "sharpe" in out.stdout and str(tmp_path) in out.stdout.replace("\n", "")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in (
        "total_return",
        "cagr",
        "ann_vol",
        "sharpe",
        "sortino",
        "max_drawdown",
        "calmar",
        "avg_turnover",
        "n_trades",
    ):
        assert key in metrics
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert set(manifest["timings"]) == {"load_s", "signals_s", "engine_s", "outputs_s", "total_s"}
    assert manifest["data_fingerprint"] and manifest["config_hash"]
    equity = pd.read_parquet(tmp_path / "equity.parquet")
    assert list(equity.columns) == ["timestamp", "nav", "cash", "gross_exposure", "net_exposure", "turnover", "return"]
    assert len(equity) == 8313
    assert (tmp_path / "run.log").exists() and (tmp_path / ".hydra" / "config.yaml").exists()


def test_next_open_with_costs_charges_the_configured_bps(qt_cli, tmp_path):
    out = qt_cli(
        "run",
        "strategy=xmom",
        "strategy.params.lookback=126",
        "data=sample_ohlcv",
        "execution=next_open",
        "costs=bps",
        "costs.bps=5",
        f"hydra.run.dir={tmp_path}",
    )
    assert out.returncode == 0, out.stderr
    fills = pd.read_parquet(tmp_path / "fills.parquet")
    orders = pd.read_parquet(tmp_path / "orders.parquet")
    assert len(fills) > 0
    np.testing.assert_allclose(fills["fees"], fills["notional"] * 5e-4, rtol=1e-12)
    # filled on the bar after the decision, at that bar's open
    merged = fills.merge(orders[["order_id", "decided_at"]], on="order_id")
    assert (merged["timestamp"] > merged["decided_at"]).all()


def test_next_open_on_close_only_data_is_a_clear_error(qt_cli, tmp_path):
    out = qt_cli("run", "execution=next_open", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2
    assert "execution=next_open needs the 'open' field" in out.stderr
    assert "Traceback" not in out.stderr
    assert result_files(tmp_path) == set()


def test_synthetic_data(qt_cli, tmp_path):
    out = qt_cli("run", *SMALL, "data.seed=7", "strategy=xmom", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    assert len(pd.read_parquet(tmp_path / "equity.parquet")) == 400


def sample_file(tmp_path: Path, fmt: str) -> Path:
    frame = pd.read_parquet(Path(__file__).parents[2] / "qt/data/sample/sp500_20_daily_close.parquet")
    frame = frame[frame["symbol"].isin(["AAPL", "KO", "XOM", "JPM", "PG"])]
    if fmt == "csv":
        path = tmp_path / "prices.csv"
        frame.rename(columns={"date": "Date", "symbol": "Ticker", "close": "Adj_Close"}).to_csv(path, index=False)
    else:
        path = tmp_path / "prices.parquet"
        frame.to_parquet(path)
    return path


def test_parquet_file_with_window_and_capital(qt_cli, tmp_path):
    path = sample_file(tmp_path, "parquet")
    run_dir = tmp_path / "run"
    out = qt_cli(
        "run",
        "data=parquet",
        f"data.path={path}",
        "strategy=xmom",
        "capital=250000",
        "start=2005-01-01",
        "end=2015-12-31",
        f"hydra.run.dir={run_dir}",
    )
    assert out.returncode == 0, out.stderr
    equity = pd.read_parquet(run_dir / "equity.parquet")
    assert str(equity["timestamp"].iloc[0].date()) == "2005-01-03"
    assert str(equity["timestamp"].iloc[-1].date()) == "2015-12-31"
    assert equity["nav"].iloc[0] == pytest.approx(250_000.0)


def test_csv_file_with_a_column_mapping(qt_cli, tmp_path):
    path = sample_file(tmp_path, "csv")
    run_dir = tmp_path / "run"
    out = qt_cli(
        "run",
        "data=csv",
        f"data.path={path}",
        "data.columns={Date:timestamp,Ticker:symbol,Adj_Close:close}",
        f"hydra.run.dir={run_dir}",
    )
    assert out.returncode == 0, out.stderr
    assert set(pd.read_parquet(run_dir / "weights.parquet")["symbol"]) <= {"AAPL", "KO", "XOM", "JPM", "PG"}


def test_multirun_leaves_one_directory_per_run(qt_cli, tmp_path):
    out = qt_cli(
        "run",
        "-m",
        *SMALL[:3],
        "strategy.params.lookback=42,63",
        "strategy.params.quantile=0.1,0.2",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert out.returncode == 0, out.stderr
    runs = sorted(p for p in tmp_path.iterdir() if p.is_dir() and p.name.isdigit())
    assert [p.name for p in runs] == ["0", "1", "2", "3"]
    seen, full = set(), 0
    for run in runs:  # lean runs (equity, metrics, manifest) but the top report.top_n (3), which are complete
        files = result_files(run)
        assert files in (set(RESULT_FILES), set(LEAN_FILES)), files
        full += files == set(RESULT_FILES)
        overrides = (run / ".hydra" / "overrides.yaml").read_text()
        seen.add(tuple(line for line in overrides.splitlines() if "params" in line))
    assert len(seen) == 4
    assert full == 3


def test_hydra_run_dir_override_is_respected(qt_cli, tmp_path):
    target = tmp_path / "runs" / "myrun"
    out = qt_cli("run", *SMALL, f"hydra.run.dir={target}")
    assert out.returncode == 0, out.stderr
    assert result_files(target) == set(RESULT_FILES)


def test_bad_override_names_the_key_and_writes_nothing(qt_cli, tmp_path):
    out = qt_cli("run", "strategy=xmom", "strategy.params.lookback=-3", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2
    assert "strategy.params.lookback" in out.stderr and "got -3" in out.stderr
    assert "Traceback" not in out.stderr
    assert result_files(tmp_path) == set()


def test_unknown_key_is_refused_by_hydra(qt_cli, tmp_path):
    out = qt_cli("run", "strategy.params.lookbak=5", f"hydra.run.dir={tmp_path}")
    assert out.returncode != 0
    assert "strategy.params.lookbak" in out.stderr
    assert result_files(tmp_path) == set()


def test_bad_data_file_names_rows_and_writes_nothing(qt_cli, tmp_path):
    frame = pd.DataFrame(
        {
            "date": ["2020-01-02", "2020-01-02", "2020-01-03", "2020-01-03", "2020-01-03"],
            "symbol": ["A", "B", "A", "B", "B"],
            "close": [10.0, 20.0, 11.0, -1.0, 21.0],
        }
    )
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    run_dir = tmp_path / "run"
    out = qt_cli("run", "data=csv", f"data.path={path}", f"hydra.run.dir={run_dir}")
    assert out.returncode == 2
    assert str(path) in out.stderr
    assert "row 4 (2020-01-03 00:00:00, B): close: price must be > 0, got -1.0" in out.stderr
    assert "row 5 (2020-01-03 00:00:00, B): duplicate (timestamp, symbol)" in out.stderr
    assert result_files(run_dir) == set()


def test_same_config_twice_gives_identical_bytes(qt_cli, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for run_dir in (first, second):
        assert qt_cli("run", *SMALL, "costs=bps", f"hydra.run.dir={run_dir}").returncode == 0
    for name in ("equity.parquet", "weights.parquet", "orders.parquet", "fills.parquet", "metrics.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_help_lists_subcommands_and_config_groups(qt_cli):
    top = qt_cli("--help")
    assert top.returncode == 0 and "run" in top.stdout
    groups = qt_cli("run", "--help")
    assert groups.returncode == 0
    for group in ("data:", "strategy:", "portfolio:", "execution:", "costs:", "slippage:", "mode:"):
        assert group in groups.stdout
    assert "xmom" in groups.stdout and "synthetic" in groups.stdout
