"""Tiny panels built by hand, for tests whose expected numbers are worked out on paper."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qt.data.panel import BarPanel
from qt.enums import Field


def daily_panel(
    close: Sequence[Sequence[float]] | np.ndarray,
    symbols: Sequence[str] | None = None,
    start: str = "2024-01-01",
    open_: Sequence[Sequence[float]] | np.ndarray | None = None,
    volume: Sequence[Sequence[float]] | np.ndarray | None = None,
) -> BarPanel:
    """A panel of consecutive calendar days from ``start`` with the given closes (and opens, volumes).

    Examples
    --------
    >>> daily_panel([[1.0, 2.0], [1.5, 2.5]]).symbols
    ('A', 'B')
    """
    close_arr = np.asarray(close, dtype=np.float64)
    n_bars, n_assets = close_arr.shape
    names = tuple(symbols) if symbols is not None else tuple(chr(ord("A") + i) for i in range(n_assets))
    stamps = (np.datetime64(start, "D") + np.arange(n_bars)).astype("datetime64[us]")
    fields = {Field.CLOSE: close_arr}
    if open_ is not None:
        fields[Field.OPEN] = np.asarray(open_, dtype=np.float64)
    if volume is not None:
        fields[Field.VOLUME] = np.asarray(volume, dtype=np.float64)
    return BarPanel(stamps, names, fields, name="hand-made")
