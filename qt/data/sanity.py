"""Checks on a loaded panel that no single row can show: a price that jumps by orders of magnitude for one bar.

A print 10x away from both its neighbours (up then back down, or down then back up), or any
1,000x move from one bar to the next, is a data error, not a market move: a run on it would
report returns made of that error, so it stops with the symbol, the bar and the three prices.
"""

from __future__ import annotations

import numpy as np

from qt.data.panel import BarPanel, forward_fill
from qt.enums import Field
from qt.errors import DataError

SPIKE = 10.0  # a bar this many times away from the bar before AND the bar after
JUMP = 1000.0  # a move this large from one bar to the next, whatever follows


def check_price_jumps(panel: BarPanel, source: str) -> None:
    """Raise DataError naming the first absurd price of each field (symbol, bar, value, neighbours).

    A panel that passed is not checked again (its arrays are read-only): a sweep's runs share one panel.
    """
    if panel._cache.get("price_jumps_checked"):
        return
    problems = []
    for f in (Field.CLOSE, Field.OPEN, Field.HIGH, Field.LOW):
        if not panel.has(f):
            continue
        values = panel.fields[f]
        if values.shape[0] < 2:
            continue
        previous = forward_fill(values)[:-1]  # the last known price before each bar (gaps skipped)
        with np.errstate(divide="ignore", invalid="ignore"):
            up = values[1:] / previous
            bad = (up >= JUMP) | (up <= 1.0 / JUMP)
            after = np.full_like(up, np.nan)
            after[:-1] = values[2:] / values[1:-1]
            bad |= ((up >= SPIKE) & (after <= 1.0 / SPIKE)) | ((up <= 1.0 / SPIKE) & (after >= SPIKE))
        hits = np.argwhere(bad)
        if len(hits):
            t, a = int(hits[0][0]) + 1, int(hits[0][1])
            nxt = values[t + 1, a] if t + 1 < values.shape[0] else float("nan")
            problems.append(
                f"{panel.symbols[a]} on {str(panel.timestamps[t])[:10]}: {f.value} {values[t, a]:.6g} after "
                f"{previous[t - 1, a]:.6g} (next bar {nxt:.6g}) - {len(hits)} such bar(s) in {f.value}"
            )
    if problems:
        raise DataError(
            f"{source}: absurd price(s), more than {SPIKE:g}x away from both neighbouring bars or a {JUMP:g}x move: "
            + "; ".join(problems)
            + ". Fix or remove those rows (a bad print or a unit error) and run again"
        )
    if all(not a.flags.writeable for a in panel.fields.values()):
        panel._cache["price_jumps_checked"] = True
