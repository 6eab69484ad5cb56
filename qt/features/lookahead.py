"""The lookahead check: scramble every bar after t, recompute every node, and demand nothing at or before t changed.

Unlike re-running on truncated data per trade, this compares whole node panels, so a
leaky signal that never fires is caught too. Label nodes are exempt by role.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qt.data.panel import BarPanel
from qt.enums import Field
from qt.features.graph import SignalGraph
from qt.features.signals.base import Role


@dataclass(frozen=True)
class Leak:
    """The first place a node's past changed when the future was scrambled."""

    node: str
    cutoff: np.datetime64
    timestamp: np.datetime64
    symbol: str
    before: float
    after: float

    def __str__(self) -> str:
        return (
            f"node '{self.node}' looks ahead: with data after {self.cutoff} scrambled, its value at "
            f"{self.timestamp} for {self.symbol} changed from {self.before!r} to {self.after!r}"
        )


def scramble_after(panel: BarPanel, t: int, rng: np.random.Generator) -> BarPanel:
    """Rows > t replaced: prices follow shuffled returns with noise from row t on, volume is shuffled; NaN gaps kept."""
    if t + 1 >= panel.n_bars:
        return panel
    fields = {f: a.copy() for f, a in panel.fields.items()}
    close = panel.close
    tail = slice(t + 1, None)
    n_tail = panel.n_bars - t - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        rets = close[1:] / close[:-1] - 1.0
    rets = np.where(np.isfinite(rets), rets, 0.0)
    drawn = rets[rng.integers(0, max(1, rets.shape[0]), size=(n_tail, panel.n_assets)), np.arange(panel.n_assets)]
    drawn = drawn + rng.normal(0.0, 0.02, size=drawn.shape)
    anchor = np.nan_to_num(panel.mark_prices[t], nan=1.0)
    anchor = np.where(anchor > 0, anchor, 1.0)
    path = anchor * np.cumprod(1.0 + np.clip(drawn, -0.5, 0.5), axis=0)
    gaps = ~np.isfinite(close[tail])
    for f, arr in fields.items():
        if f is Field.VOLUME:
            arr[tail] = arr[tail][rng.permutation(n_tail)] * rng.uniform(0.5, 1.5, size=(n_tail, panel.n_assets))
        else:
            scale = {Field.HIGH: 1.01, Field.LOW: 0.99, Field.OPEN: 1.0 + rng.normal(0, 0.003, path.shape)}.get(f, 1.0)
            arr[tail] = path * scale
        arr[tail] = np.where(gaps, np.nan, arr[tail])
    return BarPanel(panel.timestamps, panel.symbols, fields, tz=panel.tz, name=f"{panel.name} (scrambled after {t})")


def sample_cutoffs(n_bars: int, n: int, rng: np.random.Generator, warmup: int = 0) -> list[int]:
    """``n`` distinct bars in [warmup, n_bars - 2], sorted (spread over the history)."""
    lo, hi = min(warmup, max(0, n_bars - 2)), n_bars - 1
    if hi <= lo:
        return []
    picks = rng.choice(np.arange(lo, hi), size=min(n, hi - lo), replace=False)
    return sorted(int(x) for x in picks)


def check_graph(
    graph: SignalGraph, panel: BarPanel, *, cutoffs: list[int], seed: int = 0, rtol: float = 1e-9
) -> Leak | None:
    """The first leak over every non-label node and every cutoff, or None when all are causal."""
    names = [n for n in graph.order() if graph.role(n) is not Role.LABEL]
    base = graph.evaluate(panel, names, use_cache=False)
    rng = np.random.default_rng(seed)
    for t in cutoffs:
        scrambled = graph.evaluate(scramble_after(panel, t, rng), names, use_cache=False)
        for name in names:
            leak = first_difference(name, base[name][: t + 1], scrambled[name][: t + 1], panel, t, rtol)
            if leak is not None:
                return leak
    return None


def first_difference(name: str, a: np.ndarray, b: np.ndarray, panel: BarPanel, t: int, rtol: float) -> Leak | None:
    """The earliest (row, then symbol) place where ``a`` and ``b`` differ beyond ``rtol`` (NaN equals NaN)."""
    same = np.isclose(a, b, rtol=rtol, atol=1e-12, equal_nan=True)
    if same.all():
        return None
    row, col = np.argwhere(~same)[0]
    return Leak(
        name, panel.timestamps[t], panel.timestamps[row], panel.symbols[col], float(a[row, col]), float(b[row, col])
    )
