"""data=store: StoreData reads a window of symbols; with a calendar, month ends are exchange month ends."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pydantic
import pytest

from qt.data.calendars import sessions
from qt.data.sources.store import StoreData
from qt.data.storage import open_store
from qt.data.storage.base import PriceBasis
from qt.data.storage.ingest import to_barset
from qt.rebalancing import Calendar


def _fill(data_dir: str) -> None:
    days = pd.DatetimeIndex(sessions("2020-01-02", "2020-02-28"))
    days = days[days != "2020-01-31"]  # nobody has a bar on January's last session
    frame = pd.DataFrame(
        {"timestamp": np.repeat(days, 2), "symbol": ["A", "B"] * len(days), "close": np.arange(2 * len(days)) + 1.0}
    )
    empty = frame.iloc[:0].assign(split_ratio=[], dividend=[], factor=[])
    with open_store("duckdb", data_dir=data_dir) as store:
        store.write(to_barset(frame, empty, source="t", currency="USD", prices=PriceBasis.RAW))


def test_window_symbols_and_calendar_month_ends(tmp_path) -> None:
    _fill(str(tmp_path))
    plain = StoreData(
        store="duckdb", data_dir=str(tmp_path), symbols=["B"], start=dt.date(2020, 1, 6), end="2020-02-28"
    )
    panel = plain.load()
    assert panel.symbols == ("B",)
    assert str(panel.timestamps[0])[:10] == "2020-01-06"
    month_end = panel.timestamps[Calendar(frequency="monthly").schedule(panel.timestamps)]
    assert [str(t)[:10] for t in month_end] == ["2020-01-30", "2020-02-28"]  # the data's last bar of January

    aligned = StoreData(store="duckdb", data_dir=str(tmp_path), calendar="XNYS").load()
    month_end = aligned.timestamps[Calendar(frequency="monthly").schedule(aligned.timestamps)]
    assert [str(t)[:10] for t in month_end] == ["2020-01-31", "2020-02-28"]  # the exchange's last session
    jan31 = int(np.flatnonzero(aligned.timestamps == np.datetime64("2020-01-31", "us"))[0])
    assert np.isnan(aligned.close[jan31]).all()


def test_bad_settings_are_rejected_by_name() -> None:
    with pytest.raises(pydantic.ValidationError, match="must name at least one symbol"):
        StoreData(symbols=[])
    with pytest.raises(pydantic.ValidationError, match="store"):
        StoreData(store="sqlite")
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        StoreData(symbol=["A"])
