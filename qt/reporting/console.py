"""The console summary of a run: a rich table of headline metrics and where the outputs are."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from qt.evaluation.halts import halt_lines

if TYPE_CHECKING:
    from qt.results.result import RunResult


class RunSummary(Protocol):
    """What a finished run hands its reporters (``qt.runs.backtest.RunSummary`` is one)."""

    @property
    def run_dir(self) -> Path:
        """The run directory."""

    @property
    def metrics(self) -> dict[str, Any]:
        """metrics.json's content."""

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per phase (engine_s, total_s, ...)."""

    @property
    def result(self) -> RunResult:
        """The backtest's result (panel, NAV, fills, events)."""


_PERCENT = {"total_return", "cagr", "ann_vol", "max_drawdown", "avg_turnover", "annual_turnover"}
HEADLINE = (  # the metrics every summary shows, in this order
    "total_return",
    "cagr",
    "ann_vol",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "avg_turnover",
    "annual_turnover",
    "n_trades",
)


def format_metric(name: str, value: Any) -> str:
    """Percent for return-like metrics, 2 decimals for ratios, integers as is; n/a for undefined."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.2%}" if name in _PERCENT else f"{value:.2f}"


def run_mode(run_dir: Path) -> tuple[str, str]:
    """(mode, broker) from the run's manifest.json: ``("live", "paper")``; ``("backtest", "")`` otherwise."""
    import json

    try:
        manifest = json.loads((Path(run_dir) / "manifest.json").read_text())
    except (OSError, ValueError):
        return "backtest", ""
    if not isinstance(manifest, dict) or manifest.get("mode") != "live":
        return "backtest", ""
    return "live", str(manifest.get("broker") or "")


def run_title(summary: RunSummary) -> str:
    """``qt backtest - DATA, N assets, FROM to TO``; ``qt live (paper) - ...`` for a live run."""
    panel = summary.result.panel
    mode, broker = run_mode(summary.run_dir)
    kind = "qt backtest" if mode == "backtest" else f"qt live ({broker})" if broker else "qt live"
    return (
        f"{kind} - {panel.name}, {panel.n_assets} assets, "
        f"{str(panel.timestamps[0])[:10]} to {str(panel.timestamps[-1])[:10]}"
    )


def timing_line(summary: RunSummary) -> str:
    """Final NAV and where the time went: the engine's for a backtest; the live loop's and its decisions' for live."""
    t = summary.timings
    nav = f"final NAV {summary.result.nav[-1]:,.2f}"
    if "loop_s" not in t:
        return f"{nav}  |  engine {t.get('engine_s', 0.0):.3f}s, total {t.get('total_s', 0.0):.3f}s"
    loop = f"live loop {t['loop_s']:.3f}s over {int(t.get('bars', 0)):,} bars"
    if "bar_ms" in t:
        loop += f" (median {t['bar_ms']:.2f} ms a bar)"
    if t.get("decisions"):
        loop += (
            f"; {int(t['decisions']):,} decisions, median {t['decision_ms']:.1f} ms,"
            f" max {t['decision_ms_max']:.1f} ms (bar in to orders handed to the broker)"
        )
    return f"{nav}  |  {loop}; total {t.get('total_s', 0.0):.3f}s"


def print_summary(summary: RunSummary, console: Console | None = None) -> None:
    """Print the metrics table, the period and the run directory."""
    console = console or Console()
    table = Table(title=run_title(summary))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in HEADLINE:
        table.add_row(name, format_metric(name, summary.metrics.get(name)))
    console.print(table)
    for line in halt_lines(summary.metrics):
        console.print(f"[bold red]{escape(line)}[/]" if line.startswith("HALTED") else f"[yellow]{escape(line)}[/]")
    console.print(timing_line(summary))
    console.print(f"run directory: {summary.run_dir}")
