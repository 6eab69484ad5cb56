"""The shared backend suite: every test runs on DuckDB, PostgreSQL (the real server) and Parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qt.data.adjustments import action_factors
from qt.data.storage.base import Adjust, BarStore, PriceBasis, SymbolMeta
from qt.data.storage.ingest import to_barset
from qt.enums import Field
from qt.errors import DataError


def bars_frame(symbols=("AAPL", "MSFT"), days=6, start="2024-01-02") -> pd.DataFrame:
    """OHLCV rows on consecutive business days; prices made up but consistent (low <= open, close <= high)."""
    dates = pd.bdate_range(start, periods=days)
    rows = []
    for j, sym in enumerate(symbols):
        for i, d in enumerate(dates):
            close = 100.0 + 10 * j + i + 0.25
            rows.append((d, sym, close - 0.5, close + 1.0, close - 1.0, close, 1000.0 * (i + 1)))
    return pd.DataFrame(rows, columns=["timestamp", "symbol", "open", "high", "low", "close", "volume"])


def write(store: BarStore, frame: pd.DataFrame, *, source="test", currency="USD", actions=None):
    acts = actions if actions is not None else frame.iloc[:0].assign(split_ratio=[], dividend=[], factor=[])
    barset = to_barset(frame, acts, source=source, currency=currency, prices=PriceBasis.RAW)
    return store.write(barset)


def test_round_trip_is_exact(store: BarStore) -> None:
    frame = bars_frame()
    report = write(store, frame)
    assert (report.rows, report.changed, report.symbols) == (12, 12, 2)
    panel = store.read()
    assert panel.symbols == ("AAPL", "MSFT")
    assert panel.tz is None
    expected = frame.pivot(index="timestamp", columns="symbol")
    assert np.array_equal(panel.timestamps, expected.index.to_numpy(dtype="datetime64[us]"))
    for f in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(panel.fields[Field(f)], expected[f].to_numpy()), f


def test_window_and_symbol_subset(store: BarStore) -> None:
    frame = bars_frame(symbols=("A", "B", "C"), days=10)
    write(store, frame)
    panel = store.read(["C", "A"], start="2024-01-04", end="2024-01-10")
    # 2024-01-04 (Thu) .. 2024-01-10 (Wed), business days: 4, 5, 8, 9, 10
    want = frame[frame.symbol.isin(["A", "C"]) & frame.timestamp.between("2024-01-04", "2024-01-10")]
    assert panel.symbols == ("A", "C")
    assert [str(t)[:10] for t in panel.timestamps] == [
        "2024-01-04",
        "2024-01-05",
        "2024-01-08",
        "2024-01-09",
        "2024-01-10",
    ]
    assert np.array_equal(panel.close, want.pivot(index="timestamp", columns="symbol")["close"].to_numpy())


def test_rewrite_changes_nothing_and_upsert_replaces(store: BarStore, helpers) -> None:
    frame = bars_frame()
    write(store, frame)
    before = helpers.snapshot(store)
    again = write(store, frame)
    assert (again.rows, again.changed, again.unchanged) == (12, 0, 12)
    after = helpers.snapshot(store)
    assert before[0] == after[0] and before[3] == after[3]
    pd.testing.assert_frame_equal(before[1], after[1])
    # change two closes and add one new day: 3 rows new or changed, nothing duplicated
    update = frame[frame.timestamp == frame.timestamp.max()].copy()
    update["close"] = update["close"] + 0.5
    extra = bars_frame(days=7).groupby("symbol").tail(1).iloc[:1]
    report = write(store, pd.concat([update, extra]))
    assert (report.rows, report.changed) == (3, 3)
    panel = store.read()
    assert panel.n_bars == 7
    # day 6 (i = 5): closes 105.25 and 115.25, plus 0.5; day 7 (i = 6) only for AAPL: 106.25
    assert panel.close[5].tolist() == [105.75, 115.75]
    assert panel.close[6].tolist()[0] == 106.25
    assert np.isnan(panel.close[6][1])
    assert sum(c.rows for c in store.coverage()) == 13


def test_coverage_matches_pandas(store: BarStore) -> None:
    frame = pd.concat([bars_frame(symbols=("X",), days=4), bars_frame(symbols=("Y",), days=9, start="2024-02-01")])
    write(store, frame)
    want = frame.groupby("symbol")["timestamp"].agg(["min", "max", "count"])
    got = {c.symbol: (c.first, c.last, c.rows) for c in store.coverage()}
    assert list(got) == ["X", "Y"]
    for sym, (lo, hi, n) in got.items():
        assert lo == np.datetime64(want.loc[sym, "min"], "us")
        assert hi == np.datetime64(want.loc[sym, "max"], "us")
        assert n == want.loc[sym, "count"]


def test_delete_symbol(store: BarStore) -> None:
    write(store, bars_frame(symbols=("A", "B"), days=5))
    assert store.delete("A") == 5
    assert [c.symbol for c in store.coverage()] == ["B"]
    assert list(store.metadata()) == ["B"]
    assert store.delete("A") == 0
    with pytest.raises(DataError, match="no bars for symbol"):
        store.read(["A"])


def test_metadata_round_trip(store: BarStore) -> None:
    write(store, bars_frame(symbols=("EURUSD",)), source="vendor-x", currency="EUR")
    assert store.metadata(["EURUSD"]) == {"EURUSD": SymbolMeta("vendor-x", PriceBasis.RAW, "EUR", None)}
    assert store.metadata(["NOPE"]) == {}


def test_tz_aware_intraday_round_trip(store: BarStore) -> None:
    # 5-minute bars across the 2024-03-10 DST change in New York, with microseconds
    stamps = pd.DatetimeIndex(
        ["2024-03-08 09:30:00.000001", "2024-03-08 15:55", "2024-03-11 09:30", "2024-03-11 09:35:00.5"],
        tz="America/New_York",
    )
    frame = pd.DataFrame({"timestamp": stamps, "symbol": "SPY", "close": [510.5, 511.0, 512.25, 512.5]})
    write(store, frame)
    assert store.metadata()["SPY"].timezone == "America/New_York"
    panel = store.read(["SPY"])
    assert panel.tz == "America/New_York"
    back = panel.to_frame()
    pd.testing.assert_series_equal(
        back["timestamp"], frame["timestamp"].astype("datetime64[us, America/New_York]"), check_names=False
    )
    assert back["close"].tolist() == [510.5, 511.0, 512.25, 512.5]
    # a local-date window: only the Monday session (09:30 New York = 13:30 UTC after the DST change)
    monday = store.read(["SPY"], start="2024-03-11", end="2024-03-11")
    assert [str(t) for t in monday.to_frame()["timestamp"]] == [
        "2024-03-11 09:30:00-04:00",
        "2024-03-11 09:35:00.500000-04:00",
    ]
    assert set(panel.fields) == {Field.CLOSE}


def test_naive_and_aware_do_not_mix(store: BarStore) -> None:
    write(store, bars_frame(symbols=("A",)))
    aware = bars_frame(symbols=("A",)).assign(timestamp=lambda f: f.timestamp.dt.tz_localize("UTC"))
    with pytest.raises(DataError, match="stored without a time zone"):
        write(store, aware)


def test_symbols_needing_escapes(store: BarStore) -> None:
    frame = bars_frame(symbols=("BRK/B", "0700", "É.PA"), days=3)
    write(store, frame)
    assert store.read().symbols == ("0700", "BRK/B", "É.PA")
    assert [c.symbol for c in store.coverage()] == ["0700", "BRK/B", "É.PA"]


def test_adjusted_and_raw(store: BarStore) -> None:
    dates = pd.bdate_range("2024-01-02", periods=5)
    frame = pd.DataFrame(
        {
            "timestamp": dates,
            "symbol": "X",
            "close": [100.0, 102.0, 50.0, 51.0, 52.0],
            "volume": [10.0, 10.0, 20.0, 20.0, 20.0],
            "split_ratio": [None, None, 2.0, None, None],  # 2-for-1 on day 3
            "dividend": [None, None, None, 0.5, None],  # 0.50 cash on day 4, previous close 50
        }
    )
    actions, bad = action_factors(frame)
    assert bad == []
    write(store, frame.drop(columns=["split_ratio", "dividend"]), actions=actions)
    raw = store.read(["X"], adjust=Adjust.RAW)
    assert raw.close[:, 0].tolist() == [100.0, 102.0, 50.0, 51.0, 52.0]
    adjusted = store.read(["X"])
    # by hand: before day 3 x 0.5 (split) x 0.99 (1 - 0.5/50); day 3 x 0.99; days 4, 5 as they are
    assert np.allclose(adjusted.close[:, 0], [49.5, 50.49, 49.5, 51.0, 52.0], rtol=1e-15, atol=0)
    assert adjusted.fields[Field.VOLUME][:, 0].tolist() == [20.0, 20.0, 20.0, 20.0, 20.0]
    # a window that ends before both actions still sees them
    early = store.read(["X"], end="2024-01-03")
    assert np.allclose(early.close[:, 0], [49.5, 50.49], rtol=1e-15, atol=0)
    late = store.read(["X"], start="2024-01-05")
    assert late.close[:, 0].tolist() == [51.0, 52.0]


def test_vendor_adjusted_has_no_raw(store: BarStore) -> None:
    frame = bars_frame(symbols=("A",))
    barset = to_barset(
        frame,
        frame.iloc[:0].assign(split_ratio=[], dividend=[], factor=[]),
        source="v",
        currency="USD",
        prices=PriceBasis.ADJUSTED,
    )
    store.write(barset)
    assert store.read(["A"]).n_bars == 6
    with pytest.raises(DataError, match="vendor-adjusted"):
        store.read(["A"], adjust=Adjust.RAW)


def test_errors_name_what_to_do(store: BarStore) -> None:
    with pytest.raises(DataError, match="the store is empty; load bars with `qt data ingest"):
        store.read(["A"])
    write(store, bars_frame(symbols=("A",)))
    with pytest.raises(DataError, match=r"no bars for symbol\(s\) ZZZ; the store holds A"):
        store.read(["ZZZ"])
    with pytest.raises(DataError, match="no bars for A between start=2030-01-01"):
        store.read(["A"], start="2030-01-01")


def test_close_only_bars(store: BarStore) -> None:
    frame = bars_frame()[["timestamp", "symbol", "close"]]
    write(store, frame)
    panel = store.read()
    assert set(panel.fields) == {Field.CLOSE}
    assert np.array_equal(panel.close, frame.pivot(index="timestamp", columns="symbol")["close"].to_numpy())


def test_parquet_store_is_a_plain_hive_dataset_and_cleans_up_after_a_killed_writer(tmp_path) -> None:
    from qt.data.sources.files import ParquetData
    from qt.data.storage import open_store

    with open_store("parquet", data_dir=str(tmp_path)) as store:
        write(store, bars_frame(symbols=("0700", "AAPL")))
        leftover = store.root / "symbol=AAPL" / ".tmp-dead.parquet"
        leftover.write_bytes(b"half a file")
        panel = ParquetData(path=str(store.root)).load()  # readers skip dot-files and _qt_* side files
        assert panel.symbols == ("0700", "AAPL") and panel.n_bars == 6
        write(store, bars_frame(symbols=("MSFT",)))
        assert not leftover.exists()


def test_unreachable_postgres_is_a_clear_error_without_the_password() -> None:
    from qt.data.storage import open_store

    with pytest.raises(DataError) as info:
        open_store("postgres", dsn="postgresql://me:s3cret@127.0.0.1:1/bars?connect_timeout=2")
    message = str(info.value)
    assert "cannot connect to PostgreSQL at 127.0.0.1:1 (postgresql://me:***@127.0.0.1:1/bars" in message
    assert "s3cret" not in message
    assert "QT_POSTGRES_DSN" in message


def test_unknown_store_kind_names_the_choices() -> None:
    from qt.data.storage import open_store
    from qt.errors import ConfigError

    with pytest.raises(
        ConfigError, match=r"data\.store: unknown store 'sqlite'; choose one of duckdb, postgres, parquet"
    ):
        open_store("sqlite")


def test_parquet_store_of_close_only_bars_reads_as_a_plain_dataset(tmp_path) -> None:
    from qt.data.sources.files import ParquetData
    from qt.data.storage import open_store

    frame = bars_frame()[["timestamp", "symbol", "close"]]
    with open_store("parquet", data_dir=str(tmp_path)) as store:
        write(store, frame)
        write(store, frame.iloc[:3].assign(close=lambda f: f.close + 1))  # the merge re-reads the narrow files
        assert set(store.read().fields) == {Field.CLOSE}
        panel = ParquetData(path=str(store.root)).load()
    assert set(panel.fields) == {Field.CLOSE}
    assert panel.close[0].tolist() == [101.25, 110.25]  # AAPL day 1 went up by 1; MSFT as written


def test_a_panel_written_reads_back_with_the_same_fingerprint(store: BarStore) -> None:
    from qt.data.panel import BarPanel
    from qt.data.sources.synthetic import SyntheticData
    from qt.data.storage.base import BarSet

    panel = SyntheticData(n_assets=7, n_days=60, seed=4, staggered=True).load()  # listings and delistings: NaN
    store.write(BarSet.from_panel(panel, SymbolMeta(source="synthetic")), chunk_rows=50)
    back = store.read()
    # a store keeps bars, not empty timestamps: compare with the panel rebuilt from its bars
    expected = BarPanel.from_frame(panel.to_frame())
    assert expected.n_bars == 55 and back.symbols == panel.symbols
    assert back.fingerprint() == expected.fingerprint()
