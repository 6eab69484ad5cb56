"""Exchange calendars: known XNYS holidays, missing sessions, alignment, resampling vs pandas, tz-aware bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qt.data.calendars import (
    align_to_sessions,
    last_trading_days,
    missing_sessions,
    period_ends,
    resample,
    session_dates,
    sessions,
)
from qt.data.panel import BarPanel
from qt.enums import Field, Frequency
from qt.errors import ConfigError, DataError


def _dates(values: np.ndarray) -> list[str]:
    return [str(v)[:10] for v in values]


def test_xnys_2020_has_253_sessions_and_none_of_its_holidays() -> None:
    days = set(_dates(sessions("2020-01-01", "2020-12-31")))
    assert len(days) == 253
    holidays = [
        "2020-01-01",
        "2020-01-20",
        "2020-02-17",
        "2020-04-10",
        "2020-05-25",
        "2020-07-03",
        "2020-09-07",
        "2020-11-26",
        "2020-12-25",
    ]  # New Year, MLK, Presidents, Good Friday, Memorial, Independence (observed), Labor, Thanksgiving, Christmas
    assert not days & set(holidays)
    assert {"2020-01-02", "2020-07-02", "2020-07-06", "2020-11-27", "2020-12-24"} <= days
    assert all(pd.Timestamp(d).day_of_week < 5 for d in days)


def test_xnys_unscheduled_closures_are_absent() -> None:
    assert _dates(sessions("2001-09-10", "2001-09-18")) == ["2001-09-10", "2001-09-17", "2001-09-18"]  # 9/11
    assert _dates(sessions("2012-10-26", "2012-11-01")) == ["2012-10-26", "2012-10-31", "2012-11-01"]  # Sandy


def test_last_trading_day_of_each_month() -> None:
    got = _dates(last_trading_days("2024-01-01", "2024-12-31"))
    assert got[2] == "2024-03-28"  # 29 March 2024 was Good Friday
    assert got[5] == "2024-06-28"  # the 30th was a Sunday
    assert got[11] == "2024-12-31"
    assert len(got) == 12
    weekly = _dates(last_trading_days("2024-07-01", "2024-07-12", Frequency.WEEKLY))
    assert weekly == ["2024-07-05", "2024-07-12"]


def _panel(frame: pd.DataFrame) -> BarPanel:
    return BarPanel.from_frame(frame.sort_values(["timestamp", "symbol"]).reset_index(drop=True))


def test_missing_sessions_and_alignment() -> None:
    days = pd.to_datetime(["2020-07-01", "2020-07-02", "2020-07-06", "2020-07-07", "2020-07-08", "2020-07-09"])
    frame = pd.DataFrame({"timestamp": np.repeat(days, 2), "symbol": ["A", "B"] * 6, "close": 1.0})
    frame = frame[~((frame.symbol == "A") & (frame.timestamp == "2020-07-07"))]  # A misses one session
    frame = frame[~((frame.symbol == "B") & (frame.timestamp == "2020-07-01"))]  # B starts late: not missing
    panel = _panel(frame)
    gaps = missing_sessions(panel)
    assert {k: _dates(np.array(v)) for k, v in gaps.items()} == {"A": ["2020-07-07"], "B": []}
    aligned = align_to_sessions(panel)
    assert _dates(aligned.timestamps) == [
        "2020-07-01",
        "2020-07-02",
        "2020-07-06",
        "2020-07-07",
        "2020-07-08",
        "2020-07-09",
    ]
    no_one = panel.between("2020-07-01", "2020-07-02")
    gap = BarPanel(
        np.concatenate([no_one.timestamps, panel.timestamps[-1:]]),
        panel.symbols,
        {Field.CLOSE: np.vstack([no_one.close, panel.close[-1:]])},
    )
    filled = align_to_sessions(gap)  # 07-06 .. 07-08 traded by nobody: NaN rows
    assert _dates(filled.timestamps)[2:5] == ["2020-07-06", "2020-07-07", "2020-07-08"]
    assert np.isnan(filled.close[2:5]).all()


def test_bars_on_holidays_are_named() -> None:
    days = pd.bdate_range("2020-07-01", "2020-07-07")  # includes Friday 3 July, a holiday
    panel = _panel(pd.DataFrame({"timestamp": days, "symbol": "A", "close": 1.0}))
    with pytest.raises(DataError, match=r"1 bar\(s\) on days that are not XNYS sessions \(2020-07-03\)"):
        align_to_sessions(panel)
    kept = align_to_sessions(panel, drop_off_session=True)
    assert "2020-07-03" not in _dates(kept.timestamps)


def _expected_resample(frame: pd.DataFrame, period: str) -> pd.DataFrame:
    """The same aggregation in plain pandas, per symbol and calendar period."""
    key = frame["timestamp"].dt.to_period(period)
    grouped = frame.groupby(["symbol", key], sort=True)
    out = grouped.agg(
        timestamp=("timestamp", "max"),
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
    )
    return out.reset_index(drop=True)


@pytest.mark.parametrize(("frequency", "period"), [(Frequency.WEEKLY, "W-SUN"), (Frequency.MONTHLY, "M")])
def test_resample_matches_pandas(frequency: Frequency, period: str) -> None:
    from qt.data.sources.synthetic import SyntheticData

    panel = SyntheticData(n_assets=4, n_days=130, seed=3, staggered=True).load()
    frame = panel.to_frame()
    got = resample(panel, frequency)
    want = _expected_resample(frame, period)
    # the resampled bar is stamped with the period's last bar in the panel (any symbol)
    keys = pd.Series(panel.timestamps).dt.to_period(period)
    period_last = pd.Series(panel.timestamps).groupby(keys).max()
    assert np.array_equal(got.timestamps, period_last.to_numpy(dtype="datetime64[us]"))
    back = got.to_frame().sort_values(["symbol", "timestamp"]).reset_index(drop=True)
    want["stamp"] = want["timestamp"].dt.to_period(period)
    back["stamp"] = back["timestamp"].dt.to_period(period)
    assert back["stamp"].tolist() == want["stamp"].tolist()
    for col in ("open", "high", "low", "close", "volume"):
        assert np.allclose(back[col], want[col], rtol=1e-12, atol=0), col


def test_intraday_bars_belong_to_their_local_session_and_resample_to_days() -> None:
    stamps = pd.DatetimeIndex(
        ["2024-03-11 13:30", "2024-03-11 19:55", "2024-03-12 13:30", "2024-03-12 20:00"], tz="UTC"
    ).tz_convert("America/New_York")
    frame = pd.DataFrame(
        {
            "timestamp": stamps,
            "symbol": "SPY",
            "open": [1.0, 2, 3, 4],
            "high": [5.0, 6, 7, 8],
            "low": [0.5, 1, 2, 3],
            "close": [2.0, 3, 4, 5],
            "volume": [10.0, 20, 30, 40],
        }
    )
    panel = _panel(frame)
    assert _dates(session_dates(panel)) == ["2024-03-11", "2024-03-11", "2024-03-12", "2024-03-12"]
    daily = resample(panel, Frequency.DAILY)
    assert daily.tz == "America/New_York"
    out = daily.to_frame()
    assert [str(t) for t in out["timestamp"]] == ["2024-03-11 15:55:00-04:00", "2024-03-12 16:00:00-04:00"]
    assert out[["open", "high", "low", "close", "volume"]].to_numpy().tolist() == [
        [1.0, 6.0, 0.5, 3.0, 30.0],
        [3.0, 8.0, 2.0, 5.0, 70.0],
    ]


def test_period_ends_on_sessions() -> None:
    s = sessions("2023-12-20", "2024-01-05")
    assert _dates(s[period_ends(s, Frequency.MONTHLY)]) == ["2023-12-29", "2024-01-05"]


def test_unknown_calendar_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown exchange calendar 'XNYZ'.*did you mean"):
        sessions("2024-01-01", "2024-01-31", calendar="XNYZ")
