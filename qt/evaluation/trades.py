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
    Vectorized: lots and closing fills are intervals on one cumulative quantity axis per
    position episode (flat to flat), and FIFO matching is their overlap.
    """
    import pandas as pd

    if not len(fills):
        return pd.DataFrame({c: [] for c in TRIP_COLUMNS})
    f = fills.sort_values(["symbol", "timestamp"], kind="stable")
    stamps = f["timestamp"].to_numpy().astype("datetime64[us]")
    symbols = f["symbol"].astype(str).to_numpy()
    q = np.where(f["side"].to_numpy() == "buy", 1.0, -1.0) * f["quantity"].to_numpy(np.float64)
    price = f["price"].to_numpy(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        fee = np.where(q != 0, f["fees"].to_numpy(np.float64) / np.abs(q), 0.0)  # per unit
    day = stamps.astype(np.int64) / 86_400e6
    opening, closing, start = _split(q, pd.factorize(symbols)[0])
    lots = np.flatnonzero(opening > 0)
    closes = np.flatnonzero(closing > 0)
    if closes.size == 0:
        return pd.DataFrame({c: [] for c in TRIP_COLUMNS})
    j, k, take = _match(opening, closing, start, lots, closes)
    lot, close = lots[k], closes[j]
    direction = np.sign(q[lot])
    pnl = direction * (price[close] - price[lot]) * take - (fee[lot] + fee[close]) * take
    n = closes.size
    matched = np.bincount(j, take, n)
    entry_value = np.bincount(j, price[lot] * take, n)
    total = np.bincount(j, pnl, n)
    day_qty = np.bincount(j, take * (day[close] - day[lot]), n)
    first_j, first = np.unique(j, return_index=True)  # pieces are in (j, lot) order: the first is the oldest lot
    kept = first_j
    return pd.DataFrame(
        {
            "symbol": symbols[closes[kept]],
            "opened": stamps[lot[first]],
            "closed": stamps[closes[kept]],
            "side": np.where(direction[first] > 0, "long", "short"),
            "quantity": matched[kept],
            "entry": entry_value[kept] / matched[kept],
            "exit": price[closes[kept]],
            "pnl": total[kept],
            "return": total[kept] / entry_value[kept],
            "days": day_qty[kept] / matched[kept],
        }
    )


def _split(q: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per fill: quantity opening or adding to a position, quantity closing one, and whether it starts an episode.

    Both quantities are >= 0; an episode starts after a flat position or where a fill crosses zero.
    Fills are in (symbol, time) order, ``group`` numbers the symbols. A position within
    ``TOLERANCE`` of zero (relative to the fill) is flat.
    """
    import pandas as pd

    after = pd.Series(q).groupby(group).cumsum().to_numpy()
    before = after - q
    flat_after = np.abs(after) <= TOLERANCE * (np.abs(q) + np.abs(before))
    new_symbol = np.r_[True, group[1:] != group[:-1]]
    flat_before = new_symbol | np.r_[True, flat_after[:-1]]
    reducing = ~flat_before & (np.sign(q) != np.sign(before))
    closing = np.where(reducing, np.minimum(np.abs(q), np.abs(before)), 0.0)
    opening = np.abs(q) - closing
    opening[opening <= TOLERANCE * np.abs(q)] = 0.0
    start = (opening > 0) & (flat_before | (closing > 0))
    return opening, closing, start


def _match(
    opening: np.ndarray, closing: np.ndarray, start: np.ndarray, lots: np.ndarray, closes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FIFO pieces (closing fill j, lot k, quantity) from the overlap of lot and closing intervals.

    Lots lie end to end on one axis (cumulative opened quantity); a position episode (flat to
    flat) starts at its first lot, and its closing fills lie end to end from that point.
    """
    o_end = np.cumsum(opening[lots])
    o_start = o_end - opening[lots]
    episode = np.cumsum(start)  # the episode a fill's opening part belongs to
    lot_episode = episode[lots]
    close_episode = (episode - start)[closes]  # a crossing fill closes the episode before the one it opens
    base = o_start[np.searchsorted(lot_episode, close_episode, side="left")]
    c = closing[closes]
    cc = np.cumsum(c)
    first_close = np.searchsorted(close_episode, close_episode, side="left")
    c_end = base + cc - (cc - c)[first_close]
    c_start = c_end - c
    k0 = np.searchsorted(o_end, c_start, side="right")
    k1 = np.searchsorted(o_start, c_end, side="left") - 1
    reps = np.maximum(k1 - k0 + 1, 0)
    j = np.repeat(np.arange(closes.size), reps)
    k = k0[j] + np.arange(j.size) - np.repeat(np.cumsum(reps) - reps, reps)
    take = np.minimum(c_end[j], o_end[k]) - np.maximum(c_start[j], o_start[k])
    # slivers from rounding on the cumulative axis (its size x 1e-12) are not pieces
    keep = take > np.maximum(TOLERANCE * c[j], 1e-12 * (o_end[-1] if o_end.size else 0.0))
    return j[keep], k[keep], take[keep]


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
