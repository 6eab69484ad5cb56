"""Split and dividend adjustment: factors from corporate actions, applied to raw bars on request.

An action on ex-date e with ``split_ratio`` r (new shares per old share, 4.0 for 4-for-1)
and cash ``dividend`` d (per post-split share) multiplies every price *before* e by

    factor = (1 / r) * (1 - d * r / c)

where c is the raw close of the bar before e; volumes before e are multiplied by r.
The store keeps raw prices plus these factors, so either view can be served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from qt.data.panel import PRICE_FIELDS, BarPanel
from qt.enums import Field

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

ACTION_COLUMNS = ("split_ratio", "dividend")


def action_factors(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """The actions in a validated bar frame's ``split_ratio``/``dividend`` columns, and bad rows.

    Returns a frame (symbol, timestamp, split_ratio, dividend, factor) of the rows that
    carry an action, and (row label, problem) for actions that cannot be used.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-02", "2024-01-03"]), "symbol": ["A", "A"],
    ...                   "close": [100.0, 49.0], "split_ratio": [None, 2.0], "dividend": [None, 1.0]})
    >>> acts, bad = action_factors(f)
    >>> float(acts["factor"].iloc[0]), bad
    (0.49, [])
    """
    import pandas as pd

    if not any(c in frame.columns for c in ACTION_COLUMNS):
        empty = {
            "symbol": [],
            "timestamp": frame["timestamp"].iloc[:0],
            "split_ratio": [],
            "dividend": [],
            "factor": [],
        }
        return pd.DataFrame(empty), []
    ratio = pd.to_numeric(frame.get("split_ratio", pd.Series(np.nan, index=frame.index)), errors="coerce")
    div = pd.to_numeric(frame.get("dividend", pd.Series(np.nan, index=frame.index)), errors="coerce")
    ratio_v = ratio.fillna(1.0).to_numpy(np.float64)
    div_v = div.fillna(0.0).to_numpy(np.float64)
    bad: list[tuple[int, str]] = []
    for name, raw, parsed in (
        ("split_ratio", frame.get("split_ratio"), ratio),
        ("dividend", frame.get("dividend"), div),
    ):
        if raw is not None:
            for label in frame.index[(raw.notna() & parsed.isna()).to_numpy()]:
                bad.append((int(label), f"{name} is not a number, got {raw[label]!r}"))
    for label in frame.index[ratio_v <= 0]:
        bad.append((int(label), f"split_ratio must be > 0, got {ratio[label]}"))
    for label in frame.index[div_v < 0]:
        bad.append((int(label), f"dividend must be >= 0, got {div[label]}"))
    codes = pd.factorize(frame["symbol"], sort=True)[0]  # integer codes: sorting strings is slow
    order = np.lexsort((frame["timestamp"].to_numpy(), codes))
    sym = codes[order]
    close = frame["close"].to_numpy(np.float64)[order]
    prev_close = np.full(len(order), np.nan)
    same = np.zeros(len(order), dtype=bool)
    same[1:] = sym[1:] == sym[:-1]
    prev_close[1:][same[1:]] = close[:-1][same[1:]]
    prev = np.empty(len(order))
    prev[order] = prev_close
    is_action = (ratio_v != 1.0) | (div_v != 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        div_factor = 1.0 - div_v * ratio_v / prev
    needs_prev = is_action & (div_v > 0) & ~np.isfinite(prev)
    for label in frame.index[needs_prev]:
        bad.append((int(label), "dividend on a symbol's first bar in the file: include the bar before the ex-date"))
    too_big = is_action & (div_v > 0) & np.isfinite(prev) & (div_factor <= 0)
    for label in frame.index[too_big]:
        bad.append((int(label), "dividend must be below the previous close (after the split)"))
    div_factor = np.where(div_v > 0, div_factor, 1.0)
    keep = is_action & (ratio_v > 0) & (div_v >= 0) & ~needs_prev & ~too_big
    actions = pd.DataFrame(
        {
            "symbol": frame["symbol"].to_numpy(dtype=object)[keep],
            "timestamp": frame["timestamp"].to_numpy()[keep],
            "split_ratio": ratio_v[keep],
            "dividend": div_v[keep],
            "factor": (div_factor / ratio_v)[keep],
        }
    )
    return actions, bad


def apply_actions(panel: BarPanel, actions: pa.Table) -> BarPanel:
    """Prices before each action times its factor, volumes times its split ratio (vectorized)."""
    symbols = {s: j for j, s in enumerate(panel.symbols)}
    sym = actions["symbol"].to_pylist()
    cols = np.array([symbols.get(s, -1) for s in sym], dtype=np.intp)
    stamps = actions["timestamp"].to_numpy().astype("datetime64[us]")
    rows = np.searchsorted(panel.timestamps, stamps, side="left")
    ok = cols >= 0
    t, n = panel.n_bars, panel.n_assets
    price_events = np.ones((t + 1, n))
    volume_events = np.ones((t + 1, n))
    np.multiply.at(price_events, (rows[ok], cols[ok]), actions["factor"].to_numpy()[ok])
    np.multiply.at(volume_events, (rows[ok], cols[ok]), actions["split_ratio"].to_numpy()[ok])
    price_mult = _products_after(price_events)
    volume_mult = _products_after(volume_events)
    fields = dict(panel.fields)
    for f in PRICE_FIELDS:
        if f in fields:
            fields[f] = fields[f] * price_mult
    if Field.VOLUME in fields:
        fields[Field.VOLUME] = fields[Field.VOLUME] * volume_mult
    return BarPanel(panel.timestamps, panel.symbols, fields, tz=panel.tz, name=panel.name)


def _products_after(events: np.ndarray) -> np.ndarray:
    """Row t of the result is the product of ``events`` rows t+1 .. end ([T+1 x N] -> [T x N])."""
    suffix = np.cumprod(events[::-1], axis=0)[::-1]
    return suffix[1:]
