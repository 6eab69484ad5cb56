"""Benchmark return series for ``benchmark=SYMBOL`` or ``benchmark=equal_weight``, aligned to a run's bars.

A symbol is looked up in the run's own data first, then in qt's bundled indices (the
S&P 500 index, symbol ``SP500``). The first bar's benchmark return is 0: like the
strategy, the benchmark starts at the first bar's close.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qt.data.panel import BarPanel, forward_fill
from qt.errors import ConfigError

EQUAL_WEIGHT = "equal_weight"
FILE = "benchmark.parquet"


@dataclass(frozen=True)
class Benchmark:
    """A named series of simple returns, one per bar of the run."""

    name: str
    returns: np.ndarray


def resolve(spec: str, panel: BarPanel) -> Benchmark:
    """The benchmark ``spec`` names, as returns on ``panel``'s bars; ConfigError('benchmark') when unknown."""
    if spec == EQUAL_WEIGHT:
        return Benchmark(f"equal weight of {panel.name}", equal_weight_returns(panel.close))
    if spec in panel.symbols:
        return Benchmark(spec, _price_returns(panel.close[:, panel.symbols.index(spec)]))
    index = _bundled_index(spec)
    if index is None:
        shown = ", ".join(panel.symbols[:10]) + (", ..." if panel.n_assets > 10 else "")
        raise ConfigError(
            "benchmark",
            f"'{spec}' is neither a symbol of data set '{panel.name}' ({shown}) nor a bundled index (SP500); "
            f"use one of those or benchmark={EQUAL_WEIGHT}",
        )
    return Benchmark(spec, _aligned_returns(index, panel.timestamps, spec))


def equal_weight_returns(close: np.ndarray) -> np.ndarray:
    """Per bar, the mean close-to-close return of the assets priced on both bars (0 when none are)."""
    out = np.zeros(close.shape[0])
    if close.shape[0] < 2:
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        rets = close[1:] / close[:-1] - 1.0
    valid = np.isfinite(rets)
    count = valid.sum(axis=1)
    total = np.where(valid, rets, 0.0).sum(axis=1)
    out[1:] = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return out


def _price_returns(close: np.ndarray) -> np.ndarray:
    """Returns of one price series, valued at its last price on bars without one (0 before its first)."""
    marks = forward_fill(close.reshape(-1, 1))[:, 0]
    out = np.zeros(close.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        rets = marks[1:] / marks[:-1] - 1.0
    out[1:] = np.where(np.isfinite(rets), rets, 0.0)
    return out


def _bundled_index(symbol: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(timestamps, closes) of a bundled index with ``symbol``, or None."""
    from qt.data.sources.sample import SampleData, SampleSet

    panel = SampleData(dataset=SampleSet.SP500_INDEX).load()
    if symbol not in panel.symbols:
        return None
    return panel.timestamps, panel.close[:, panel.symbols.index(symbol)]


def _aligned_returns(index: tuple[np.ndarray, np.ndarray], stamps: np.ndarray, name: str) -> np.ndarray:
    """Returns of the index valued at its last close at or before each of ``stamps``."""
    when, close = index
    pos = np.searchsorted(when, stamps.astype(when.dtype), side="right") - 1
    if pos[-1] < 0 or stamps[0] > when[-1]:
        raise ConfigError(
            "benchmark",
            f"the bundled index {name} covers {str(when[0])[:10]} to {str(when[-1])[:10]}, "
            f"which does not overlap this run ({str(stamps[0])[:10]} to {str(stamps[-1])[:10]})",
        )
    marks = np.where(pos >= 0, close[np.maximum(pos, 0)], np.nan)
    return _price_returns(marks)
