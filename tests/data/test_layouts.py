"""Vendor layouts load without a mapping; data.price picks the close; empty inputs are named."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pydantic
import pytest

from qt.data.sources import memo
from qt.data.sources.files import CsvData, ParquetData
from qt.data.sources.sample import SampleData
from qt.enums import Field
from qt.errors import DataError

YAHOO = (
    "Date,Open,High,Low,Close,Adj Close,Volume\n"
    "2024-01-02,10,12,9,11,5.5,100\n"  # adj / close = 0.5
    "2024-01-03,11,13,10,12,9,200\n"  # adj / close = 0.75
)


@pytest.fixture(autouse=True)
def _fresh_memo():
    memo.clear()
    yield
    memo.clear()


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_a_yahoo_file_loads_without_a_mapping_and_says_which_close(tmp_path, caplog) -> None:
    path = _write(tmp_path / "AAPL.csv", YAHOO)
    with caplog.at_level(logging.INFO, logger="qt"):
        panel = CsvData(path=path).load()
    assert panel.symbols == ("AAPL",)
    assert [str(t)[:10] for t in panel.timestamps] == ["2024-01-02", "2024-01-03"]
    np.testing.assert_array_equal(panel.close[:, 0], [11.0, 12.0])
    np.testing.assert_array_equal(panel.fields[Field.VOLUME][:, 0], [100.0, 200.0])
    assert list(panel.fields) == [Field.OPEN, Field.HIGH, Field.LOW, Field.CLOSE, Field.VOLUME]
    assert "the file has both close and adjusted close; using close" in caplog.text


def test_adj_close_scales_the_whole_bar(tmp_path, caplog) -> None:
    path = _write(tmp_path / "AAPL.csv", YAHOO)
    with caplog.at_level(logging.INFO, logger="qt"):
        panel = CsvData(path=path, price="adj_close").load()
    assert "adjusted close" not in caplog.text  # chosen explicitly: nothing to say
    np.testing.assert_allclose(panel.close[:, 0], [5.5, 9.0])
    np.testing.assert_allclose(panel.fields[Field.OPEN][:, 0], [5.0, 8.25])
    np.testing.assert_allclose(panel.fields[Field.HIGH][:, 0], [6.0, 9.75])
    np.testing.assert_allclose(panel.fields[Field.LOW][:, 0], [4.5, 7.5])
    np.testing.assert_array_equal(panel.fields[Field.VOLUME][:, 0], [100.0, 200.0])


def test_data_price_must_name_a_column_the_file_has(tmp_path) -> None:
    path = _write(tmp_path / "KO.csv", "date,close\n2024-01-02,50\n")
    with pytest.raises(DataError, match=r"KO.csv: data.price=adj_close, but the file has no adjusted close column"):
        CsvData(path=path, price="adj_close").load()
    with pytest.raises(pydantic.ValidationError, match="price"):
        CsvData(path=path, price="vwap")


def test_a_folder_of_one_symbol_files_is_many_symbols(tmp_path) -> None:
    folder = tmp_path / "prices"
    folder.mkdir()
    _write(folder / "MSFT.csv", "DATE,OPEN,HIGH,LOW,CLOSE,VOLUME\n2024-01-03,20,22,19,21,5\n")  # Stooq-style
    _write(folder / "AAPL.csv", YAHOO)
    panel = CsvData(path=str(folder), price="close").load()
    assert panel.symbols == ("AAPL", "MSFT")
    np.testing.assert_array_equal(panel.close, [[11.0, np.nan], [12.0, 21.0]])


def test_a_bad_row_in_a_folder_names_its_file(tmp_path) -> None:
    folder = tmp_path / "prices"
    folder.mkdir()
    _write(folder / "AAPL.csv", YAHOO)
    bad = _write(folder / "MSFT.csv", "Date,Close\n2024-01-02,21\n2024-01-03,inf\n")
    with pytest.raises(DataError) as info:
        CsvData(path=str(folder), price="close").load()
    assert f"{bad}: 1 problem(s)" in str(info.value)
    assert "row 2 (2024-01-03 00:00:00, MSFT): close: price must be finite, got inf" in str(info.value)


def test_names_are_matched_case_insensitively_in_long_form(tmp_path) -> None:
    frame = pd.DataFrame(
        {
            "Timestamp": pd.to_datetime(["2024-01-02", "2024-01-02"]),
            "SYMBOL": ["B", "A"],
            "Close": [2.0, 1.0],
            "adj_close": [1.0, 0.5],
        }
    )
    path = tmp_path / "long.parquet"
    frame.to_parquet(path)
    panel = ParquetData(path=str(path), price="adj_close").load()
    assert panel.symbols == ("A", "B")
    np.testing.assert_array_equal(panel.close, [[0.5, 1.0]])


def test_an_explicit_mapping_wins_over_look_alike_names(tmp_path) -> None:
    path = _write(tmp_path / "AAPL.csv", "Date,Close,Adj Close\n2024-01-02,11,5.5\n2024-01-03,12,9\n")
    panel = CsvData(path=path, columns={"Adj Close": "close"}).load()  # the documented mapping keeps working
    np.testing.assert_array_equal(panel.close[:, 0], [5.5, 9.0])
    # with the unadjusted open/high/low beside it, the mapped close is named as inconsistent
    with pytest.raises(DataError, match=r"row 1 \(2024-01-02 00:00:00, AAPL\): low must be <= open, close"):
        CsvData(path=_write(tmp_path / "AAPL.csv", YAHOO), columns={"Adj Close": "close"}).load()


def test_a_mapping_hint_maps_every_missing_column(tmp_path) -> None:
    path = _write(tmp_path / "prices.csv", "Day,Ticker,Px\n2024-01-02,X,1.0\n")
    with pytest.raises(DataError) as info:
        CsvData(path=path).load()
    text = str(info.value)
    assert "missing column(s) ['timestamp', 'symbol', 'close']" in text
    assert "data.columns={Day:timestamp,Ticker:symbol,Px:close}" in text
    panel = CsvData(path=path, columns={"Day": "timestamp", "Ticker": "symbol", "Px": "close"}).load()
    assert panel.symbols == ("X",) and panel.close.tolist() == [[1.0]]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("empty.csv", "", "empty.csv: the file is empty (no header, no rows)"),
        ("header.csv", "date,symbol,close\n", "header.csv: no bars: the file has a header ['date', 'symbol', 'close']"),
    ],
)
def test_empty_files_are_named(tmp_path, name: str, text: str, message: str) -> None:
    with pytest.raises(DataError) as info:
        CsvData(path=_write(tmp_path / name, text)).load()
    assert message in str(info.value)


def test_a_header_only_parquet_file_and_an_empty_folder_are_named(tmp_path) -> None:
    path = tmp_path / "header.parquet"
    pd.DataFrame({"date": pd.to_datetime([]), "symbol": pd.Series([], dtype=str), "close": []}).to_parquet(path)
    with pytest.raises(
        DataError, match=r"header.parquet: no bars: the file has a header \['date', 'symbol', 'close'\]"
    ):
        ParquetData(path=str(path)).load()
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError, match=r"nothing: the folder is empty: no .parquet or .pq files in it"):
        ParquetData(path=str(tmp_path / "nothing")).load()
    with pytest.raises(DataError, match=r"nothing: the folder is empty: no .csv or .txt files in it"):
        CsvData(path=str(tmp_path / "nothing")).load()


def test_the_ohlcv_sample_can_trade_its_adjusted_close() -> None:
    raw = pd.read_parquet(Path(__file__).parents[2] / "qt/data/sample/spx_nasdaq_daily_ohlcv.parquet")
    adjusted = SampleData(dataset="spx_nasdaq_ohlcv", price="adj_close").load()
    plain = SampleData(dataset="spx_nasdaq_ohlcv").load()
    spx = raw[raw["symbol"] == "SPX"].sort_values("date")
    j = adjusted.symbols.index("SPX")
    np.testing.assert_array_equal(adjusted.close[:, j][: len(spx)], spx["adj_close"].to_numpy())
    np.testing.assert_array_equal(plain.close[:, j][: len(spx)], spx["close"].to_numpy())


def test_a_bar_in_two_files_of_a_folder_names_both(tmp_path) -> None:
    folder = tmp_path / "prices"
    folder.mkdir()
    _write(folder / "2023.csv", "date,symbol,close\n2023-12-29,A,1\n2024-01-02,A,2\n")
    _write(folder / "2024.csv", "date,symbol,close\n2024-01-02,A,2\n2024-01-03,A,3\n")
    with pytest.raises(
        DataError, match=r"1 bar\(s\) are in several files \(A 2024-01-02 00:00:00 in 2023.csv, 2024.csv\)"
    ):
        CsvData(path=str(folder)).load()
    (folder / "2023.csv").write_text("date,symbol,close\n2023-12-29,A,1\n")
    assert CsvData(path=str(folder)).load().close.tolist() == [[1.0], [2.0], [3.0]]  # per-year files of one symbol
