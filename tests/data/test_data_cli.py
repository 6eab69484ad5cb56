"""What a user sees from `qt run` on their own files: one message and exit 2, the close used, the panel cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qt.results.writer import RESULT_FILES

pytestmark = pytest.mark.slow


def _result_files(run_dir: Path) -> set[str]:
    return {p.name for p in run_dir.iterdir() if p.name in RESULT_FILES} if run_dir.exists() else set()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "prices.csv: the file is empty (no header, no rows)"),
        ("date,symbol,close\n", "prices.csv: no bars: the file has a header ['date', 'symbol', 'close'] but no rows"),
        (
            "date,symbol,close\n2020-01-02,A,10\n2020-01-02,B,inf\n",
            "row 2 (2020-01-02 00:00:00, B): close: price must be finite, got inf",
        ),
    ],
)
def test_bad_files_are_one_message_exit_2_and_nothing_written(qt_cli, tmp_path, text: str, message: str) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(text)
    run_dir = tmp_path / "run"
    out = qt_cli("run", "data=csv", f"data.path={path}", f"hydra.run.dir={run_dir}")
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and str(path) in out.stderr
    assert "Traceback" not in out.stderr and "IndexError" not in out.stderr
    assert _result_files(run_dir) == set()


def _yahoo_folder(tmp_path: Path) -> Path:
    """Two Yahoo-style files (AAPL.csv, MSFT.csv), 300 business days, adjusted close = 0.9 x close."""
    folder = tmp_path / "yahoo"
    folder.mkdir()
    days = pd.bdate_range("2020-01-01", periods=300)
    rng = np.random.default_rng(0)
    for name in ("AAPL", "MSFT"):
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(days))))
        pd.DataFrame(
            {
                "Date": days.strftime("%Y-%m-%d"),
                "Open": close,
                "High": close * 1.01,
                "Low": close * 0.99,
                "Close": close,
                "Adj Close": close * 0.9,
                "Volume": 1000,
            }
        ).to_csv(folder / f"{name}.csv", index=False)
    return folder


def test_a_folder_of_yahoo_files_runs_and_run_log_says_which_close(qt_cli, tmp_path) -> None:
    folder = _yahoo_folder(tmp_path)
    run_dir = tmp_path / "run"
    out = qt_cli("run", "data=csv", f"data.path={folder}", "strategy=equal_weight", f"hydra.run.dir={run_dir}")
    assert out.returncode == 0, out.stderr
    log = (run_dir / "run.log").read_text()
    assert "the file has both close and adjusted close; using close (set data.price=adj_close" in log
    assert "data yahoo: 300 bars x 2 assets" in log
    chosen = tmp_path / "run_adj"
    args = ("run", "data=csv", f"data.path={folder}", "data.price=adj_close", "strategy=equal_weight")
    out = qt_cli(*args, f"hydra.run.dir={chosen}")
    assert out.returncode == 0, out.stderr
    assert "adjusted close" not in (chosen / "run.log").read_text()


def test_the_second_run_on_a_file_reads_the_cached_panel(qt_cli, tmp_path) -> None:
    days = pd.bdate_range("2020-01-01", periods=300)
    symbols = [f"S{i}" for i in range(6)]
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"timestamp": np.repeat(days, len(symbols)), "symbol": np.tile(symbols, len(days))})
    frame["close"] = 100 * np.exp(rng.normal(0, 0.01, len(frame)))
    path = tmp_path / "prices.parquet"
    frame.to_parquet(path)
    cache = tmp_path / "cache"
    base = ("run", "data=parquet", f"data.path={path}", "strategy=equal_weight", f"cache.dir={cache}")
    logs = []
    for name in ("first", "second"):
        out = qt_cli(*base, f"hydra.run.dir={tmp_path / name}")
        assert out.returncode == 0, out.stderr
        logs.append((tmp_path / name / "run.log").read_text())
    assert "panel cache miss" in logs[0] and "panel cache hit" in logs[1]
    first, second = (pd.read_parquet(tmp_path / n / "equity.parquet") for n in ("first", "second"))
    pd.testing.assert_frame_equal(first, second)
    off = tmp_path / "off_cache"
    out = qt_cli(*base[:-1], f"cache.dir={off}", "cache=off", f"hydra.run.dir={tmp_path / 'off'}")
    assert out.returncode == 0, out.stderr
    assert not (off / "panels").exists()


def test_ingest_reads_a_yahoo_file_and_says_which_close_it_stores(qt_cli, tmp_path) -> None:
    path = tmp_path / "AAPL.csv"
    path.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,10,12,9,11,5.5,100\n")
    env = {"QT_STORE": "duckdb", "QT_DATA_DIR": str(tmp_path / "store")}
    out = qt_cli("data", "ingest", str(path), env=env)
    assert out.returncode == 0, out.stderr
    assert "the file has both close and adjusted close; using close" in out.stderr
    shown = qt_cli("data", "ls", env=env)
    assert shown.stdout.split("\n")[1].split()[:4] == ["AAPL", "2024-01-02", "2024-01-02", "1"]


def test_a_sweep_loads_and_validates_its_data_once_per_process(qt_cli, tmp_path) -> None:
    days = pd.bdate_range("2020-01-01", periods=300)
    frame = pd.DataFrame({"timestamp": np.repeat(days, 4), "symbol": np.tile(["A", "B", "C", "D"], len(days))})
    frame["close"] = 100 * np.exp(np.random.default_rng(2).normal(0, 0.01, len(frame)))
    path = tmp_path / "prices.parquet"
    frame.to_parquet(path)
    sweep = tmp_path / "sweep"
    out = qt_cli(
        "run", "-m", "data=parquet", f"data.path={path}", "strategy=xmom", "strategy.params.lookback=63,126",
        "cache=off", f"hydra.sweep.dir={sweep}",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    logs = [(sweep / str(n) / "run.log").read_text() for n in (0, 1)]
    assert "already loaded" not in logs[0] and "data prices: 300 bars x 4 assets" in logs[0]
    assert "data " + str(path) + ": already loaded and validated in this process" in logs[1]


def test_a_csv_folder_of_parquet_files_says_what_it_holds(tmp_path):
    import subprocess
    import sys

    folder = tmp_path / "bars"
    folder.mkdir()
    (folder / "a.parquet").write_bytes(b"PAR1")
    result = subprocess.run(
        [sys.executable, "-m", "qt", "run", "data=csv", f"data.path={folder}", f"hydra.run.dir={tmp_path / 'r'}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "holds no .csv or .txt files (it has .parquet)" in result.stderr
    assert "use data=parquet" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r" / "equity.parquet").exists()


def test_ingest_messages_name_its_own_flags_not_run_settings(qt_cli, tmp_path) -> None:
    path = tmp_path / "AAPL.csv"
    path.write_text("Date,Close\n2021-01-04,10\n2021-01-05,11\n")
    env = {"QT_STORE": "duckdb", "QT_DATA_DIR": str(tmp_path / "store")}
    out = qt_cli("data", "ingest", str(path), "--price", "adj_close", env=env)
    assert out.returncode == 2, out.stderr
    assert "--price adj_close, but the file has no adjusted close column" in out.stderr
    assert "use --price close or map one with --columns COLUMN=adj_close" in out.stderr
    assert "data.price" not in out.stderr and "data.columns" not in out.stderr
