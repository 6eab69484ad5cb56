"""Post-trade stops made loud: when trading halted, why, and how often the book was de-risked.

A post-trade event (``events.parquet``: timestamp, kind, detail, scale, halt) either halts
trading (``halt`` true) or scales the book down without halting (a de-risk, ``scale`` < 1).
The same summary goes to metrics.json, run.log, the console, the reporters and the tearsheet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger("qt")
MAX_LOGGED = 10  # de-risk events logged one by one; the rest are counted


@dataclass(frozen=True)
class StopEvent:
    """One post-trade event: its day (YYYY-MM-DD), limit, what was seen, scale applied, and whether it halted."""

    day: str
    kind: str
    detail: str
    scale: float
    halt: bool

    @property
    def reason(self) -> str:
        """``kind: detail`` (e.g. ``drawdown_stop: drawdown 26.92% >= max_drawdown 25.00%``)."""
        return f"{self.kind}: {self.detail}" if self.detail else self.kind


def stop_events(
    stamps: Sequence[Any], kinds: Sequence[str], details: Sequence[str], scales: Sequence[float], halts: Sequence[bool]
) -> list[StopEvent]:
    """Events from parallel columns (as in ``events.parquet``), in time order."""
    days = [str(np.asarray(s).astype("datetime64[D]")) for s in stamps]
    rows = zip(days, kinds, details, scales, halts, strict=True)
    return [StopEvent(d, str(k), str(x), float(s), bool(h)) for d, k, x, s, h in rows]


def halt_metrics(events: Iterable[StopEvent]) -> dict[str, Any]:
    """``halted_at`` (first halt's ISO date or None), ``halt_reason``, ``halts`` and ``derisk_events`` counts."""
    events = list(events)
    halts = [e for e in events if e.halt]
    first = halts[0] if halts else None
    return {
        "halted_at": first.day if first else None,
        "halt_reason": first.reason if first else None,
        "halts": len(halts),
        "derisk_events": sum(1 for e in events if not e.halt and e.scale < 1.0),
    }


def log_events(events: Iterable[StopEvent]) -> None:
    """One WARNING per halt, and per de-risk (the first ``MAX_LOGGED``; the rest counted in one line)."""
    derisks = 0
    for e in events:
        if e.halt:
            book = "flattened" if e.scale == 0.0 else f"positions x {e.scale:g}"
            log.warning("trading halted on %s by %s (%s)", e.day, e.reason, book)
            continue
        if e.scale >= 1.0:
            continue
        derisks += 1
        if derisks <= MAX_LOGGED:
            log.warning("de-risked on %s by %s (positions x %g)", e.day, e.reason, e.scale)
    if derisks > MAX_LOGGED:
        log.warning("%d more de-risk events (see events.parquet)", derisks - MAX_LOGGED)


def halt_lines(metrics: dict[str, Any]) -> list[str]:
    """Plain sentences for summaries: the halt (when there was one) and the count of de-risk events."""
    lines = []
    if metrics.get("halted_at"):
        lines.append(f"HALTED on {metrics['halted_at']}: {metrics.get('halt_reason')}")
    n = metrics.get("derisk_events") or 0
    if n:
        lines.append(f"de-risked {n} time{'s' if n != 1 else ''} by post-trade stops (see events.parquet)")
    return lines
