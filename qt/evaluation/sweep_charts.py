"""Charts of a sweep's leaderboard page: the objective over two swept parameters, an Optuna study's history.

Also the study's parameter importances. Inline SVG from ``qt.evaluation.charts`` (offline, no JavaScript).
"""

from __future__ import annotations

import itertools
import json
import math
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qt.evaluation import charts

if TYPE_CHECKING:
    import pandas as pd

MAX_CELLS = 8  # a numeric parameter with more distinct values is binned into this many ranges


def heatmap_section(table: pd.DataFrame, swept: list[str], metric: str, ascending: bool) -> str | None:
    """SVG heatmap of ``metric`` over the first two swept parameters (best over the others); None if < 2."""
    if len(swept) < 2 or metric not in table.columns:
        return None
    ok = table[table["status"] == "ok"]
    if ok.empty:
        return None
    y_key, x_key = swept[0], swept[1]
    ys, y_labels = _axis(ok[y_key])
    xs, x_labels = _axis(ok[x_key])
    values = np.full((len(y_labels), len(x_labels)), np.nan)
    for i, j, v in zip(ys, xs, ok[metric].astype(float), strict=True):
        if math.isfinite(v):
            cur = values[i, j]
            better = v < cur if ascending else v > cur
            values[i, j] = v if math.isnan(cur) or better else cur
    title = f"{metric} by {y_key} (rows) and {x_key} (columns)"
    return charts.heatmap(y_labels, x_labels, values, fmt=charts.num, title=title)


def _axis(column: pd.Series) -> tuple[list[int], list[str]]:
    """Each run's cell index on one axis and the axis labels (sorted values, or ranges when many)."""
    import pandas as pd

    numeric = pd.to_numeric(column, errors="coerce")
    if numeric.notna().all():
        distinct = np.unique(numeric.to_numpy(dtype=float))
        if len(distinct) <= MAX_CELLS:
            return [int(np.searchsorted(distinct, v)) for v in numeric], [_label(v) for v in distinct]
        edges = np.linspace(distinct[0], distinct[-1], MAX_CELLS + 1)
        idx = np.clip(np.searchsorted(edges, numeric.to_numpy(dtype=float), side="right") - 1, 0, MAX_CELLS - 1)
        return [int(i) for i in idx], [f"{_label(a)}-{_label(b)}" for a, b in itertools.pairwise(edges)]
    labels = sorted(column.astype(str).unique())
    return [labels.index(str(v)) for v in column], labels


def _label(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.3g}"


def optuna_sections(sweep_dir: Path) -> dict[str, Any] | None:
    """From optuna.json (written by hydra/sweeper=optuna): the study's header, history and importance charts."""
    path = sweep_dir / "optuna.json"
    if not path.is_file():
        return None
    study = json.loads(path.read_text())
    done = [t for t in study.get("trials", []) if t.get("state") == "COMPLETE" and t.get("value") is not None]
    failed = sum(1 for t in study.get("trials", []) if t.get("state") == "FAIL")
    importances = study.get("importances") or {}
    return {
        "name": study.get("study_name"),
        "storage": study.get("storage"),
        "sampler": study.get("sampler"),
        "objective": study.get("objective"),
        "direction": study.get("direction"),
        "n_trials": study.get("n_trials", 0),
        "n_failed": failed,
        "best": study.get("best"),
        "history": history_chart(done, maximize=study.get("direction") != "minimize", objective=study.get("objective")),
        "importances": importance_chart(importances) if importances else None,
    }


def history_chart(trials: list[dict[str, Any]], *, maximize: bool, objective: str | None, height: int = 260) -> str:
    """Each finished trial's objective (dots) and the best so far (line), by trial number."""
    w, ml, mr, mt, mb = charts.WIDTH, charts.MARGIN_L, charts.MARGIN_R, charts.MARGIN_T, charts.MARGIN_B
    title = f"optimization history ({objective})"
    if not trials:
        return charts.bar_chart([], [], height=height, title=title)
    n = np.array([t["number"] for t in trials], dtype=float)
    v = np.array([t["value"] for t in trials], dtype=float)
    order = np.argsort(n)
    n, v = n[order], v[order]
    best = np.maximum.accumulate(v) if maximize else np.minimum.accumulate(v)
    lo, hi = float(v.min()), float(v.max())
    lo, hi = (lo - 1.0, hi + 1.0) if hi - lo < 1e-12 else (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    x0, x1 = float(n.min()), max(float(n.max()), float(n.min()) + 1.0)
    pw, ph = w - ml - mr, height - mt - mb

    def sx(x: float) -> float:
        return ml + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return mt + (hi - y) / (hi - lo) * ph

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {height}" role="img" aria-label="{escape(title)}">'
    ]
    for y in _ticks(lo, hi):
        parts.append(f'<line class="grid" x1="{ml}" x2="{w - mr}" y1="{sy(y):.1f}" y2="{sy(y):.1f}"/>')
        parts.append(f'<text class="yl" x="{ml - 6}" y="{sy(y) + 4:.1f}">{charts.num(y)}</text>')
    for x in _ticks(x0, x1):
        if float(x).is_integer():
            parts.append(f'<text class="xl" x="{sx(x):.1f}" y="{height - 8}">{int(x)}</text>')
    pts = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(n, best, strict=True))
    parts.append(f'<polyline points="{pts}" fill="none" stroke="{charts.PALETTE[1]}" stroke-width="1.5"/>')
    for a, b in zip(n, v, strict=True):
        parts.append(
            f'<circle cx="{sx(a):.1f}" cy="{sy(b):.1f}" r="3" fill="{charts.PALETTE[0]}">'
            f"<title>trial {int(a)}: {charts.num(b)}</title></circle>"
        )
    parts.append(
        f'<text class="lg" x="{ml + 8}" y="{mt + 8}">dots: each trial - line: best so far'
        f" ({'max' if maximize else 'min'})</text></svg>"
    )
    return "".join(parts)


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def importance_chart(importances: dict[str, float]) -> str:
    """FANOVA importance of each searched parameter (share of the objective's variance), largest first."""
    items = sorted(importances.items(), key=lambda kv: -kv[1])
    labels = [k.rsplit(".", 1)[-1] for k, _ in items]
    return charts.bar_chart(labels, [v for _, v in items], height=200, title="parameter importances")
