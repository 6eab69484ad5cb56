"""Bars and account data from the gateway simulator, checked against the qt panel they come from."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from ib_async import Stock

from qt.data.sources.sample import SampleData, SampleSet
from qt.live.ibsim.wire import InMsg


@pytest.fixture(scope="module")
def ohlcv():
    return SampleData(dataset=SampleSet.SPX_NASDAQ_OHLCV).load()


def test_historical_daily_bars_equal_the_data_sources_bars(run_gateway, connect, ohlcv) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            [c] = await ib.qualifyContractsAsync(Stock("SPX", "SMART", "USD"))
            return await ib.reqHistoricalDataAsync(c, "", "1 M", "1 day", "TRADES", True)

    start = ohlcv.n_bars - 101  # "now" is 100 bars before the end
    bars = run_gateway(body, panel=ohlcv, start=start)
    # expected, straight from the panel: bars in (now - 1 month, now]
    frame = pd.DataFrame(
        {f.value: ohlcv.fields[f][:, ohlcv.symbols.index("SPX")] for f in ohlcv.fields},
        index=pd.DatetimeIndex(ohlcv.timestamps),
    ).iloc[: start + 1]
    now = frame.index[-1]
    expected = frame[frame.index > now - pd.DateOffset(months=1)].dropna(subset=["close"])
    assert len(bars) == len(expected) > 15
    assert [b.date for b in bars] == [ts.date() for ts in expected.index]
    for col in ("open", "high", "low", "close", "volume"):
        assert np.array_equal([getattr(b, col) for b in bars], expected[col].to_numpy()), col


def test_history_never_reaches_past_the_replay_cursor_and_other_sizes_are_refused(run_gateway, connect, panel) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            [c] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
            later = await ib.reqHistoricalDataAsync(
                c, dt.datetime(2030, 1, 1, tzinfo=dt.UTC), "1 Y", "1 day", "TRADES", True
            )
            errors: list[int] = []
            ib.errorEvent += lambda req_id, code, text, contract: errors.append(code)
            minutes = await ib.reqHistoricalDataAsync(c, "", "1 D", "1 min", "TRADES", True)
            return later, minutes, errors

    later, minutes, errors = run_gateway(body)
    # start=3: bars of 2024-01-01 .. 2024-01-04 only, closes 100..103
    assert [b.close for b in later] == [100.0, 101.0, 102.0, 103.0]
    assert later[-1].date == dt.date(2024, 1, 4)
    assert list(minutes) == [] and errors == [162]


def test_real_time_bars_stream_the_panels_next_bars_and_can_be_stopped(run_gateway, connect, panel) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            [c] = await ib.qualifyContractsAsync(Stock("MSFT", "SMART", "USD"))
            bars = ib.reqRealTimeBars(c, 5, "TRADES", False)
            assert await gw.wait_until(lambda: gw.record.count(InMsg.REQ_REAL_TIME_BARS, symbol="MSFT") == 1)
            assert await gw.step(2) == 2
            assert await gw.wait_until(lambda: len(bars) == 2)
            gw.script.stop_bars()
            await gw.step()
            assert not await gw.wait_until(lambda: len(bars) > 2, timeout=0.1)
            gw.script.resume_bars()
            await gw.step()
            assert await gw.wait_until(lambda: len(bars) == 3)
            assert await gw.step(5) == 0  # the data has ended: bar 7 is the last
            return list(bars)

    bars = run_gateway(body)
    assert [b.close for b in bars] == [204.0, 205.0, 207.0]  # bar 6 (206) was withheld
    assert [b.volume for b in bars] == [5000.0, 6000.0, 8000.0]
    assert bars[0].time == dt.datetime(2024, 1, 5, tzinfo=dt.UTC)


def test_streaming_replays_at_the_configured_interval(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            [c] = await ib.qualifyContractsAsync(Stock("GE", "SMART", "USD"))
            bars = ib.reqRealTimeBars(c, 5, "TRADES", False)
            assert await gw.wait_until(lambda: gw.record.count(InMsg.REQ_REAL_TIME_BARS) == 1)
            gw.start_streaming(0.01)
            assert await gw.wait_until(lambda: len(bars) == 4, timeout=3.0)
            return [b.close for b in bars]

    assert run_gateway(body) == [14.0, 15.0, 16.0, 17.0]


def test_fills_use_the_price_of_the_replayed_bar(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            [c] = await ib.qualifyContractsAsync(Stock("GE", "SMART", "USD"))
            await gw.step(2)
            from ib_async import MarketOrder

            trade = ib.placeOrder(c, MarketOrder("BUY", 10, orderRef="ge"))
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Filled")
            return trade.orderStatus.avgFillPrice

    assert run_gateway(body) == 15.0


def test_account_summary_and_market_data_ticks(run_gateway, connect) -> None:
    async def body(gw):
        gw.broker.set_position("AAPL", 10, 100.0)
        async with connect(gw) as ib:
            summary = {v.tag: v.value for v in await ib.accountSummaryAsync()}
            [c] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
            ticker = ib.reqMktData(c)
            assert await gw.wait_until(lambda: ticker.last == 103.0)
            assert gw.record.count(InMsg.REQ_MKT_DATA, symbol="AAPL") == 1
            await gw.step()
            assert await gw.wait_until(lambda: ticker.last == 104.0)
            return summary

    summary = run_gateway(body)
    assert float(summary["NetLiquidation"]) == 1_000_000 + 10 * 103.0
    assert float(summary["GrossPositionValue"]) == 10 * 103.0
    assert float(summary["TotalCashValue"]) == 1_000_000
    assert summary["AccountType"] == "INDIVIDUAL"


def test_execution_times_are_written_in_the_configured_zone_and_read_back_as_the_same_instant(
    run_gateway, connect
) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            [c] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
            from ib_async import MarketOrder

            trade = ib.placeOrder(c, MarketOrder("BUY", 1, orderRef="tz"))
            assert await gw.wait_until(lambda: trade.orderStatus.status == "Filled")
        async with connect(gw) as ib:
            [fill] = ib.fills()
        return fill.execution.time, gw.broker.executions[0].time

    got, booked = run_gateway(body, time_zone="US/Eastern")
    assert got.utcoffset() == dt.timedelta(0)  # ib_async converts to UTC
    assert got == booked.replace(microsecond=0)


def test_history_kept_up_to_date_gets_each_replayed_bar(run_gateway, connect) -> None:
    async def body(gw):
        async with connect(gw) as ib:
            [c] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
            bars = await ib.reqHistoricalDataAsync(c, "", "2 D", "1 day", "TRADES", True, keepUpToDate=True)
            assert [b.close for b in bars] == [102.0, 103.0]
            await gw.step()
            assert await gw.wait_until(lambda: len(bars) == 3)
            return bars[-1]

    last = run_gateway(body)
    assert (last.date, last.close, last.volume) == (dt.date(2024, 1, 5), 104.0, 5000.0)
