"""The vectorized load equals the row-by-row one; validated panels are reused, never stale."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qt.data.panel import BarPanel
from qt.data.sources import memo
from qt.data.sources.files import CsvData, ParquetData
from qt.enums import Field


@pytest.fixture(autouse=True)
def _fresh_memo():
    memo.clear()
    yield
    memo.clear()


def _long_frame(seed: int = 3, tz: str | None = None) -> pd.DataFrame:
    """A shuffled long frame with gaps: 40 symbols x 60 days, ~10% of the cells missing."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2021-01-04", periods=60, freq="B", tz=tz)
    symbols = [f"S{i:02d}" for i in range(40)]
    frame = pd.DataFrame({"timestamp": np.repeat(days, len(symbols)), "symbol": np.tile(symbols, len(days))}).sample(
        frac=0.9, random_state=seed
    )
    close = rng.uniform(10, 20, len(frame))
    frame["open"] = close * rng.uniform(0.98, 1.02, len(frame))
    frame["high"] = np.maximum(frame["open"], close) * 1.01
    frame["low"] = np.minimum(frame["open"], close) * 0.99
    frame["close"] = close
    frame["volume"] = rng.integers(0, 1000, len(frame)).astype(float)
    return frame.reset_index(drop=True)


def _reference(frame: pd.DataFrame) -> BarPanel:
    """The panel built the old way: sort, then pivot with BarPanel.from_frame."""
    return BarPanel.from_frame(frame.sort_values(["timestamp", "symbol"], kind="stable"), name="ref")


@pytest.mark.parametrize("tz", [None, "America/New_York"])
def test_the_vectorized_parquet_load_equals_the_sorted_pivot(tmp_path, tz) -> None:
    frame = _long_frame(tz=tz)
    path = tmp_path / "p.parquet"
    frame.to_parquet(path)
    panel = ParquetData(path=str(path)).load()
    assert panel.fingerprint() == _reference(frame).fingerprint()
    assert panel.tz == tz and panel.symbols == tuple(f"S{i:02d}" for i in range(40))


def test_the_csv_load_equals_the_sorted_pivot(tmp_path) -> None:
    frame = _long_frame(seed=4)
    path = tmp_path / "p.csv"
    frame.to_csv(path, index=False)
    panel = CsvData(path=str(path)).load()
    again = pd.read_csv(path, parse_dates=["timestamp"])
    np.testing.assert_array_equal(panel.close, _reference(again).close)
    assert panel.symbols == _reference(again).symbols


def test_a_dense_sorted_file_is_reshaped_without_a_copy(tmp_path) -> None:
    days = pd.date_range("2021-01-04", periods=3, freq="B")
    frame = pd.DataFrame({"timestamp": np.repeat(days, 2), "symbol": ["A", "B"] * 3, "close": [1.0, 2, 3, 4, 5, 6]})
    path = tmp_path / "dense.parquet"
    frame.to_parquet(path)
    panel = ParquetData(path=str(path)).load()
    assert panel.close.tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    assert not panel.close.flags.writeable  # shared between runs: nobody may change it


def test_a_duplicate_row_in_parquet_is_named_as_before(tmp_path) -> None:
    frame = _long_frame()
    frame = pd.concat([frame, frame.iloc[[5]]], ignore_index=True)
    path = tmp_path / "dup.parquet"
    frame.to_parquet(path)
    with pytest.raises(Exception, match=r"row 6 \(.*\): duplicate \(timestamp, symbol\)"):
        ParquetData(path=str(path)).load()


def test_the_same_source_twice_in_one_process_is_loaded_once(tmp_path, caplog) -> None:
    path = tmp_path / "p.parquet"
    _long_frame().to_parquet(path)
    first = ParquetData(path=str(path)).load()
    with caplog.at_level(logging.INFO, logger="qt"):
        second = ParquetData(path=str(path)).load()
    assert second is first
    assert "already loaded and validated in this process" in caplog.text
    assert ParquetData(path=str(path), price="close").load() is not first  # other settings, another panel


def _edit_close(path: Path, value: float) -> None:
    """Rewrite the file with its first close changed, keeping its size and modification time."""
    stat = path.stat()
    frame = pd.read_parquet(path)
    frame.loc[0, "close"] = value
    frame.to_parquet(path)
    assert path.stat().st_size == stat.st_size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_the_disk_cache_hits_on_the_same_file_and_misses_on_an_edited_one(tmp_path, caplog) -> None:
    path = tmp_path / "p.parquet"
    frame = _long_frame()
    frame.to_parquet(path)
    source = ParquetData(path=str(path), cache=True, cache_dir=str(tmp_path / "cache"))
    first = source.load()
    for thread in __import__("threading").enumerate():
        if thread.name == "qt-panel-cache":
            thread.join()
    assert len(list((tmp_path / "cache" / "panels").glob("*/*/meta.json"))) == 1
    memo.clear()  # a new process
    with caplog.at_level(logging.INFO, logger="qt"):
        cached = source.load()
    assert "panel cache hit" in caplog.text
    assert cached.fingerprint() == first.fingerprint() and cached.symbols == first.symbols
    memo.clear()
    caplog.clear()
    new_close = float(frame.loc[0, "low"])  # a different close that keeps the bar consistent
    assert new_close != frame.loc[0, "close"]
    _edit_close(path, new_close)
    with caplog.at_level(logging.INFO, logger="qt"):
        edited = source.load()
    assert "panel cache miss" in caplog.text
    row = frame.iloc[0]
    t = int(np.flatnonzero(edited.timestamps == np.datetime64(row["timestamp"], "us"))[0])
    assert edited.fields[Field.CLOSE][t, edited.symbols.index(row["symbol"])] == new_close


def test_cache_off_writes_no_panel(tmp_path) -> None:
    path = tmp_path / "p.parquet"
    _long_frame().to_parquet(path)
    ParquetData(path=str(path), cache=False, cache_dir=str(tmp_path / "cache")).load()
    assert not (tmp_path / "cache").exists()
