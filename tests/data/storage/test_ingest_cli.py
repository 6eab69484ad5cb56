"""`qt data ingest` through the real CLI on every backend: bad rows, --skip-bad-rows, re-ingest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

HEADER = "date,symbol,open,high,low,close,volume\n"
GOOD = [
    "2024-01-02,AAPL,10,11,9,10.5,100",  # row 1
    "2024-01-02,MSFT,20,21,19,20.5,200",  # row 2
    "2024-01-03,AAPL,10.5,11.5,10,11,100",  # row 3
]
BAD = [
    "2024-01-03,AAPL,10.5,11.5,10,11,100",  # row 4: a copy of row 3
    "2024-01-03,MSFT,20,21,19,-20.5,200",  # row 5: negative close
    "2024-01-04,AAPL,11,10,12,11,100",  # row 6: high < low
    "not-a-date,MSFT,20,21,19,20.5,200",  # row 7: bad timestamp
]
LAST = ["2024-01-04,MSFT,20,21,19,20.7,200"]  # row 8


def bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text(HEADER + "\n".join(GOOD + BAD + LAST) + "\n")
    return path


def test_bad_rows_are_named_and_nothing_is_loaded(tmp_path, store_spec, helpers, qt_cli) -> None:
    path = bad_file(tmp_path)
    out = qt_cli("data", "ingest", str(path), env=helpers.env(store_spec))
    assert out.returncode == 2, out.stderr
    err = out.stderr
    assert "row 4 (2024-01-03 00:00:00, AAPL): duplicate (timestamp, symbol): a copy of row 3" in err
    assert "row 5 (2024-01-03 00:00:00, MSFT): close: price must be > 0, got -20.5" in err
    assert "row 6 (2024-01-04 00:00:00, AAPL): high must be >= open, close, low" in err
    assert "row 7 (NaT, MSFT): timestamp is not a date, got 'not-a-date'" in err
    assert "4 bad row(s) of 8; nothing was loaded" in err
    assert "Traceback" not in err
    with helpers.open(store_spec) as store:
        assert store.coverage() == []
    assert not (tmp_path / "prices.rejects.csv").exists()


def test_skip_bad_rows_loads_exactly_the_good_rows(tmp_path, store_spec, helpers, qt_cli) -> None:
    path = bad_file(tmp_path)
    out = qt_cli("data", "ingest", str(path), "--skip-bad-rows", env=helpers.env(store_spec))
    assert out.returncode == 0, out.stderr
    assert "loaded" in out.stdout and "4 rows of 2 symbol(s)" in out.stdout
    expected = pd.read_csv(pd.io.common.StringIO(HEADER + "\n".join(GOOD + LAST)))
    with helpers.open(store_spec) as store:
        _, bars, _, _ = helpers.snapshot(store)
    assert bars["symbol"].tolist() == ["AAPL", "AAPL", "MSFT", "MSFT"]
    assert [str(t)[:10] for t in bars["timestamp"]] == ["2024-01-02", "2024-01-03", "2024-01-02", "2024-01-04"]
    want = expected.sort_values(["symbol", "date"]).reset_index(drop=True)
    for col in ("open", "high", "low", "close", "volume"):
        assert bars[col].tolist() == want[col].astype(float).tolist(), col
    rejects = pd.read_csv(tmp_path / "prices.rejects.csv")
    assert rejects["row"].tolist() == [4, 5, 6, 7]
    assert rejects["symbol"].tolist() == ["AAPL", "MSFT", "AAPL", "MSFT"]
    assert rejects["date"].tolist()[3] == "not-a-date"
    assert "a copy of row 3" in rejects["reason"][0]
    assert "price must be > 0" in rejects["reason"][1]
    assert "high must be >= open, close, low" in rejects["reason"][2]
    assert "not a date" in rejects["reason"][3]


def test_reingest_changes_nothing(tmp_path, store_spec, helpers, qt_cli) -> None:
    path = tmp_path / "good.csv"
    path.write_text(HEADER + "\n".join(GOOD + LAST) + "\n")
    env = helpers.env(store_spec)
    first = qt_cli("data", "ingest", str(path), env=env)
    assert first.returncode == 0, first.stderr
    assert "(4 new or changed, 0 unchanged)" in first.stdout
    with helpers.open(store_spec) as store:
        before = helpers.snapshot(store)
    second = qt_cli("data", "ingest", str(path), env=env)
    assert second.returncode == 0, second.stderr
    assert "(0 new or changed, 4 unchanged)" in second.stdout
    with helpers.open(store_spec) as store:
        after = helpers.snapshot(store)
    assert before[0] == after[0] and before[3] == after[3]
    pd.testing.assert_frame_equal(before[1], after[1])


def test_report_shows_first_20_and_a_count(tmp_path, qt_cli) -> None:
    lines = [f"2024-01-{d:02d},S{i},{-1 if i < 25 else 1}" for d in (2,) for i in range(30)]
    path = tmp_path / "many.csv"
    path.write_text("date,symbol,close\n" + "\n".join(lines) + "\n")
    out = qt_cli("data", "ingest", str(path), env={"QT_DATA_DIR": str(tmp_path / "store"), "QT_STORE": "duckdb"})
    assert out.returncode == 2
    shown = [ln for ln in out.stderr.splitlines() if ln.strip().startswith("row ")]
    assert len(shown) == 20
    assert shown[0].strip().startswith("row 1 (2024-01-02 00:00:00, S0): close: price must be > 0, got -1")
    assert "... and 5 more" in out.stderr
    assert "25 bad row(s) of 30; nothing was loaded" in out.stderr


def test_ls_show_and_adjustments_from_the_file(tmp_path, qt_cli) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        "date,symbol,close,volume,split_ratio,dividend\n"
        "2024-01-02,X,100,10,,\n2024-01-03,X,102,10,,\n2024-01-04,X,50,20,2,\n"
        "2024-01-05,X,51,20,,0.5\n2024-01-08,X,52,20,,\n"
    )
    env = {"QT_DATA_DIR": str(tmp_path / "store")}
    assert qt_cli("data", "ingest", str(path), env=env).returncode == 0
    ls = qt_cli("data", "ls", env=env)
    assert ls.returncode == 0, ls.stderr
    assert ls.stdout.splitlines()[1].split() == ["X", "2024-01-02", "2024-01-08", "5", "-", "x.csv"]
    adjusted = qt_cli("data", "show", "X", "--start", "2024-01-01", env=env)
    assert adjusted.returncode == 0, adjusted.stderr
    # 100 x 0.5 x (1 - 0.5 / 50) = 49.5 ; raw stays 100
    assert _row(adjusted.stdout, "2024-01-02") == [49.5, 20.0]
    assert _row(adjusted.stdout, "2024-01-03") == [50.49, 20.0]
    assert "missing XNYS sessions: 0" in adjusted.stdout
    raw = qt_cli("data", "show", "X", "--raw", env=env)
    assert _row(raw.stdout, "2024-01-02") == [100.0, 10.0]
    assert qt_cli("data", "rm", "X", env=env).stdout.startswith("removed X: 5 bars")
    assert "empty" in qt_cli("data", "ls", env=env).stdout


def _row(text: str, date: str) -> list[float]:
    line = next(ln for ln in text.splitlines() if ln.startswith(date))
    return [float(v) for v in line.split()[1:]]


def _manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def test_qt_run_from_each_store_sees_the_same_data_as_the_csv(tmp_path, store_spec, helpers, qt_cli) -> None:
    from qt.data.sources.sample import SampleData

    frame = SampleData(dataset="sp500_20").load().between("2010-01-01", "2014-12-31").to_frame()
    frame = frame[frame.symbol.isin(["AAPL", "JNJ", "KO", "MSFT", "PG", "XOM"])]
    csv = tmp_path / "six.csv"
    frame.to_csv(csv, index=False)
    env = helpers.env(store_spec)
    assert qt_cli("data", "ingest", str(csv), env=env).returncode == 0
    common = ["strategy=xmom", "start=2011-01-01", "end=2014-12-31"]
    ref = qt_cli("run", *common, "data=csv", f"data.path={csv}", f"hydra.run.dir={tmp_path / 'ref'}")
    assert ref.returncode == 0, ref.stderr
    extra = [f"data.data_dir={store_spec['data_dir']}"] if "data_dir" in store_spec else []
    got = qt_cli(
        "run",
        *common,
        "data=store",
        f"data.store={store_spec['kind']}",
        "data.symbols=[AAPL,JNJ,KO,MSFT,PG,XOM]",
        *extra,
        f"hydra.run.dir={tmp_path / 'store'}",
        env=env,
    )
    assert got.returncode == 0, got.stderr
    assert _manifest(tmp_path / "store")["data_fingerprint"] == _manifest(tmp_path / "ref")["data_fingerprint"]
    ref_m = json.loads((tmp_path / "ref" / "metrics.json").read_text())
    got_m = json.loads((tmp_path / "store" / "metrics.json").read_text())
    assert got_m == ref_m


def test_qt_run_reads_a_hive_partitioned_parquet_folder(tmp_path, qt_cli) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    dates = pd.bdate_range("2020-01-01", periods=400)
    root = tmp_path / "bars"
    for k, sym in enumerate(["0700", "AAPL", "MSFT"]):
        close = 100.0 * np.exp(np.cumsum(np.full(len(dates), 0.001 * (k + 1))))
        part = root / f"symbol={sym}"
        part.mkdir(parents=True)
        pq.write_table(
            pa.table({"timestamp": dates.values.astype("datetime64[us]"), "close": close}), part / "a.parquet"
        )
    from qt.data.sources.files import ParquetData

    panel = ParquetData(path=str(root)).load()
    assert panel.symbols == ("0700", "AAPL", "MSFT")
    assert panel.n_bars == 400
    out = qt_cli("run", "strategy=xmom", "data=parquet", f"data.path={root}", f"hydra.run.dir={tmp_path / 'run'}")
    assert out.returncode == 0, out.stderr


def test_intraday_file_with_tz_and_column_mapping(tmp_path, qt_cli) -> None:
    path = tmp_path / "spy.csv"
    path.write_text(
        "Time,Ticker,Last\n2024-03-08 09:30:00,SPY,510.5\n2024-03-08 15:55:00,SPY,511\n2024-03-11 09:30:00,SPY,512.25\n"
    )
    env = {"QT_DATA_DIR": str(tmp_path / "store")}
    out = qt_cli(
        "data",
        "ingest",
        str(path),
        "--columns",
        "Time=timestamp,Ticker=symbol,Last=close",
        "--tz",
        "America/New_York",
        env=env,
    )
    assert out.returncode == 0, out.stderr
    ls = qt_cli("data", "ls", env=env).stdout.splitlines()[1].split()
    # first and last in New York time, across the DST change (-05:00 then -04:00)
    assert ls[:5] == ["SPY", "2024-03-08", "09:30:00-05:00", "2024-03-11", "09:30:00-04:00"]
    assert ls[6] == "America/New_York"
    bad = qt_cli("data", "ingest", str(path), "--columns", "Time", env=env)
    assert bad.returncode == 2 and "--columns: expected SOURCE=BAR pairs" in bad.stderr


def test_one_transaction_per_file(tmp_path, qt_cli) -> None:
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "\n".join(GOOD) + "\n")
    bad = bad_file(tmp_path)
    env = {"QT_DATA_DIR": str(tmp_path / "store")}
    out = qt_cli("data", "ingest", str(good), str(bad), env=env)
    assert out.returncode == 2
    assert "loaded" in out.stdout and "good.csv: 3 rows of 2 symbol(s)" in out.stdout
    assert "prices.csv: 6 problem(s)" in out.stderr
    ls = qt_cli("data", "ls", env=env).stdout
    assert "2 symbol(s), 3 bars" in ls  # the first file landed whole, the second not at all
