"""Drawdowns of an equity curve: the underwater series and the table of the worst episodes.

An episode runs from a peak to the bar the curve first regains it (its recovery); an
episode that has not recovered by the last bar has no recovery date. The curve starts at
the starting capital, stamped with the first bar's timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Drawdown:
    """One peak-to-recovery episode: depth (<= 0), dates, and durations in bars and calendar days."""

    depth: float
    peak: np.datetime64
    trough: np.datetime64
    recovery: np.datetime64 | None
    bars: int
    days: float

    def as_dict(self) -> dict[str, object]:
        """Plain values for JSON and templates (dates as YYYY-MM-DD strings)."""
        return {
            "depth": self.depth,
            "peak": _day(self.peak),
            "trough": _day(self.trough),
            "recovery": _day(self.recovery) if self.recovery is not None else None,
            "bars": self.bars,
            "days": self.days,
        }


def _day(t: np.datetime64) -> str:
    return str(t.astype("datetime64[D]"))


def underwater(curve: np.ndarray) -> np.ndarray:
    """Curve / running peak - 1 at every point (0 at new highs)."""
    return curve / np.maximum.accumulate(curve) - 1.0


def episodes(curve: np.ndarray, stamps: np.ndarray, top: int = 5) -> list[Drawdown]:
    """The ``top`` deepest drawdown episodes of ``curve`` (stamps has one timestamp per point).

    Examples
    --------
    >>> import numpy as np
    >>> stamps = np.arange("2024-01-01", "2024-01-07", dtype="datetime64[D]")
    >>> dd = episodes(np.array([1.0, 1.2, 0.9, 1.3, 1.2, 1.25]), stamps)
    >>> [(round(d.depth, 4), d.bars, d.recovery is None) for d in dd]
    [(-0.25, 2, False), (-0.0769, 2, True)]
    """
    if curve.size < 2:
        return []
    dd = underwater(curve)
    at_high = dd >= 0.0
    episode = np.cumsum(at_high) - 1  # each new high opens an episode
    starts = np.flatnonzero(at_high)
    depth = np.minimum.reduceat(dd, starts)
    # index of the minimum inside each episode
    order = np.lexsort((dd, episode))
    first_in_group = np.r_[0, np.flatnonzero(np.diff(episode[order])) + 1]
    trough_idx = order[first_in_group]
    out: list[Drawdown] = []
    for k in np.argsort(depth, kind="stable")[:top]:
        if depth[k] >= 0.0:
            break
        peak_i, trough_i = int(starts[k]), int(trough_idx[k])
        recovered = k + 1 < starts.size
        end_i = int(starts[k + 1]) if recovered else curve.size - 1
        span = (stamps[end_i] - stamps[peak_i]) / np.timedelta64(1, "D")
        out.append(
            Drawdown(
                depth=float(depth[k]),
                peak=stamps[peak_i],
                trough=stamps[trough_i],
                recovery=stamps[end_i] if recovered else None,
                bars=end_i - peak_i,
                days=float(span),
            )
        )
    return out
