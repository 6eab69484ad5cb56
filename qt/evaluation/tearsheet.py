"""The HTML tearsheet: one self-contained file (inline CSS, SVG and a few lines of JS), no network.

``render`` takes one run or several (a side-by-side comparison); ``write_tearsheet``
re-reads a finished run's directory and writes ``tearsheet.html`` into it atomically.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qt.evaluation import charts, describe, walk_forward_report
from qt.evaluation.charts import PALETTE, Line
from qt.evaluation.events import event_marks, event_rows
from qt.evaluation.halts import halt_lines
from qt.evaluation.performance import Performance, analyze, rolling_sharpe, rolling_volatility
from qt.evaluation.run_data import RunData, load_run, naive_utc
from qt.evaluation.stat_groups import STAT_GROUPS, format_value

FILE = "tearsheet.html"
TOP_HOLDINGS = 15
MAX_HOLDING_COLUMNS = 240
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

LOG_SPAN = 10.0  # the equity chart opens on a log scale when equity's max / min exceeds this
TOP_CONTRIBUTORS = 20


@dataclass(frozen=True)
class Analyzed:
    """A run and its analytics."""

    run: RunData
    perf: Performance


def write_tearsheet(run_dir: Path, *, log_scale: bool = False, vs_backtest: Path | None = None) -> Path:
    """Re-read ``run_dir`` and write its ``tearsheet.html`` (atomically); returns the file's path.

    ``vs_backtest``: a backtest run folder to set the run beside: the tearsheet then says what live
    cost (``qt.evaluation.live_cost``) and ``live_cost.json`` is written beside it.
    """
    from qt.results.writer import write_atomically

    run = load_run(run_dir)
    writers: dict[str, Callable[[Path], None]] = {}
    cost = None
    if vs_backtest is not None:
        from qt.evaluation import live_cost

        backtest = load_run(vs_backtest)
        cost = live_cost.attribute(run, backtest)
        writers[live_cost.FILE] = functools.partial(live_cost.write_json, cost)
    html = render([Analyzed(run, analyze(run))], log_scale=log_scale, live_cost=cost,
                  backtest_dir=vs_backtest)  # fmt: skip
    writers[FILE] = text_writer(html)
    write_atomically(Path(run_dir), writers)
    return Path(run_dir) / FILE


def text_writer(text: str) -> Callable[[Path], None]:
    """A writer for ``write_atomically``: ``text`` as UTF-8 into the path it is given."""

    def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")

    return write


def compare(run_dirs: Sequence[Path], out: Path, *, log_scale: bool = False) -> Path:
    """One report of several runs side by side, written to ``out``."""
    import os

    runs = [load_run(d) for d in run_dirs]
    html = render([Analyzed(r, analyze(r)) for r in runs], log_scale=log_scale)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, out)
    return out


def render(
    items: Sequence[Analyzed], *, log_scale: bool = False, live_cost: Any = None, backtest_dir: Path | None = None
) -> str:
    """The tearsheet HTML of one run, or a comparison of several.

    The equity chart opens on a log scale when ``log_scale`` or when equity spans more than 10x.
    ``live_cost`` (a ``qt.evaluation.live_cost.LiveCost``) adds the section saying what live cost
    against the backtest in ``backtest_dir``.
    """
    from markupsafe import Markup

    first = items[0]
    runs = [_run_context(a, i) for i, a in enumerate(items)]
    for run_ctx, a in zip(runs, items, strict=True):
        run_ctx["charts"] = {k: Markup(v) for k, v in _run_charts(a).items()}
    context = {
        "title": " vs ".join(a.run.name for a in items) if len(items) > 1 else runs[0]["title"],
        "runs": runs,
        "comparison": len(items) > 1,
        "groups": _stat_rows(items),
        "charts": {k: Markup(v) for k, v in _shared_charts(items, log_scale=False).items()},
        "log_charts": {k: Markup(v) for k, v in _shared_charts(items, log_scale=True).items()},
        "log_scale": log_scale or spans_decade(items),
        "benchmark": first.run.benchmark_name,
        "version": _version(),
        "live_cost": None if live_cost is None else _live_cost_context(live_cost, backtest_dir),
    }
    return _template().render(**context)


@functools.cache
def _template() -> Any:
    """The compiled tearsheet template (compiled once per process: sweeps render several)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("qt.evaluation", "templates"), autoescape=select_autoescape(["html", "j2"]))
    env.filters["fmt"] = format_value
    return env.get_template("tearsheet.html.j2")


def spans_decade(items: Sequence[Analyzed]) -> bool:
    """True when some run's (or the benchmark's) growth of 1 has max / min above ``LOG_SPAN``."""
    for a in items:
        for w in (a.perf.wealth, a.perf.bench_wealth):
            if w is None:
                continue
            w = w[np.isfinite(w) & (w > 0)]
            if w.size and float(w.max()) / float(w.min()) > LOG_SPAN:
                return True
    return False


def _stat_rows(items: Sequence[Analyzed]) -> list[dict[str, Any]]:
    groups = []
    for name, rows in STAT_GROUPS.items():
        shown = [
            {"label": label, "values": [format_value(a.perf.summary.get(key), kind) for a in items]}
            for key, label, kind in rows
            if any(key in a.perf.summary for a in items)
        ]
        if shown:
            groups.append({"name": name, "rows": shown})
    return groups


def _live_cost_context(cost: Any, backtest_dir: Path | None) -> dict[str, Any]:
    """The attribution table, its bar chart and the two NAV curves with their difference."""
    from markupsafe import Markup

    cap = cost.capital or float("nan")
    lines = [
        {"key": x.key, "label": x.label, "orders": x.orders, "value": x.value, "bps": x.value / cap * 1e4}
        for x in cost.lines
    ]
    shown = [x for x in cost.lines if x.value != 0.0 or x.key == "residual"]
    money = lambda v: f"{v:,.0f}"  # noqa: E731
    bars = charts.hbar_chart([x.key.replace("_", " ") for x in shown], [x.value for x in shown], fmt=money,
                             title="live - backtest NAV, by cause")  # fmt: skip
    curves = charts.line_chart(
        cost.stamps,
        [Line("live", cost.live_curve, PALETTE[0]), Line("backtest", cost.backtest_curve, "#6b7b8c")],
        height=220, title="NAV: live and the backtest of the same config", fmt=money,
    )  # fmt: skip
    gap = charts.line_chart(
        cost.stamps, [Line("live - backtest", cost.live_curve - cost.backtest_curve, PALETTE[3], fill=True)],
        height=160, zero_line=True, title="live - backtest NAV over time", fmt=money,
    )  # fmt: skip
    return {
        "at": cost.at,
        "live_nav": cost.live_nav,
        "backtest_nav": cost.backtest_nav,
        "total": cost.total,
        "total_bps": cost.total / cap * 1e4,
        "lines": lines,
        "backtest_dir": str(backtest_dir) if backtest_dir is not None else "",
        "charts": {"bars": Markup(bars), "curves": Markup(curves), "gap": Markup(gap)},
    }


def _run_context(a: Analyzed, i: int) -> dict[str, Any]:
    from markupsafe import Markup

    s, cfg = a.perf.summary, a.run.config
    title = describe.title(cfg, a.run.choices) if cfg or a.run.choices else a.run.name
    if a.run.mode == "live" and (cfg or a.run.choices):
        title += f" —{a.run.live_label} {a.run.run_dir.name}"
    config_yaml = describe.short_config(cfg, a.run.choices)
    wf = walk_forward_report.section(a.run.run_dir, cfg, a.run.choices)  # parameters chosen per window
    if wf is not None:
        title, config_yaml = wf.title, wf.config_yaml
    return {
        "name": a.run.name,
        "title": title,
        "color": PALETTE[i % len(PALETTE)],
        "run_dir": str(a.run.run_dir),
        "period": f"{s.get('start')} to {s.get('end')}",
        "n_bars": len(a.run.nav),
        "window": a.perf.rolling_window,
        "ppy": s.get("periods_per_year"),
        "capital": a.run.capital,
        "final_nav": float(a.run.nav[-1]),
        "headline": [
            (label, format_value(s.get(key), kind)) for key, label, kind in STAT_GROUPS["Returns"][:8] if key in s
        ],
        "config_yaml": config_yaml,
        "walk_forward": None if wf is None else Markup(wf.html),
        "halt": halt_lines(s),
        "events": event_rows(a.run),
        "n_zero_bars": int(np.sum(a.run.returns == 0.0)),
        "drawdowns": [d.as_dict() for d in a.perf.drawdowns],
        "monthly_rows": _monthly_rows(a.perf),
        "stress": _stress(a.run.run_dir),
    }


def _monthly_rows(perf: Performance) -> list[dict[str, Any]]:
    rows = []
    for year, row in perf.monthly.iterrows():
        rows.append(
            {
                "year": year,
                "months": [None if not math.isfinite(v) else v for v in row.to_numpy(np.float64)],
                "total": float(perf.annual.get(year, np.nan)),
            }
        )
    return rows


def _stress(run_dir: Path) -> list[dict[str, Any]]:
    """Stress-test results a risk component left in the run directory (``stress.json``), if any."""
    path = run_dir / "stress.json"
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        return []
    rows = data.get("scenarios", data) if isinstance(data, dict) else data
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def _shared_charts(items: Sequence[Analyzed], *, log_scale: bool) -> dict[str, str]:
    """Charts overlaying every run (and the first run's benchmark)."""
    first = items[0].perf
    equity = [
        Line(a.run.name, a.perf.wealth, PALETTE[i % len(PALETTE)], stamps=a.perf.stamps) for i, a in enumerate(items)
    ]
    if first.bench_wealth is not None:
        equity.append(Line(f"benchmark: {items[0].run.benchmark_name}", first.bench_wealth, "#6b7b8c"))
    if len(items) == 1:
        equity[0] = Line("strategy", first.wealth, PALETTE[0])
    marks = event_marks(items[0].run) if len(items) == 1 else []
    out = {
        "equity": charts.line_chart(first.stamps, equity, height=300, log=log_scale, title="growth of 1", marks=marks)
    }
    if log_scale:
        return out
    many = len(items) > 1
    bench = items[0].run.benchmark_returns
    grey = "#6b7b8c"
    underwater = [
        Line(
            a.run.name if many else "drawdown",
            a.perf.underwater,
            PALETTE[i % len(PALETTE)],
            fill=not many,
            stamps=a.perf.stamps,
        )
        for i, a in enumerate(items)
    ]
    if first.bench_wealth is not None:
        underwater.append(Line("benchmark", first.bench_wealth / np.maximum.accumulate(first.bench_wealth) - 1.0, grey))
    out["underwater"] = charts.line_chart(
        first.stamps,
        underwater,
        height=180,
        fmt=charts.pct,
        title="drawdown",
        marks=[m for m in marks if m.kind != "fallback"],
    )
    stamps = first.stamps[1:]
    out["rolling_sharpe"] = charts.line_chart(
        stamps,
        [
            Line(
                a.run.name if many else "Sharpe",
                a.perf.rolling["sharpe"],
                PALETTE[i % len(PALETTE)],
                stamps=a.run.timestamps,
            )
            for i, a in enumerate(items)
        ]
        + _bench_line(bench, rolling_sharpe, first.rolling_window, first, items[0].run.timestamps),
        height=180,
        zero_line=True,
        title=f"rolling Sharpe ({first.rolling_window} bars)",
    )
    out["rolling_vol"] = charts.line_chart(
        stamps,
        [
            Line(
                a.run.name if many else "volatility",
                a.perf.rolling["volatility"],
                PALETTE[i % len(PALETTE)],
                stamps=a.run.timestamps,
            )
            for i, a in enumerate(items)
        ]
        + _bench_line(bench, rolling_volatility, first.rolling_window, first, items[0].run.timestamps),
        height=160,
        fmt=charts.pct,
        title="rolling volatility",
    )
    betas = [
        Line(a.run.name, a.perf.rolling["beta"], PALETTE[i % len(PALETTE)], stamps=a.run.timestamps)
        for i, a in enumerate(items)
        if "beta" in a.perf.rolling
    ]
    if betas:
        out["rolling_beta"] = charts.line_chart(stamps, betas, height=160, zero_line=True, title="rolling beta")
    return out


def _bench_line(
    bench: np.ndarray | None, stat: Callable[..., np.ndarray], window: int, perf: Performance, stamps: np.ndarray
) -> list[Line]:
    """The benchmark's rolling statistic as one grey line (none without a benchmark)."""
    if bench is None:
        return []
    ppy = float(perf.summary.get("periods_per_year") or 252.0)
    return [Line("benchmark", stat(bench, window, ppy), "#6b7b8c", stamps=stamps)]


def _run_charts(a: Analyzed) -> dict[str, str]:
    """Charts of one run: exposure, turnover, annual returns, monthly heatmap, top holdings."""
    perf, run = a.perf, a.run
    stamps = run.timestamps
    e = perf.exposure
    ppy = float(perf.summary.get("periods_per_year") or 252.0)
    window = max(1, round(ppy))
    trailing = np.convolve(np.nan_to_num(e["turnover"]), np.ones(window), mode="full")[: stamps.size]
    out = {
        "exposure": charts.line_chart(
            stamps,
            [
                Line("gross", e["gross"], PALETTE[0]),
                Line("net", e["net"], PALETTE[1]),
                Line("long", e["long"], PALETTE[2]),
                Line("short", -e["short"], PALETTE[3]),
            ],
            height=180,
            fmt=charts.pct,
            zero_line=True,
            title="exposure",
        ),
        "turnover": charts.line_chart(
            stamps, [Line("trailing 1y turnover", trailing, PALETTE[4], fill=True)], height=150, fmt=charts.pct
        ),
        "annual": charts.bar_chart([str(y) for y in perf.annual.index], perf.annual.to_numpy(np.float64)),
        "monthly": charts.heatmap(
            [str(y) for y in perf.monthly.index], MONTHS, perf.monthly.to_numpy(np.float64), title="monthly returns"
        ),
        "holdings": _holdings_chart(run),
        "contribution": _contribution_chart(perf),
        "distribution": _distribution_chart(run, perf),
    }
    return out


def _contribution_chart(perf: Performance) -> str:
    """P&L of the ``TOP_CONTRIBUTORS`` largest symbols (by magnitude), the rest summed in one bar."""
    c = perf.contribution
    if c is None or c.empty:
        return charts.hbar_chart([], [], title="P&L by symbol")
    labels, values = [str(s) for s in c.index[:TOP_CONTRIBUTORS]], list(c.to_numpy(np.float64)[:TOP_CONTRIBUTORS])
    if len(c) > TOP_CONTRIBUTORS:
        labels.append(f"{len(c) - TOP_CONTRIBUTORS} others")
        values.append(float(c.to_numpy(np.float64)[TOP_CONTRIBUTORS:].sum()))
    return charts.hbar_chart(labels, values, fmt=lambda v: f"{v:,.0f}", title="P&L by symbol")


def _distribution_chart(run: RunData, perf: Performance) -> str:
    """Histogram of the per-bar returns of bars that moved (flat bars in cash are left out), with VaR 95%/99%."""
    r = run.returns
    r = r[np.isfinite(r) & (r != 0.0)]
    s = perf.summary
    marks = [
        (float(s[k]), label) for k, label in (("var_95", "VaR 95%"), ("var_99", "VaR 99%")) if s.get(k) is not None
    ]
    return charts.histogram(r, bins=60, title="distribution of returns per bar", marks=marks)


def _holdings_chart(run: RunData) -> str:
    """Target weights of the most-held symbols at each decision (rows: symbols, columns: decisions)."""
    w = run.weights
    if w.empty:
        return charts.heatmap([], [], np.zeros((0, 0)), title="top holdings")
    frame = w.assign(t=naive_utc(w["timestamp"]))
    wide = frame.pivot_table(index="t", columns="symbol", values="target_weight", aggfunc="last", fill_value=0.0)
    top = wide.abs().mean().sort_values(ascending=False).index[:TOP_HOLDINGS]
    wide = wide[top]
    if len(wide) > MAX_HOLDING_COLUMNS:
        wide = wide.iloc[np.linspace(0, len(wide) - 1, MAX_HOLDING_COLUMNS).astype(int)]
    cols = [str(t)[:10] for t in wide.index]
    return charts.heatmap([str(s) for s in top], cols, wide.to_numpy(np.float64).T, title="top holdings")


def _version() -> str:
    from qt import __version__

    return str(__version__)
