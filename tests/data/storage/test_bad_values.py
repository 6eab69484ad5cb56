"""Prices stay finite and positive in every store: ingest refuses bad files, writes refuse bad bars, reads name them.

The reported bug: ingesting a file with an infinite close said "loaded" and replaced the good
stored close with inf. Each case runs on DuckDB, Parquet and PostgreSQL (skipped without a
server unless CI=true).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from qt.data.storage.base import BARS_SCHEMA, BarSet, PriceBasis, SymbolMeta
from qt.errors import DataError

pytestmark = pytest.mark.slow

HEADER = "date,symbol,open,high,low,close,volume\n"
GOOD = "2024-01-02,AAPL,10,11,9,10.5,100\n2024-01-02,MSFT,20,21,19,20.5,200\n2024-01-03,AAPL,10.5,11.5,10,11,100\n"
# the same keys again: AAPL's closes change (10.6, 11.2), MSFT's close (row 2) is infinite
EDITED = "2024-01-02,AAPL,10,11,9,10.6,100\n2024-01-02,MSFT,20,21,19,inf,200\n2024-01-03,AAPL,10.5,11.5,10,11.2,100\n"


def _file(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def _closes(store) -> dict[tuple[str, str], float]:
    bars = store._scan(sorted(store.metadata()), None, None).to_pandas()
    return {(str(s), str(t)[:10]): c for s, t, c in zip(bars["symbol"], bars["timestamp"], bars["close"], strict=True)}


def test_an_infinite_close_is_refused_and_the_stored_close_is_kept(tmp_path, store_spec, helpers, qt_cli) -> None:
    env = helpers.env(store_spec)
    assert qt_cli("data", "ingest", str(_file(tmp_path, "good.csv", GOOD)), env=env).returncode == 0
    with helpers.open(store_spec) as store:
        before = helpers.snapshot(store)
    out = qt_cli("data", "ingest", str(_file(tmp_path, "edited.csv", EDITED)), env=env)
    assert out.returncode == 2, out.stdout
    assert "row 2 (2024-01-02 00:00:00, MSFT): close: price must be finite, got inf" in out.stderr
    assert "1 bad row(s) of 3; nothing was loaded" in out.stderr
    assert "Traceback" not in out.stderr and "loaded edited.csv" not in out.stdout
    with helpers.open(store_spec) as store:
        after = helpers.snapshot(store)
        closes = _closes(store)
    assert closes[("MSFT", "2024-01-02")] == 20.5 and closes[("AAPL", "2024-01-02")] == 10.5
    assert before[0] == after[0] and before[1].equals(after[1]) and before[3] == after[3]


def test_skipping_bad_rows_loads_the_good_ones_and_keeps_the_stored_close(
    tmp_path, store_spec, helpers, qt_cli
) -> None:
    env = helpers.env(store_spec)
    assert qt_cli("data", "ingest", str(_file(tmp_path, "good.csv", GOOD)), env=env).returncode == 0
    edited = _file(tmp_path, "edited.csv", EDITED)
    out = qt_cli("data", "ingest", str(edited), "--skip-bad-rows", env=env)
    assert out.returncode == 0, out.stderr
    rejects = pd.read_csv(tmp_path / "edited.rejects.csv")
    assert rejects["row"].tolist() == [2] and rejects["symbol"].tolist() == ["MSFT"]
    assert math.isinf(rejects["close"][0])
    assert rejects["reason"][0] == "close: price must be finite, got inf; high must be >= open, close, low"
    with helpers.open(store_spec) as store:
        closes = _closes(store)
    assert closes == {("AAPL", "2024-01-02"): 10.6, ("AAPL", "2024-01-03"): 11.2, ("MSFT", "2024-01-02"): 20.5}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2024-01-02,MSFT,0,21,19,20.5,200", "row 2 (2024-01-02 00:00:00, MSFT): open: price must be > 0, got 0.0"),
        (
            "2024-01-02,MSFT,20,21,19,-20.5,200",
            "row 2 (2024-01-02 00:00:00, MSFT): close: price must be > 0, got -20.5",
        ),
        (
            "2024-01-02,MSFT,20,inf,19,20.5,200",
            "row 2 (2024-01-02 00:00:00, MSFT): high: price must be finite, got inf",
        ),
        (
            "2024-01-02,MSFT,20,21,19,20.5,-inf",
            "row 2 (2024-01-02 00:00:00, MSFT): volume: volume must be >= 0, got -inf",
        ),
    ],
)
def test_zero_negative_and_infinite_values_are_named(tmp_path, qt_cli, row: str, message: str) -> None:
    path = _file(tmp_path, "p.csv", "2024-01-02,AAPL,10,11,9,10.5,100\n" + row + "\n")
    out = qt_cli("data", "ingest", str(path), env={"QT_STORE": "duckdb", "QT_DATA_DIR": str(tmp_path / "store")})
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert str(path) in out.stderr and "nothing was loaded" in out.stderr


def _bars(close: float) -> BarSet:
    table = pa.table(
        {
            "symbol": ["AAPL", "AAPL"],
            "timestamp": pa.array(np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[us]")),
            "open": [None, None],
            "high": [None, None],
            "low": [None, None],
            "close": [10.0, close],
            "volume": [None, None],
        },
        schema=BARS_SCHEMA,
    )
    return BarSet(table, SymbolMeta(source="t", prices=PriceBasis.RAW))


def test_a_store_write_refuses_bad_prices_and_writes_nothing(store, helpers) -> None:
    store.write(_bars(11.0))
    before = helpers.snapshot(store)
    for bad in (math.inf, 0.0, -1.0, math.nan):
        with pytest.raises(DataError, match=r"refusing to write bars with bad values \(AAPL 2024-01-03 00:00:00 close"):
            store.write(_bars(bad))
    after = helpers.snapshot(store)
    assert before[1].equals(after[1]) and before[3] == after[3]


def test_a_read_names_bad_values_already_in_the_store(store) -> None:
    bars = _bars(math.inf)
    store._write(bars, bars.symbols, 1000, None)  # as an older qt would have written it, past the checks
    with pytest.raises(DataError, match=r"the store holds bad values \(AAPL 2024-01-03 00:00:00 close = inf\)"):
        store.read(["AAPL"])
