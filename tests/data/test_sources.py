"""Data sources: bundled sample, synthetic determinism and consistency, files with bad rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qt.data.sources.files import CsvData, ParquetData
from qt.data.sources.sample import SampleData
from qt.data.sources.synthetic import SyntheticData
from qt.enums import Field
from qt.errors import DataError


def test_bundled_sample_matches_its_provenance_note():
    panel = SampleData().load()
    assert panel.n_assets == 20 and panel.n_bars == 8313
    assert str(panel.timestamps[0])[:10] == "1990-01-02" and str(panel.timestamps[-1])[:10] == "2022-12-28"
    assert list(panel.fields) == [Field.CLOSE]
    index = SampleData(dataset="sp500_index").load()
    assert index.symbols == ("SP500",) and index.n_bars == 8313


def test_synthetic_is_deterministic_and_ohlcv_consistent():
    a = SyntheticData(n_assets=40, n_days=300, seed=5).load()
    b = SyntheticData(n_assets=40, n_days=300, seed=5).load()
    c = SyntheticData(n_assets=40, n_days=300, seed=6).load()
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    f = a.fields
    assert (f[Field.HIGH] >= np.maximum(f[Field.OPEN], f[Field.CLOSE])).all()
    assert (f[Field.LOW] <= np.minimum(f[Field.OPEN], f[Field.CLOSE])).all()
    assert (f[Field.LOW] > 0).all() and (f[Field.VOLUME] >= 0).all()
    # business days only
    weekdays = (a.timestamps.astype("datetime64[D]").astype(np.int64) + 3) % 7
    assert (weekdays < 5).all()


def test_synthetic_staggered_listings_leave_gaps_only_outside_each_life():
    panel = SyntheticData(n_assets=20, n_days=200, seed=1, staggered=True).load()
    valid = panel.tradable
    first = valid.argmax(axis=0)
    for j in range(panel.n_assets):
        life = valid[first[j] : panel.last_valid[j] + 1, j]
        assert life.all()
    assert (first > 0).any() and (panel.last_valid < panel.n_bars - 1).any()


def write_csv(tmp_path, rows: dict) -> str:
    path = tmp_path / "prices.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def test_csv_with_a_column_mapping_and_any_row_order(tmp_path):
    path = write_csv(
        tmp_path, {"Day": ["2024-01-03", "2024-01-02", "2024-01-02"], "Ticker": ["X", "Y", "X"], "Px": [2.0, 5.0, 1.0]}
    )
    panel = CsvData(path=path, columns={"Day": "timestamp", "Ticker": "symbol", "Px": "close"}).load()
    assert panel.symbols == ("X", "Y")
    np.testing.assert_array_equal(panel.close, [[1.0, 5.0], [2.0, np.nan]])


def test_bad_rows_are_each_named(tmp_path):
    path = write_csv(
        tmp_path,
        {
            "date": ["2024-01-02", "2024-01-02", "not a date", "2024-01-03"],
            "symbol": ["X", "X", "X", "Y"],
            "close": [1.0, 1.0, 2.0, np.nan],
        },
    )
    with pytest.raises(DataError, match=r"row 3 \('not a date'\)"):
        CsvData(path=path).load()


def test_duplicates_negative_and_missing_prices(tmp_path):
    path = write_csv(
        tmp_path,
        {
            "date": ["2024-01-02", "2024-01-02", "2024-01-03", "2024-01-03"],
            "symbol": ["X", "X", "X", "Y"],
            "close": [1.0, 1.0, -2.0, np.nan],
        },
    )
    with pytest.raises(DataError) as info:
        CsvData(path=path).load()
    text = str(info.value)
    assert "row 1 (2024-01-02 00:00:00, X): duplicate (timestamp, symbol)" in text
    assert "row 2 (2024-01-02 00:00:00, X): duplicate (timestamp, symbol)" in text
    assert "row 3 (2024-01-03 00:00:00, X): close: price must be > 0, got -2.0" in text
    assert "row 4 (2024-01-03 00:00:00, Y): close is missing (NaN)" in text


def test_inconsistent_ohlc_is_named(tmp_path):
    path = tmp_path / "p.parquet"
    pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-02"]),
            "symbol": ["X"],
            "open": [10.0],
            "high": [9.0],
            "low": [8.0],
            "close": [9.5],
        }
    ).to_parquet(path)
    with pytest.raises(DataError, match=r"row 1 .*high must be >= open, close, low"):
        ParquetData(path=str(path)).load()


def test_mixed_time_zones_are_refused(tmp_path):
    path = write_csv(
        tmp_path,
        {"date": ["2024-01-02T10:00:00+00:00", "2024-01-02T10:00:00-05:00"], "symbol": ["X", "Y"], "close": [1.0, 2.0]},
    )
    with pytest.raises(DataError, match="time zone"):
        CsvData(path=path).load()


def test_missing_columns_and_files_are_named(tmp_path):
    path = write_csv(tmp_path, {"date": ["2024-01-02"], "ticker": ["X"], "close": [1.0]})
    with pytest.raises(DataError, match=r"missing column\(s\) \['symbol'\].*data.columns"):
        CsvData(path=path).load()
    with pytest.raises(DataError, match="does not exist"):
        CsvData(path=str(tmp_path / "nope.csv")).load()
