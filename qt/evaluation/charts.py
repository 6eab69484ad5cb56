"""Inline SVG charts for the tearsheet: no JavaScript library, no network, a few kilobytes each.

Long series are decimated to at most ``MAX_POINTS`` points per line, keeping each
bucket's minimum and maximum so drawdowns and spikes stay visible.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

WIDTH, MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 900, 62, 14, 14, 26
MAX_POINTS = 1600
HOVER_POINTS = 500  # points per line kept for the hover read-out
MARK_STYLE = {  # kind -> (colour, dash): halts solid red, de-risks dashed orange, optimizer fallbacks dotted purple
    "halt": ("#c0392b", ""),
    "derisk": ("#e07b00", "5 3"),
    "fallback": ("#7d4cdb", "1 3"),
    "window": ("#8c99a6", "2 2"),  # walk-forward: a test window's first bar
}
PALETTE = ("#1f5fbf", "#e07b00", "#2a9d4b", "#c0392b", "#7d4cdb", "#6b7b8c")
Formatter = Callable[[float], str]


@dataclass(frozen=True)
class Line:
    """One named series over time."""

    name: str
    values: np.ndarray
    color: str = PALETTE[0]
    fill: bool = False
    stamps: np.ndarray | None = None  # its own time axis (comparisons of runs over different periods)


@dataclass(frozen=True)
class Mark:
    """An event drawn as a vertical line at ``stamp`` with its ``label`` on hover; ``kind`` is a MARK_STYLE key."""

    stamp: np.datetime64
    label: str
    kind: str = "halt"


def pct(v: float) -> str:
    """0.123 -> '12.3%'."""
    return f"{v:.0%}" if abs(v) >= 0.1 else f"{v:.1%}"


def num(v: float) -> str:
    """Two significant decimals."""
    return f"{v:.2f}" if abs(v) < 100 else f"{v:,.0f}"


def decimate(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Keep each bucket's min and max (in time order) so at most ``max_points`` points remain."""
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    if y.size <= max_points:
        return x, y
    buckets = max_points // 2
    edges = np.linspace(0, y.size, buckets + 1).astype(np.intp)
    starts = edges[:-1]
    lo = np.minimum.reduceat(y, starts)
    hi = np.maximum.reduceat(y, starts)
    seg = np.repeat(np.arange(buckets), np.diff(edges))
    pick = np.zeros(y.size, dtype=bool)
    for mask in (y == lo[seg], y == hi[seg]):
        idx = np.flatnonzero(mask)
        pick[idx[np.r_[True, seg[idx][1:] != seg[idx][:-1]]]] = True
    pick[[0, -1]] = True
    return x[pick], y[pick]


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else [0.0]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _log_ticks(lo: float, hi: float) -> list[float]:
    cands = [m * 10.0**e for e in range(-3, 6) for m in (1, 2, 5)]
    ticks = [c for c in cands if lo <= c <= hi]
    return ticks if len(ticks) >= 2 else _ticks(lo, hi)


def _time_ticks(t0: float, t1: float) -> list[tuple[float, str]]:
    years = (t1 - t0) / (365.25 * 86400)
    if years >= 2:
        step = max(1, math.ceil(years / 8))
        y0 = int(np.datetime64(int(t0), "s").astype("datetime64[Y]").astype(int)) + 1971
        y1 = int(np.datetime64(int(t1), "s").astype("datetime64[Y]").astype(int)) + 1970
        out = []
        for y in range(y0, y1 + 1, step):
            s = float(np.datetime64(f"{y}-01-01", "s").astype(np.int64))
            out.append((s, str(y)))
        return out
    ticks = np.linspace(t0, t1, 6)
    return [(float(t), str(np.datetime64(int(t), "s").astype("datetime64[D]"))) for t in ticks]


def line_chart(
    stamps: np.ndarray,
    lines: Sequence[Line],
    *,
    height: int = 240,
    fmt: Formatter = num,
    log: bool = False,
    zero_line: bool = False,
    title: str = "",
    marks: Sequence[Mark] = (),
) -> str:
    """A time-series chart of ``lines`` (same length as ``stamps``), optionally on a log scale.

    ``marks`` are drawn as vertical lines (hover shows their label); hovering the chart shows
    each line's value at the nearest date (a few lines of inline JavaScript read ``data-hover``).
    """
    series = [(ln, *decimate(_seconds(stamps if ln.stamps is None else ln.stamps), _y(ln.values, log))) for ln in lines]
    ys = np.concatenate([s[2] for s in series]) if series else np.zeros(0)
    if ys.size == 0:
        return _empty(height, title)
    t = np.concatenate([s[1] for s in series])
    lo, hi = float(ys.min()), float(ys.max())
    if zero_line or any(ln.fill for ln in lines):
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 1.0, hi + 1.0
    t0 = float(t.min())
    t1 = float(t.max()) if t.max() > t0 else t0 + 86400.0
    pw, ph = WIDTH - MARGIN_L - MARGIN_R, height - MARGIN_T - MARGIN_B

    def sx(v: np.ndarray | float) -> np.ndarray:
        return np.asarray(MARGIN_L + (np.asarray(v) - t0) / (t1 - t0) * pw)

    def sy(v: np.ndarray | float) -> np.ndarray:
        return np.asarray(MARGIN_T + (hi - np.asarray(v)) / (hi - lo) * ph)

    hover = _hover_data(series, sx, "pct" if fmt is pct else "num", log, (MARGIN_L, WIDTH - MARGIN_R))
    parts = [_open(height, title, hover)]
    ticks = [math.log(v) for v in _log_ticks(math.exp(lo), math.exp(hi))] if log else _ticks(lo, hi)
    for v in ticks:
        y = float(sy(v))
        label = fmt(math.exp(v)) if log else fmt(v)
        parts.append(f'<line class="grid" x1="{MARGIN_L}" x2="{WIDTH - MARGIN_R}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="yl" x="{MARGIN_L - 6}" y="{y + 4:.1f}">{escape(label)}</text>')
    for s, label in _time_ticks(t0, t1):
        if t0 <= s <= t1:
            x = float(sx(s))
            parts.append(
                f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_T + ph}" y2="{MARGIN_T + ph + 4}"/>'
            )
            parts.append(f'<text class="xl" x="{x:.1f}" y="{height - 8}">{label}</text>')
    if zero_line and lo < 0 < hi:
        parts.append(
            f'<line class="zero" x1="{MARGIN_L}" x2="{WIDTH - MARGIN_R}" y1="{float(sy(0.0)):.1f}" y2="{float(sy(0.0)):.1f}"/>'
        )
    for ln, xs, vs in series:
        px, py = sx(xs), sy(vs)
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True))
        if ln.fill and len(px):
            base = float(sy(0.0))
            area = f"{px[0]:.1f},{base:.1f} {pts} {px[-1]:.1f},{base:.1f}"
            parts.append(f'<polygon points="{area}" fill="{ln.color}" fill-opacity="0.25" stroke="none"/>')
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{ln.color}" stroke-width="1.3"/>')
    for m in marks:
        s_m = float(_seconds(np.asarray([m.stamp]))[0])
        if t0 <= s_m <= t1:
            parts.append(_mark(float(sx(s_m)), MARGIN_T, MARGIN_T + ph, m))
    parts.append(_legend(lines))
    parts.append("</svg>")
    return "".join(parts)


def _mark(x: float, top: float, bottom: float, m: Mark) -> str:
    color, dash = MARK_STYLE.get(m.kind, MARK_STYLE["halt"])
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    label = escape(m.label)
    return (
        f'<g class="mark mark-{escape(m.kind)}"><title>{label}</title>'
        f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top:.1f}" y2="{bottom:.1f}" stroke="{color}" stroke-width="1.4"{dashed}/>'
        f'<path d="M{x - 5:.1f},{top:.1f} L{x + 5:.1f},{top:.1f} L{x:.1f},{top + 8:.1f} Z" fill="{color}"/></g>'
    )


def _hover_data(
    series: Sequence[tuple[Line, np.ndarray, np.ndarray]],
    sx: Callable[[np.ndarray], np.ndarray],
    kind: str,
    log: bool,
    span: tuple[float, float],
) -> str:
    """JSON for the hover read-out: per line its name, colour, x positions, days since 1970 and values."""
    out = []
    for ln, xs, vs in series:
        if xs.size == 0:
            continue
        keep = np.unique(np.linspace(0, xs.size - 1, min(xs.size, HOVER_POINTS)).round().astype(np.intp))
        values = np.exp(vs[keep]) if log else vs[keep]
        out.append(
            {
                "n": ln.name,
                "c": ln.color,
                "x": [round(float(v), 1) for v in sx(xs[keep])],
                "d": [int(v // 86400) for v in xs[keep]],
                "v": [float(f"{v:.5g}") for v in values],
            }
        )
    return json.dumps({"f": kind, "a": span, "s": out}, separators=(",", ":"), allow_nan=False)


def _seconds(stamps: np.ndarray) -> np.ndarray:
    return stamps.astype("datetime64[s]").astype(np.int64).astype(np.float64)


def _y(values: np.ndarray, log: bool) -> np.ndarray:
    if not log:
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, height: int = 200, title: str = "") -> str:
    """Vertical bars, green above zero and red below (annual returns)."""
    vals = np.asarray(values, dtype=np.float64)
    if vals.size == 0:
        return _empty(height, title)
    lo, hi = min(0.0, float(np.nanmin(vals))), max(0.0, float(np.nanmax(vals)))
    hi = hi if hi > lo else lo + 1.0
    pw, ph = WIDTH - MARGIN_L - MARGIN_R, height - MARGIN_T - MARGIN_B
    step = pw / vals.size
    zero = MARGIN_T + hi / (hi - lo) * ph
    parts = [_open(height, title)]
    for v in _ticks(lo, hi):
        y = MARGIN_T + (hi - v) / (hi - lo) * ph
        parts.append(f'<line class="grid" x1="{MARGIN_L}" x2="{WIDTH - MARGIN_R}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="yl" x="{MARGIN_L - 6}" y="{y + 4:.1f}">{pct(v)}</text>')
    every = max(1, math.ceil(vals.size / 16))
    for i, (label, v) in enumerate(zip(labels, vals, strict=True)):
        v = 0.0 if not math.isfinite(v) else float(v)
        y = MARGIN_T + (hi - max(v, 0.0)) / (hi - lo) * ph
        h = max(abs(v) / (hi - lo) * ph, 0.5)
        color = "#2a9d4b" if v >= 0 else "#c0392b"
        x = MARGIN_L + i * step + step * 0.15
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" fill="{color}">'
            f"<title>{escape(label)}: {pct(v)}</title></rect>"
        )
        if i % every == 0:
            parts.append(f'<text class="xl" x="{x + step * 0.35:.1f}" y="{height - 8}">{escape(label)}</text>')
    parts.append(f'<line class="zero" x1="{MARGIN_L}" x2="{WIDTH - MARGIN_R}" y1="{zero:.1f}" y2="{zero:.1f}"/>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(
    values: np.ndarray, *, bins: int = 50, height: int = 200, title: str = "", marks: Sequence[tuple[float, str]] = ()
) -> str:
    """Counts of ``values`` (per-bar returns) in ``bins`` equal bins; ``marks`` are (value, label) vertical lines."""
    vals = np.asarray(values, dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return _empty(height, title)
    lo, hi = float(vals.min()), float(vals.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 1e-3, hi + 1e-3
    counts, edges = np.histogram(vals, bins=bins, range=(lo, hi))
    pw, ph = WIDTH - MARGIN_L - MARGIN_R, height - MARGIN_T - MARGIN_B
    top = float(counts.max())

    def sx(v: float) -> float:
        return MARGIN_L + (v - lo) / (hi - lo) * pw

    parts = [_open(height, title)]
    for v in _ticks(0.0, top, 4):
        y = MARGIN_T + (top - v) / top * ph
        parts.append(f'<line class="grid" x1="{MARGIN_L}" x2="{WIDTH - MARGIN_R}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="yl" x="{MARGIN_L - 6}" y="{y + 4:.1f}">{v:,.0f}</text>')
    for c, a, b in zip(counts, edges[:-1], edges[1:], strict=True):
        h = c / top * ph
        color = "#2a9d4b" if a >= 0 else "#c0392b" if b <= 0 else "#6b7b8c"
        parts.append(
            f'<rect x="{sx(a) + 0.5:.1f}" y="{MARGIN_T + ph - h:.1f}" width="{max(sx(b) - sx(a) - 1.0, 0.5):.1f}" '
            f'height="{max(h, 0.0):.1f}" fill="{color}" fill-opacity="0.8">'
            f"<title>{pct(a)} to {pct(b)}: {c:,} bars</title></rect>"
        )
    for v in _ticks(lo, hi, 8):
        parts.append(f'<text class="xl" x="{sx(v):.1f}" y="{height - 8}">{pct(v)}</text>')
    for v, label in marks:
        if lo <= v <= hi:
            x = sx(v)
            parts.append(
                f'<g class="mark"><title>{escape(label)}: {pct(v)}</title><line x1="{x:.1f}" x2="{x:.1f}" '
                f'y1="{MARGIN_T}" y2="{MARGIN_T + ph}" stroke="#1d2733" stroke-dasharray="4 3"/>'
                f'<text class="lg" x="{x + 4:.1f}" y="{MARGIN_T + 10}">{escape(label)}</text></g>'
            )
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(labels: Sequence[str], values: Sequence[float], *, fmt: Formatter = num, title: str = "") -> str:
    """Horizontal bars, one row per label, green to the right of zero and red to the left (P&L by symbol)."""
    vals = np.asarray(values, dtype=np.float64)
    if vals.size == 0:
        return _empty(120, title)
    row = 18
    left = max(MARGIN_L, 8 + 7 * max(len(str(lb)) for lb in labels))
    height = MARGIN_T + row * vals.size + MARGIN_B
    lo, hi = min(0.0, float(np.nanmin(vals))), max(0.0, float(np.nanmax(vals)))
    hi = hi if hi > lo else lo + 1.0
    pw = WIDTH - left - MARGIN_R - 70

    def sx(v: float) -> float:
        return left + (v - lo) / (hi - lo) * pw

    parts = [_open(height, title)]
    for i, (label, v) in enumerate(zip(labels, vals, strict=True)):
        v = 0.0 if not math.isfinite(v) else float(v)
        y = MARGIN_T + i * row
        x0, x1 = sorted((sx(0.0), sx(v)))
        color = "#2a9d4b" if v >= 0 else "#c0392b"
        parts.append(f'<text class="yl" x="{left - 6}" y="{y + row * 0.7:.1f}">{escape(str(label))}</text>')
        parts.append(
            f'<rect x="{x0:.1f}" y="{y + 2}" width="{max(x1 - x0, 0.5):.1f}" height="{row - 4}" fill="{color}">'
            f"<title>{escape(str(label))}: {escape(fmt(v))}</title></rect>"
        )
        parts.append(f'<text class="lg" x="{max(x1, sx(0.0)) + 4:.1f}" y="{y + row * 0.7:.1f}">{escape(fmt(v))}</text>')
    zero = sx(0.0)
    parts.append(f'<line class="zero" x1="{zero:.1f}" x2="{zero:.1f}" y1="{MARGIN_T}" y2="{height - MARGIN_B}"/>')
    parts.append("</svg>")
    return "".join(parts)


def heatmap(
    rows: Sequence[str], cols: Sequence[str], values: np.ndarray, *, fmt: Formatter = pct, title: str = ""
) -> str:
    """A grid of cells coloured red (negative) to green (positive); NaN cells are left blank."""
    n_rows, n_cols = values.shape
    if n_rows == 0 or n_cols == 0:
        return _empty(120, title)
    cell_h = 18 if n_rows <= 40 else 12
    height = MARGIN_T + n_rows * cell_h + MARGIN_B
    pw = WIDTH - MARGIN_L - MARGIN_R
    cw = pw / n_cols
    finite = values[np.isfinite(values)]
    scale = float(np.max(np.abs(finite))) if finite.size else 1.0
    scale = scale if scale > 0 else 1.0
    show_text = n_cols <= 14 and cw >= 40
    parts = [_open(height, title)]
    for i, label in enumerate(rows):
        y = MARGIN_T + i * cell_h
        parts.append(f'<text class="yl" x="{MARGIN_L - 6}" y="{y + cell_h * 0.7:.1f}">{escape(label)}</text>')
        for j in range(n_cols):
            v = values[i, j]
            if not math.isfinite(v):
                continue
            x = MARGIN_L + j * cw
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{cw:.2f}" height="{cell_h - 1}" fill="{_diverging(v / scale)}">'
                f"<title>{escape(label)} {escape(cols[j])}: {escape(fmt(v))}</title></rect>"
            )
            if show_text:
                parts.append(f'<text class="cell" x="{x + cw / 2:.1f}" y="{y + cell_h * 0.7:.1f}">{fmt(v)}</text>')
    every = max(1, math.ceil(n_cols / 12))
    for j in range(0, n_cols, every):
        x = MARGIN_L + j * cw + cw / 2
        parts.append(f'<text class="xl" x="{x:.1f}" y="{height - 8}">{escape(cols[j])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _diverging(u: float) -> str:
    """-1 -> red, 0 -> white, +1 -> green."""
    u = max(-1.0, min(1.0, u))
    end = (42, 157, 75) if u >= 0 else (192, 57, 43)
    a = abs(u) ** 0.7
    r, g, b = (round(255 + (c - 255) * a) for c in end)
    return f"#{r:02x}{g:02x}{b:02x}"


def _open(height: int, title: str, hover: str = "") -> str:
    label = f' aria-label="{escape(title)}"' if title else ""
    data = f' data-hover="{escape(hover)}"' if hover else ""
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img"{label}{data}>'


def _legend(lines: Sequence[Line]) -> str:
    if len(lines) < 2:
        return ""
    out, x = [], MARGIN_L + 8
    for ln in lines:
        out.append(f'<rect x="{x}" y="{MARGIN_T + 2}" width="12" height="3" fill="{ln.color}"/>')
        out.append(f'<text class="lg" x="{x + 16}" y="{MARGIN_T + 7}">{escape(ln.name)}</text>')
        x += 24 + 7 * len(ln.name)
    return "".join(out)


def _empty(height: int, title: str) -> str:
    return (
        f'{_open(height, title)}<text class="empty" x="{WIDTH / 2}" y="{height / 2}">'
        "no data for this chart</text></svg>"
    )
