"""What a finished run or sweep tells its reporters: titled, formatted statistics and where the results are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from qt.evaluation.halts import halt_lines
from qt.reporting.console import HEADLINE, RunSummary, format_metric, run_mode, run_title, timing_line
from qt.reporting.reporters import Report

RELATIVE = ("alpha", "beta", "information_ratio", "tracking_error", "up_capture", "down_capture")
_PERCENT = {"alpha", "tracking_error"}


def run_report(summary: RunSummary, performance: Mapping[str, Any] | None, tearsheet: Path | None) -> Report:
    """The report of one run: headline metrics, benchmark-relative ones when a benchmark was set."""
    title = run_title(summary)
    stats = [(name, format_metric(name, summary.metrics.get(name))) for name in HEADLINE]
    perf = performance or {}
    if perf.get("benchmark"):
        for name in RELATIVE:
            value = perf.get(name)
            shown = f"{value:.2%}" if name in _PERCENT and isinstance(value, float) else format_metric(name, value)
            stats.append((name, shown))
    subtitle = timing_line(summary)
    if perf.get("benchmark"):
        subtitle += f"  |  benchmark {perf['benchmark']}"
    m = summary.metrics
    if m.get("halted_at"):
        title += f" - HALTED {m['halted_at']}"
        stats.append(("halted_at", str(m["halted_at"])))  # the reason is in the subtitle's first line
    if m.get("trading_state"):  # a live run: the state it was left in, and why
        reason = m.get("trading_state_reason")
        stats.append(("trading_state", f"{m['trading_state']}" + (f" ({reason})" if reason else "")))
    if m.get("derisk_events"):
        stats.append(("derisk_events", format_metric("derisk_events", int(m["derisk_events"]))))
    if m.get("n_windows"):  # a walk-forward (qt.runs.walk_forward): the stitched out-of-sample curve
        title = title.replace("qt backtest", "qt walk-forward (out of sample)", 1)
        stats += [(k, format_metric(k, m.get(k))) for k in m if k.startswith("in_sample_")]
        stats += [(k, format_metric(k, m.get(k))) for k in ("deflated_sharpe", "pbo", "n_windows", "n_configs")]
    lines = [*halt_lines(m), subtitle]
    if run_mode(summary.run_dir)[0] == "live":
        lines.append(f"what live cost against the backtest of the same bars: qt tearsheet {summary.run_dir}")
    subtitle = "\n".join(lines)
    attachments = (tearsheet,) if tearsheet is not None and tearsheet.is_file() else ()
    location = str(summary.run_dir) + (f"  (tearsheet: {tearsheet})" if attachments else "")
    return Report(title=title, stats=stats, location=location, subtitle=subtitle, attachments=attachments)


def sweep_report(sweep_dir: Path, rows: Sequence[Mapping[str, str]], n_failed: int, sort_by: str) -> Report:
    """The report of a sweep: its leaderboard, best first."""
    title = f"qt sweep - {len(rows)} runs, ranked by {sort_by}" + (f", {n_failed} failed" if n_failed else "")
    attachments = tuple(p for p in (sweep_dir / "leaderboard.html",) if p.is_file())
    best = rows[0] if rows else {}
    stats = [(k, str(v)) for k, v in best.items() if k not in ("error",)][:10]
    return Report(
        title=title,
        stats=stats,
        location=str(sweep_dir),
        subtitle="best run shown; full table in leaderboard.csv / .parquet / .html",
        attachments=attachments,
        table=rows,
    )
