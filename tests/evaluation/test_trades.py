"""FIFO round trips and P&L per symbol, checked on fills worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qt.evaluation.trades import contribution, round_trips, trade_stats


def fills(*rows) -> pd.DataFrame:
    """Rows of (day, symbol, side, quantity, price, fees)."""
    frame = pd.DataFrame(rows, columns=["timestamp", "symbol", "side", "quantity", "price", "fees"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


def test_fifo_round_trips_by_hand():
    f = fills(
        ("2024-01-01", "A", "buy", 10, 100.0, 1.0),  # lot 1: 10 @ 100, fee 0.1 a share
        ("2024-01-11", "A", "buy", 10, 110.0, 2.0),  # lot 2: 10 @ 110, fee 0.2 a share
        ("2024-01-21", "A", "sell", 15, 120.0, 3.0),  # closes lot 1 and 5 of lot 2
        ("2024-01-31", "A", "sell", 5, 90.0, 0.5),  # closes the rest of lot 2 at a loss
    )
    trips = round_trips(f)
    assert len(trips) == 2
    first, second = trips.iloc[0], trips.iloc[1]
    # 10 x (120 - 100) + 5 x (120 - 110) = 250; fees: 10 x 0.1 + 5 x 0.2 + 15 x 0.2 (the sale's 3.0) = 5
    assert first["pnl"] == pytest.approx(250.0 - 5.0)
    assert first["quantity"] == 15 and first["side"] == "long"
    assert first["entry"] == pytest.approx((10 * 100 + 5 * 110) / 15)
    assert first["return"] == pytest.approx(245.0 / 1550.0)
    assert first["days"] == pytest.approx((10 * 20 + 5 * 10) / 15)  # quantity-weighted days held
    assert first["opened"] == pd.Timestamp("2024-01-01")
    # 5 x (90 - 110) = -100; fees 5 x 0.2 + 0.5 = 1.5
    assert second["pnl"] == pytest.approx(-101.5)
    assert second["days"] == pytest.approx(20.0)
    stats = trade_stats(trips)
    assert stats["round_trips"] == 2
    assert stats["win_rate"] == pytest.approx(0.5)
    assert stats["avg_win"] == pytest.approx(245.0) and stats["avg_loss"] == pytest.approx(-101.5)
    assert stats["profit_factor"] == pytest.approx(245.0 / 101.5)
    assert stats["avg_trip_days"] == pytest.approx(((10 * 20 + 5 * 10) / 15 + 20) / 2)


def test_a_fill_through_zero_closes_the_long_and_opens_a_short():
    f = fills(
        ("2024-01-01", "B", "buy", 10, 50.0, 0.0),
        ("2024-01-05", "B", "sell", 15, 60.0, 0.0),  # closes 10 long (+100), opens 5 short at 60
        ("2024-01-09", "B", "buy", 5, 55.0, 0.0),  # covers the short: 5 x (60 - 55) = +25
        ("2024-01-09", "C", "buy", 1, 10.0, 0.0),  # still open at the end: not a round trip
    )
    trips = round_trips(f)
    assert trips["symbol"].tolist() == ["B", "B"]
    assert trips["side"].tolist() == ["long", "short"]
    assert trips["pnl"].tolist() == pytest.approx([100.0, 25.0])
    assert trips["quantity"].tolist() == pytest.approx([10.0, 5.0])
    assert trips["days"].tolist() == pytest.approx([4.0, 4.0])
    assert trade_stats(trips)["short_trips"] == 1


def test_no_fills_no_round_trips():
    trips = round_trips(fills())
    assert trips.empty
    stats = trade_stats(trips)
    assert stats["round_trips"] == 0 and np.isnan(stats["win_rate"])


def test_contribution_by_hand_and_it_sums_to_the_total_pnl():
    capital = 10_000.0
    f = fills(
        ("2024-01-01", "A", "buy", 10, 100.0, 1.0),
        ("2024-01-02", "B", "buy", 20, 50.0, 2.0),
        ("2024-01-03", "A", "sell", 10, 90.0, 1.0),  # A: -1000 + 900 - 2 = -102, flat
        ("2024-01-04", "B", "sell", 5, 70.0, 0.5),  # B: -1000 + 350 - 2.5 + 15 x 80 (final mark) = 547.5
    )
    marks = {"A": 95.0, "B": 80.0}
    c = contribution(f, marks)
    assert c.to_dict() == pytest.approx({"A": -102.0, "B": 547.5})
    assert list(c.index) == ["B", "A"]  # largest magnitude first
    # NAV at the end from the cash ledger: capital - purchases + sales - fees + positions at the marks
    cash = capital - 1000 - 1000 + 900 + 350 - (1 + 2 + 1 + 0.5)
    nav_end = cash + 15 * 80.0
    assert c.sum() == pytest.approx(nav_end - capital)


def test_contribution_needs_a_price_for_open_positions():
    with pytest.raises(ValueError, match="no final price for open positions in A"):
        contribution(fills(("2024-01-01", "A", "buy", 1, 10.0, 0.0)), {})


def fifo_by_loop(f: pd.DataFrame) -> list[tuple]:
    """A plain FIFO lot queue per symbol: (symbol, closed, side, quantity, pnl, days) per closing fill."""
    from collections import deque

    out = []
    for symbol, g in f.sort_values(["symbol", "timestamp"], kind="stable").groupby("symbol", sort=True):
        lots: deque = deque()
        for t, side, qty, price, fees in g[["timestamp", "side", "quantity", "price", "fees"]].itertuples(index=False):
            q, unit_fee = (qty if side == "buy" else -qty), fees / qty
            if not lots or (lots[0][0] > 0) == (q > 0):
                lots.append([q, price, unit_fee, t])
                continue
            sign, left, pnl, matched, held = (1.0 if lots[0][0] > 0 else -1.0), abs(q), 0.0, 0.0, 0.0
            while left > 1e-12 and lots:
                take = min(left, abs(lots[0][0]))
                pnl += sign * (price - lots[0][1]) * take - (lots[0][2] + unit_fee) * take
                held += take * (t - lots[0][3]).days
                matched, left = matched + take, left - take
                lots[0][0] -= sign * take
                if abs(lots[0][0]) < 1e-12:
                    lots.popleft()
            if left > 1e-12:
                lots.append([-sign * left, price, unit_fee, t])
            out.append((symbol, t, "long" if sign > 0 else "short", matched, pnl, held / matched))
    return out


def test_vectorized_matching_equals_a_lot_queue_on_random_fills_that_cross_zero():
    rng = np.random.default_rng(7)
    n = 2000
    f = pd.DataFrame(
        {
            "timestamp": pd.Timestamp("2020-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 1500, n)), "D"),
            "symbol": rng.choice(list("ABCDEF"), n),
            "side": rng.choice(["buy", "sell"], n),
            "quantity": rng.integers(1, 40, n).astype(float),
            "price": rng.uniform(20.0, 200.0, n),
            "fees": rng.uniform(0.0, 2.0, n),
        }
    )
    trips = round_trips(f)
    expected = fifo_by_loop(f)
    assert (trips["side"] == "short").sum() > 100  # the random walk crosses zero often
    assert len(trips) == len(expected)
    got = list(trips[["symbol", "closed", "side", "quantity", "pnl", "days"]].itertuples(index=False))
    for g, e in zip(got, expected, strict=True):
        assert (g[0], g[1], g[2]) == (e[0], e[1], e[2])
        assert g[3:] == pytest.approx(e[3:], rel=1e-9, abs=1e-9)
