"""Exchange calendars: sessions, missing sessions, aligning bars to sessions, resampling.

Backed by ``exchange-calendars`` (XNYS by default). Daily bars are naive dates; intraday
tz-aware bars belong to the session of their local date in the exchange's time zone.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from qt.data.panel import BarPanel
from qt.enums import Field, Frequency
from qt.errors import ConfigError, DataError

DEFAULT_CALENDAR = "XNYS"


@functools.lru_cache(maxsize=16)
def _calendar(name: str, start_year: int, end_year: int) -> Any:
    import warnings

    import exchange_calendars as xcals

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return xcals.get_calendar(name, start=f"{start_year}-01-01", end=f"{end_year}-12-31")
    except xcals.errors.InvalidCalendarName:
        import difflib

        close = difflib.get_close_matches(name, xcals.get_calendar_names(include_aliases=True), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError("calendar", f"unknown exchange calendar {name!r}{hint}; e.g. XNYS, XLON, XTKS") from None


def _bounded(name: str, first: np.datetime64, last: np.datetime64) -> Any:
    years = np.array([first, last]).astype("datetime64[Y]").astype(int) + 1970
    return _calendar(name, int(max(years[0] - 1, 1900)), int(years[1] + 1))


def sessions(start: str | np.datetime64, end: str | np.datetime64, calendar: str = DEFAULT_CALENDAR) -> np.ndarray:
    """The trading sessions from ``start`` to ``end`` (inclusive) as datetime64[us] dates.

    Examples
    --------
    >>> [str(d)[:10] for d in sessions("2024-07-03", "2024-07-08")]
    ['2024-07-03', '2024-07-05', '2024-07-08']
    """
    lo, hi = np.datetime64(str(start)[:10], "D"), np.datetime64(str(end)[:10], "D")
    cal = _bounded(calendar, lo, hi)
    every = np.asarray(cal.sessions.values, dtype="datetime64[D]")
    return every[(every >= lo) & (every <= hi)].astype("datetime64[us]")


def session_dates(panel: BarPanel, calendar: str = DEFAULT_CALENDAR) -> np.ndarray:
    """Each bar's session date (datetime64[D]): its date, or for tz-aware bars its local date at the exchange."""
    if panel.tz is None:
        return panel.timestamps.astype("datetime64[D]")
    import pandas as pd

    first, last = panel.timestamps[0], panel.timestamps[-1]
    zone = _bounded(calendar, first.astype("datetime64[D]"), last.astype("datetime64[D]")).tz
    local = pd.DatetimeIndex(panel.timestamps).tz_localize("UTC").tz_convert(zone).tz_localize(None)
    return np.asarray(local.values, dtype="datetime64[D]")


def missing_sessions(panel: BarPanel, calendar: str = DEFAULT_CALENDAR) -> dict[str, list[np.datetime64]]:
    """For each symbol, the sessions between its first and last bar on which it has no bar.

    Examples
    --------
    >>> from qt.testing.panels import daily_panel
    >>> p = daily_panel([[1.0], [1.0], [1.0]], start="2024-07-02")  # Jul 2, 3, 4 (a holiday)
    >>> missing_sessions(p)
    {'A': []}
    """
    days = session_dates(panel, calendar)
    grid = sessions(days[0], days[-1], calendar).astype("datetime64[D]")
    present = np.zeros((len(grid), panel.n_assets), dtype=bool)
    pos = np.searchsorted(grid, days)
    on_grid = (pos < len(grid)) & (grid[pos.clip(0, len(grid) - 1)] == days)
    rows, cols = np.nonzero(panel.tradable & on_grid[:, None])
    present[pos[rows], cols] = True
    out: dict[str, list[np.datetime64]] = {}
    for j, symbol in enumerate(panel.symbols):
        have = np.flatnonzero(present[:, j])
        if len(have) == 0:
            out[symbol] = []
            continue
        span = np.arange(have[0], have[-1] + 1)
        out[symbol] = list(grid[span[~present[span, j]]])
    return out


def align_to_sessions(panel: BarPanel, calendar: str = DEFAULT_CALENDAR, *, drop_off_session: bool = False) -> BarPanel:
    """Daily bars on the calendar's sessions from first to last bar; sessions without data are NaN rows.

    Bars dated on non-sessions (weekends, holidays) are an error naming them, or dropped.
    """
    if panel.tz is not None:
        raise DataError(f"{panel.name}: align_to_sessions takes daily (naive) bars; these are intraday in {panel.tz}")
    days = panel.timestamps.astype("datetime64[D]")
    if len(np.unique(days)) != len(days):
        raise DataError(f"{panel.name}: more than one bar per day; align_to_sessions takes daily bars")
    grid = sessions(days[0], days[-1], calendar)
    pos = np.searchsorted(grid.astype("datetime64[D]"), days).clip(0, len(grid) - 1)
    on = grid.astype("datetime64[D]")[pos] == days
    if not on.all():
        off = days[~on]
        if not drop_off_session:
            shown = ", ".join(str(d) for d in off[:10])
            raise DataError(
                f"{panel.name}: {len(off)} bar(s) on days that are not {calendar} sessions ({shown}); "
                "fix the dates, choose another calendar, or drop them"
            )
    fields = {}
    for f, arr in panel.fields.items():
        out = np.full((len(grid), panel.n_assets), np.nan)
        out[pos[on]] = arr[on]
        fields[f] = out
    return BarPanel(grid, panel.symbols, fields, tz=None, name=panel.name)


def period_keys(dates: np.ndarray, frequency: Frequency) -> np.ndarray:
    """An integer per date, equal within a calendar period (weeks run Monday to Sunday)."""
    days = dates.astype("datetime64[D]").astype(np.int64)
    if frequency is Frequency.DAILY:
        return days
    if frequency is Frequency.WEEKLY:
        return (days + 3) // 7  # 1970-01-01 was a Thursday
    months = dates.astype("datetime64[M]").astype(np.int64)
    return months if frequency is Frequency.MONTHLY else months // 3


def period_ends(dates: np.ndarray, frequency: Frequency) -> np.ndarray:
    """Bool mask: the last of ``dates`` (sorted) in each period.

    On a calendar's sessions this marks e.g. the last trading day of each month.

    Examples
    --------
    >>> s = sessions("2024-05-27", "2024-06-04")
    >>> [str(d)[:10] for d in s[period_ends(s, Frequency.MONTHLY)]]
    ['2024-05-31', '2024-06-04']
    """
    keys = period_keys(dates, frequency)
    last = np.ones(len(keys), dtype=bool)
    last[:-1] = keys[1:] != keys[:-1]
    return last


def last_trading_days(
    start: str, end: str, frequency: Frequency = Frequency.MONTHLY, calendar: str = DEFAULT_CALENDAR
) -> np.ndarray:
    """The last session of each period between ``start`` and ``end`` (a partial last period included).

    Examples
    --------
    >>> [str(d)[:10] for d in last_trading_days("2024-01-01", "2024-04-30")]
    ['2024-01-31', '2024-02-29', '2024-03-28', '2024-04-30']
    """
    grid = sessions(start, end, calendar)
    return grid[period_ends(grid, frequency)]


def resample(panel: BarPanel, frequency: Frequency, calendar: str = DEFAULT_CALENDAR) -> BarPanel:
    """Daily (or intraday) bars to weekly, monthly or quarterly bars, per symbol.

    open = first open, high = max, low = min, close = last close, volume = sum, over the
    bars each symbol has in the period; the bar is stamped with the period's last bar.
    """
    frequency = Frequency(frequency)
    keys = period_keys(session_dates(panel, calendar), frequency)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)] - 1
    rows = np.arange(panel.n_bars)[:, None]
    cols = np.arange(panel.n_assets)[None, :]
    has_bar = np.add.reduceat(panel.tradable.astype(np.int64), starts, axis=0) > 0
    fields: dict[Field, np.ndarray] = {}
    for f, arr in panel.fields.items():
        valid = np.isfinite(arr)
        if f is Field.OPEN:
            first = np.minimum.reduceat(np.where(valid, rows, panel.n_bars), starts, axis=0)
            out = np.where(first < panel.n_bars, arr[first.clip(0, panel.n_bars - 1), cols], np.nan)
        elif f is Field.CLOSE:
            lastrow = np.maximum.reduceat(np.where(valid, rows, -1), starts, axis=0)
            out = arr[lastrow.clip(0), cols]
        elif f is Field.HIGH:
            out = np.fmax.reduceat(arr, starts, axis=0)
        elif f is Field.LOW:
            out = np.fmin.reduceat(arr, starts, axis=0)
        else:
            out = np.add.reduceat(np.where(valid, arr, 0.0), starts, axis=0)
        fields[f] = np.where(has_bar, out, np.nan)
    return BarPanel(panel.timestamps[ends], panel.symbols, fields, tz=panel.tz, name=f"{panel.name}@{frequency.value}")
