"""The walk-forward part of a tearsheet: every window, its chosen parameters, in- vs out-of-sample, DSR and PBO.

Read from the run's ``walk_forward.json`` (``qt.runs.walk_forward`` writes it). A walk-forward
chooses its parameters per window, so the page's title and configuration block name the swept
keys as "chosen per window" with how often each value was chosen, never the base config's value.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qt.evaluation import charts, describe
from qt.evaluation.charts import PALETTE, Line, Mark

FILE = "walk_forward.json"


@dataclass(frozen=True)
class WalkForwardSection:
    """What the tearsheet shows for a walk-forward run: its title, its configuration block, its section's HTML."""

    title: str
    config_yaml: str
    html: str


def load(run_dir: Path) -> dict[str, Any] | None:
    """The run's walk_forward.json, or None when the run is not a walk-forward."""
    path = Path(run_dir) / FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) and data.get("windows") else None


def swept_keys(report: Mapping[str, Any]) -> list[str]:
    """The keys chosen per window, in the order the grid (or the Optuna space) lists them."""
    settings = report.get("settings") or {}
    keys = list((settings.get("grid") or settings.get("space") or {}).keys())
    for row in report["windows"]:
        keys += [k for k in row.get("params", {}) if k not in keys]
    return keys


def choices_line(report: Mapping[str, Any], key: str, *, most: int = 6) -> str:
    """``63 in 10, 126 in 2, 252 in 16 of 28 windows``: how often each value of ``key`` was chosen.

    More than ``most`` distinct values (an Optuna search) read as their range: ``44 to 250, 26 values in 28 windows``.
    """
    counts = Counter(_show(row["params"].get(key)) for row in report["windows"])
    ordered = sorted(counts.items(), key=lambda kv: _order(kv[0]))
    n = len(report["windows"])
    if len(ordered) > most and _order(ordered[-1][0])[0] == 0:  # all numbers
        return f"{ordered[0][0]} to {ordered[-1][0]}, {len(ordered)} values in {n} windows"
    if len(ordered) > most:
        return f"{len(ordered)} values in {n} windows (see the table below)"
    return ", ".join(f"{v} in {c}" for v, c in ordered) + f" of {n} windows"


def section(run_dir: Path, cfg: Mapping[str, Any], choices: Mapping[str, str]) -> WalkForwardSection | None:
    """Title, configuration block and section HTML of a walk-forward run; None for any other run."""
    report = load(run_dir)
    if report is None:
        return None
    keys = swept_keys(report)
    base = _without(cfg, keys)
    name = describe.strategy_name(cfg, choices)
    per_window = "; ".join(f"{_short(k)} per window ({choices_line(report, k)})" for k in keys)
    rest = describe.title(base, choices).partition(" — ")[2]
    title = f"{name} walk-forward — {per_window or 'one configuration'}" + (f"; {rest}" if rest else "")
    config_yaml = describe.short_config(base, choices) + _settings_yaml(report, keys)
    return WalkForwardSection(title, config_yaml, _render(report, keys, run_dir))


def _settings_yaml(report: Mapping[str, Any], keys: list[str]) -> str:
    """The walk-forward lines of the configuration block: windows, search, and each key chosen per window."""
    import yaml

    s = report.get("settings") or {}
    lines = {
        "walk_forward": (
            f"{len(report['windows'])} windows, {s.get('scheme', 'rolling')}, train {s.get('train')}, "
            f"test {s.get('test')}, embargo {s.get('embargo', '0d')}, purge {s.get('purge', 0)} bars; "
            f"{s.get('search', 'grid')} search of {len(report.get('configs') or [])} configurations, "
            f"{s.get('direction', 'maximize')} {s.get('objective', 'sharpe')} in each train window"
        ),
        **{k: f"chosen per window - {choices_line(report, k)}" for k in keys},
    }
    return yaml.safe_dump(lines, sort_keys=False, allow_unicode=True, width=10_000)


def _without(cfg: Mapping[str, Any], keys: list[str]) -> dict[str, Any]:
    """A copy of ``cfg`` without the swept keys (the base config's values were not what traded)."""
    out = copy.deepcopy(dict(cfg))
    for key in keys:
        node: Any = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(parts[-1], None)
    return out


def _render(report: Mapping[str, Any], keys: list[str], run_dir: Path) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape
    from markupsafe import Markup

    env = Environment(loader=PackageLoader("qt.evaluation", "templates"), autoescape=select_autoescape(["html", "j2"]))
    objective = (report.get("settings") or {}).get("objective", "sharpe")
    rows = [
        {
            "window": r["window"],
            "train": r["train"],
            "test": r["test"],
            "train_bars": r.get("train_bars"),
            "gap_bars": r.get("gap_bars"),
            "test_bars": r.get("test_bars"),
            "params": [_show(r["params"].get(k)) for k in keys],
            "is_objective": r.get(f"in_sample_{objective}"),
            "is_sharpe": (r.get("in_sample") or {}).get("sharpe"),
            "oos_sharpe": (r.get("out_of_sample") or {}).get("sharpe"),
            "oos_return": (r.get("out_of_sample") or {}).get("total_return"),
        }
        for r in report["windows"]
    ]
    dsr = report.get("deflated_sharpe") or {}
    pbo = report.get("pbo") or {}
    return env.get_template("walk_forward.html.j2").render(
        rows=rows,
        keys=[_short(k) for k in keys],
        full_keys=keys,
        objective=objective,
        settings=report.get("settings") or {},
        n_configs=len(report.get("configs") or []),
        in_sample=report.get("in_sample") or {},
        out_of_sample=report.get("out_of_sample") or {},
        dsr=dsr,
        pbo=pbo,
        curve=Markup(_curve(run_dir, report)),
        sharpes=Markup(_sharpe_chart(rows)),
        fmt=_fmt,
    )


def _curve(run_dir: Path, report: Mapping[str, Any]) -> str:
    """The stitched out-of-sample growth of 1 (the run's equity), with a mark at each test window's first bar."""
    import pandas as pd

    path = Path(run_dir) / "equity.parquet"
    if not path.is_file():
        return ""
    eq = pd.read_parquet(path, columns=["timestamp", "nav"])
    stamps = eq["timestamp"].dt.tz_localize(None).to_numpy("datetime64[us]") if len(eq) else np.array([])
    nav = eq["nav"].to_numpy(dtype=float)
    if nav.size == 0:
        return ""
    marks = [
        Mark(np.datetime64(r["test"][0], "us"), f"window {r['window']}: {r['test'][0]} to {r['test'][1]}", "window")
        for r in report["windows"]
    ]
    return charts.line_chart(
        stamps,
        [Line("out of sample (stitched)", nav / nav[0], PALETTE[0])],
        height=260,
        log=bool(nav.max() / max(nav.min(), 1e-12) > 10),
        title="stitched out-of-sample growth of 1; a mark at each test window's start",
        marks=marks,
    )


def _sharpe_chart(rows: list[dict[str, Any]]) -> str:
    """In-sample Sharpe of the chosen configuration and its out-of-sample Sharpe, window by window."""
    stamps = np.array([np.datetime64(r["test"][0], "us") for r in rows])
    num = lambda key: np.array([np.nan if r[key] is None else float(r[key]) for r in rows])  # noqa: E731
    return charts.line_chart(
        stamps,
        [Line("in sample (train window)", num("is_sharpe"), PALETTE[1]), Line("out of sample", num("oos_sharpe"))],
        height=200,
        zero_line=True,
        title="Sharpe ratio of the chosen configuration per window (at the test window's start)",
    )


def _short(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _order(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def _fmt(value: Any, kind: str = "num") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if kind == "pct":
        return f"{value:.2%}"
    if kind == "int":
        return f"{int(value):,}"
    return f"{value:.3f}" if isinstance(value, float) else str(value)
