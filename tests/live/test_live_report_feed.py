"""The replay's pace: ``live.bar_seconds`` (wall seconds per bar) or ``live.speed`` (x market time), kept to the clock."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from pydantic import ValidationError

from qt.data.sources.synthetic import SyntheticData
from qt.live.feeds import ReplayFeed, expected_bars
from qt.live.settings import LiveSettings


def replay(feed: ReplayFeed, work: float = 0.0) -> tuple[float, int]:
    """Seconds to drain ``feed`` (spending ``work`` seconds on each bar, as a session would), and bars seen."""

    async def drain() -> int:
        n = 0
        async for _ in feed.bars():
            n += 1
            time.sleep(work)
        return n

    started = time.monotonic()
    n = asyncio.run(drain())
    return time.monotonic() - started, n


def test_bar_seconds_delivers_one_bar_per_period_and_the_session_time_does_not_add_up():
    panel = SyntheticData(n_assets=2, n_days=30).load()
    feed = ReplayFeed(panel, start=20, bar_seconds=0.05)
    assert feed.expected == expected_bars(feed) == 10
    seconds, n = replay(feed, work=0.03)  # 30 ms of work inside each 50 ms period
    assert n == 10 and 9 * 0.05 <= seconds < 9 * 0.05 + 0.25  # not 9 * (0.05 + 0.03)


def test_speed_is_a_multiple_of_market_time():
    panel = SyntheticData(n_assets=2, n_days=10).load()  # business days: a weekend gap is 3 days of market time
    feed = ReplayFeed(panel, start=0, speed=86_400 / 0.02)  # a market day in 20 ms
    market_days = float((panel.timestamps[-1] - panel.timestamps[0]) / np.timedelta64(1, "D"))  # 13 for 10 bars
    assert feed.offset(panel.n_bars - 1) == pytest.approx(market_days * 0.02)
    seconds, n = replay(feed)
    assert n == 10 and market_days * 0.02 <= seconds < market_days * 0.02 + 0.25


def test_max_speed_waits_for_nothing_and_a_stalled_replay_expects_fewer_bars():
    panel = SyntheticData(n_assets=2, n_days=200).load()
    seconds, n = replay(ReplayFeed(panel, start=0))
    assert n == 200 and seconds < 1.0
    assert ReplayFeed(panel, start=0, stall_after=7).expected == 7
    assert expected_bars(object()) is None  # a real-time feed: no total


def test_live_settings_name_the_key_and_refuse_both_paces():
    assert LiveSettings(bar_seconds=0.24).bar_seconds == 0.24
    with pytest.raises(ValidationError, match="greater than 0") as err:
        LiveSettings(bar_seconds=0)
    assert err.value.errors()[0]["loc"] == ("bar_seconds",)
    with pytest.raises(ValidationError, match=r"set live.speed or live.bar_seconds, not both \(live.speed=60"):
        LiveSettings(speed=60, bar_seconds=0.5)
    with pytest.raises(ValueError, match="not both"):
        ReplayFeed(SyntheticData(n_assets=2, n_days=5).load(), start=0, speed=2.0, bar_seconds=1.0)
