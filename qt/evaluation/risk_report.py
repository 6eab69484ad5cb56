"""The risk figures of a finished backtest: halts and de-risk events (logged), VaR summary, fallbacks, stress tests."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from qt.evaluation.halts import halt_metrics, log_events, stop_events

log = logging.getLogger("qt")

if TYPE_CHECKING:
    from qt.results.result import RunResult
    from qt.risk.stress import StressTests


@dataclass(frozen=True)
class RiskOutputs:
    """Entries to add to metrics.json, and extra JSON files for the run directory."""

    metrics: dict[str, Any]
    files: dict[str, dict[str, Any]] = field(default_factory=dict)


def final_weights(result: RunResult) -> np.ndarray:
    """Weights of NAV held at the last bar, rebuilt from the fills."""
    positions = np.zeros(result.panel.n_assets)
    for b in result.fills:
        m = b.filled
        np.add.at(positions, b.orders.assets[m], b.orders.quantities[m])
    nav = float(result.nav[-1]) if result.nav.size else 0.0
    marks = result.panel.mark_prices[-1]
    return np.asarray(positions * np.nan_to_num(marks) / nav) if nav > 0 else np.zeros_like(positions)


def risk_metrics(result: RunResult, stress: StressTests | None) -> RiskOutputs:
    """Events by kind, decisions that used a fallback, last and mean VaR/CVaR, stress P&L."""
    kinds: dict[str, int] = {}
    for e in result.events:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    ev = result.events
    stops = stop_events(
        [result.panel.timestamps[e.t] for e in ev],
        [e.kind for e in ev],
        [e.detail for e in ev],
        [e.scale for e in ev],
        [e.halt for e in ev],
    )
    log_events(stops)
    out: dict[str, Any] = {
        **halt_metrics(stops),
        "risk_events": kinds,
        "fallback_decisions": sum(1 for d in result.decisions if d.report is not None and d.report.steps),
    }
    solves = [d.report.solve_ms for d in result.decisions if d.report is not None and d.report.solver != "none"]
    if solves:
        log.info("optimizer: %d solves, median %.1f ms, max %.1f ms", len(solves), np.median(solves), max(solves))
    measured = [d.risk for d in result.decisions if d.risk]
    if measured:
        keys = sorted(measured[-1])
        out["var"] = {
            "last": {k: measured[-1][k] for k in keys},
            "mean": {k: float(np.nanmean([m.get(k, np.nan) for m in measured])) for k in keys},
        }
    files: dict[str, dict[str, Any]] = {}
    if stress is not None:
        from qt.risk.stress import stress_report

        books = [(d.t, d.target) for d in result.decisions]
        report = stress_report(stress, result.panel, books, final_weights(result))
        out["stress"] = report
        files["stress.json"] = {
            "scenarios": [{k: v for k, v in r.items() if k != "decision_pnl"} for r in report["scenarios"]]
        }
    return RiskOutputs(out, files)
