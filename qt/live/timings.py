"""Where a live loop's time goes: wall time per bar, and per decision bar (bar in to orders handed to the broker).

The driver adds one figure per bar; the run's manifest and console show the summary, so a live run
reports what its loop and its decisions cost instead of a backtest's engine time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LoopTimings:
    """Seconds the driver spent on each bar, and on each bar where it decided.

    Examples
    --------
    >>> t = LoopTimings()
    >>> t.add(0.002, decided=False); t.add(0.030, decided=True)
    >>> t.summary()["decisions"], t.summary()["decision_ms_max"]
    (1, 30.0)
    """

    bars: list[float] = field(default_factory=list)
    decisions: list[float] = field(default_factory=list)

    def add(self, seconds: float, *, decided: bool) -> None:
        """One bar processed in ``seconds``; ``decided``: the rebalance rule fired and orders went out."""
        self.bars.append(seconds)
        if decided:
            self.decisions.append(seconds)

    def summary(self) -> dict[str, float | int]:
        """loop_s, bars, bar_ms (median), decisions, decision_ms (median) and decision_ms_max; ms rounded to 0.001."""
        out: dict[str, float | int] = {"loop_s": round(float(np.sum(self.bars)), 6), "bars": len(self.bars)}
        if self.bars:
            out["bar_ms"] = round(float(np.median(self.bars)) * 1e3, 3)
        out["decisions"] = len(self.decisions)
        if self.decisions:
            out["decision_ms"] = round(float(np.median(self.decisions)) * 1e3, 3)
            out["decision_ms_max"] = round(float(np.max(self.decisions)) * 1e3, 3)
        return out
