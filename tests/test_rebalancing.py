"""Calendar rebalancing: the last bar of each period present in the data."""

from __future__ import annotations

import numpy as np
import pytest

from qt.rebalancing import Calendar

# Thu 2024-03-28, (Fri 29 Good Friday missing), Mon 04-01 ... Tue 04-30, Wed 05-01
DAYS = np.array(
    ["2024-03-27", "2024-03-28", "2024-04-01", "2024-04-05", "2024-04-08", "2024-06-28", "2024-07-01"],
    dtype="datetime64[us]",
)


def chosen(rule: Calendar) -> list[str]:
    return [str(d)[:10] for d in DAYS[rule.schedule(DAYS)]]


def test_monthly_is_the_last_bar_of_each_month_present():
    assert chosen(Calendar(frequency="monthly")) == ["2024-03-28", "2024-04-08", "2024-06-28", "2024-07-01"]


def test_weekly_weeks_run_monday_to_sunday():
    assert chosen(Calendar(frequency="weekly")) == [
        "2024-03-28",
        "2024-04-05",
        "2024-04-08",
        "2024-06-28",
        "2024-07-01",
    ]


def test_quarterly_and_daily():
    assert chosen(Calendar(frequency="quarterly")) == ["2024-03-28", "2024-06-28", "2024-07-01"]
    assert chosen(Calendar(frequency="daily")) == [str(d)[:10] for d in DAYS]


def test_offset_moves_earlier_inside_the_period():
    # April has bars 04-01, 04-05, 04-08: offset 1 -> 04-05; March has 03-27, 03-28 -> 03-27
    assert chosen(Calendar(frequency="monthly", offset=1))[:2] == ["2024-03-27", "2024-04-05"]
    # a period shorter than the offset decides on its first bar
    assert chosen(Calendar(frequency="monthly", offset=5))[-1] == "2024-07-01"


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="offset"):
        Calendar(offset=-1)
    with pytest.raises(ValueError, match="frequency"):
        Calendar(frequency="hourly")
