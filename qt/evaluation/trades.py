"""Round trips and per-asset P&L from a run's fills.

A round trip is defined FIFO per symbol: fills that add to a position (or open one) queue
lots; a fill that reduces it closes the oldest lots first, and each closing fill is one
round trip over the quantity it closes. Its P&L is (exit - entry) x quantity for a long
lot (entry - exit for a short one) less the fees of both sides, pro rata to the quantity
matched; its holding period is the quantity-weighted calendar days from each matched
lot's fill to the closing fill. A fill that crosses zero closes the whole position (one
round trip) and opens the remainder on the other side. Lots still open at the end are
not round trips.

A symbol's P&L contribution is its cash flows (sales - purchases - fees) plus its
position at the end marked at the last price; the contributions sum to NAV_end - capital
when cash changes only by fills.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

NAN = float("nan")
TOLERANCE = 1e-9  # relative: a remainder this small after matching is rounding, not a position
FILL_COLUMNS = frozenset({"timestamp", "symbol", "side", "quantity", "price", "fees"})
TRIP_COLUMNS = ("symbol", "opened", "closed", "side", "quantity", "entry", "exit", "pnl", "return", "days")


def round_trips(fills: pd.DataFrame) -> pd.DataFrame:
    """One row per closing fill: symbol, opened, closed, side, quantity, entry, exit, pnl, return, days.

    ``fills`` has timestamp, symbol, side ('buy'/'sell'), quantity (> 0), price and fees.
    ``entry``/``exit`` are quantity-weighted prices, ``return`` is pnl / entry notional.
    """
    import pandas as pd

    rows: list[tuple[Any, ...]] = []
    if len(fills):
        ordered = fills.sort_values(["symbol", "timestamp"], kind="stable")
        stamps = ordered["timestamp"].to_numpy().astype("datetime64[us]")
        signed = np.where(ordered["side"].to_numpy() == "buy", 1.0, -1.0) * ordered["quantity"].to_numpy(np.float64)
        prices = ordered["price"].to_numpy(np.float64)
        fees = ordered["fees"].to_numpy(np.float64)
        symbols = ordered["symbol"].to_numpy()
        lots: dict[str, deque[list[Any]]] = {}
        for i in range(len(ordered)):
            q = float(signed[i])
            if q == 0.0:
                continue
            book = lots.setdefault(str(symbols[i]), deque())
            rows += _fill(book, str(symbols[i]), stamps[i], q, float(prices[i]), float(fees[i]))
    return pd.DataFrame(rows, columns=list(TRIP_COLUMNS))


def _fill(book: deque[list[Any]], symbol: str, t: np.datetime64, q: float, price: float, fee: float) -> list[tuple]:
    """Apply one fill to ``book`` (lots of [signed qty, price, fee per unit, time]); the round trip it closes, if any."""
    per_unit = fee / abs(q)
    if not book or math.copysign(1.0, book[0][0]) == math.copysign(1.0, q):
        book.append([q, price, per_unit, t])
        return []
    direction = math.copysign(1.0, book[0][0])  # +1: closing a long, -1: closing a short
    left = abs(q)
    matched = pnl = entry_value = day_qty = 0.0
    opened = book[0][3]
    while left > 0 and book:
        lot = book[0]
        take = min(left, abs(lot[0]))
        pnl += direction * (price - lot[1]) * take - (lot[2] + per_unit) * take
        entry_value += lot[1] * take
        day_qty += take * float((t - lot[3]) / np.timedelta64(1, "D"))
        matched += take
        left -= take
        lot[0] -= direction * take
        if abs(lot[0]) <= TOLERANCE * take:
            book.popleft()
    if left > TOLERANCE * matched:  # crossed zero: the rest opens a position on the other side
        book.append([math.copysign(left, q), price, per_unit, t])
    side = "long" if direction > 0 else "short"
    trip = (symbol, opened, t, side, matched, entry_value / matched, price, pnl, pnl / entry_value, day_qty / matched)
    return [trip]


def trade_stats(trips: pd.DataFrame) -> dict[str, Any]:
    """Round trips: count, win rate, average win and loss, profit factor, average holding days."""
    n = len(trips)
    if n == 0:
        return {"round_trips": 0, "win_rate": NAN, "avg_win": NAN, "avg_loss": NAN, "profit_factor": NAN}
    pnl = trips["pnl"].to_numpy(np.float64)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    return {
        "round_trips": n,
        "win_rate": float(wins.size / n),
        "avg_win": float(wins.mean()) if wins.size else NAN,
        "avg_loss": float(losses.mean()) if losses.size else NAN,
        "avg_win_return": float(trips["return"].to_numpy()[pnl > 0].mean()) if wins.size else NAN,
        "avg_loss_return": float(trips["return"].to_numpy()[pnl < 0].mean()) if losses.size else NAN,
        "profit_factor": float(wins.sum() / -losses.sum()) if losses.size else NAN,
        "avg_trip_days": float(trips["days"].mean()),
        "long_trips": int((trips["side"] == "long").sum()),
        "short_trips": int((trips["side"] == "short").sum()),
    }


def contribution(fills: pd.DataFrame, final_marks: Mapping[str, float]) -> pd.Series:
    """P&L per symbol: sales - purchases - fees + final position x final mark, largest magnitude first.

    A symbol with a position at the end but no finite mark in ``final_marks`` raises ValueError.
    """
    import pandas as pd

    if not len(fills):
        return pd.Series(dtype=np.float64, name="pnl")
    sign = np.where(fills["side"].to_numpy() == "buy", 1.0, -1.0)
    qty = sign * fills["quantity"].to_numpy(np.float64)
    frame = pd.DataFrame(
        {
            "symbol": fills["symbol"].astype(str).to_numpy(),
            "qty": qty,
            "cash": -qty * fills["price"].to_numpy(np.float64) - fills["fees"].to_numpy(np.float64),
        }
    )
    by = frame.groupby("symbol", sort=True)[["qty", "cash"]].sum()
    held = by["qty"].to_numpy()
    marks = np.array([final_marks.get(s, NAN) for s in by.index], dtype=np.float64)
    open_ = np.abs(held) > 1e-9
    if (open_ & ~np.isfinite(marks)).any():
        missing = [s for s, o, m in zip(by.index, open_, marks, strict=True) if o and not math.isfinite(m)]
        raise ValueError(f"no final price for open positions in {', '.join(missing[:5])}")
    pnl = by["cash"].to_numpy() + np.where(open_, held * np.nan_to_num(marks), 0.0)
    out = pd.Series(pnl, index=by.index.astype(str), name="pnl")
    return out.iloc[np.argsort(-np.abs(out.to_numpy()), kind="stable")]
