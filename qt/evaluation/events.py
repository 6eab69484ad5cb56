"""A run's risk events for reports: post-trade halts and de-risks, and decisions that used an optimizer fallback.

Read from the run's ``events.parquet`` and ``decisions.parquet``; the tearsheet lists them
in a table and marks them on its equity and drawdown charts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qt.evaluation import charts
from qt.evaluation.run_data import RunData, naive_utc

MAX_EVENT_ROWS = 40


def event_rows(run: RunData) -> dict[str, Any]:
    """Post-trade events and decisions that used an optimizer fallback, for the risk events table."""
    rows = run_events(run)
    return {"rows": rows[:MAX_EVENT_ROWS], "more": max(0, len(rows) - MAX_EVENT_ROWS)}


def run_events(run: RunData) -> list[dict[str, Any]]:
    """Halts and de-risks (events.parquet) and optimizer fallbacks (decisions.parquet), in time order.

    Each: stamp, day, kind (halt, derisk, fallback), what (the limit, or the optimizer's status), detail.
    """
    out: list[dict[str, Any]] = []
    ev = run.events
    if ev is not None and len(ev):
        cols = zip(naive_utc(ev["timestamp"]), ev["kind"], ev["detail"], ev["scale"], ev["halt"], strict=True)
        for t, kind, detail, scale, halt in cols:
            if halt or scale < 1.0:
                book = "flattened" if scale == 0.0 else f"positions x {scale:g}"
                out.append(_event(t, "halt" if halt else "derisk", str(kind), f"{detail} ({book})"))
    dec = run.decisions
    if dec is not None and len(dec) and "fallback_steps" in dec:
        steps = dec["fallback_steps"].fillna("").astype(str).to_numpy()
        status = dec["status"].astype(str).to_numpy() if "status" in dec else np.full(len(dec), "")
        for t, step, st in zip(naive_utc(dec["timestamp"]), steps, status, strict=True):
            if step:
                out.append(_event(t, "fallback", st, step))
    return sorted(out, key=lambda e: e["stamp"])


def _event(t: np.datetime64, kind: str, what: str, detail: str) -> dict[str, Any]:
    return {"stamp": t, "day": _day(t), "kind": kind, "what": what, "detail": detail}


def event_marks(run: RunData) -> list[charts.Mark]:
    """The run's events as chart marks (hover: date, event, limit and detail)."""
    names = {"halt": "HALT", "derisk": "de-risk", "fallback": "optimizer fallback"}
    return [
        charts.Mark(e["stamp"], f"{e['day']} {names[e['kind']]} - {e['what']}: {e['detail']}", e["kind"])
        for e in run_events(run)
    ]


def _day(t: np.datetime64) -> str:
    return str(np.asarray(t).astype("datetime64[D]"))
