"""Combinators: weighted sums of z-scores or ranks, products, signs, thresholds, differences and ratios."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import numpy as np
from pydantic import Field, model_validator

from qt.data.panel import BarPanel
from qt.features import engineering as fe
from qt.features.signals.base import OneInput, Signal


class Transform(StrEnum):
    """How inputs are put on one scale before they are summed."""

    ZSCORE = "zscore"
    RANK = "rank"
    NONE = "none"


def transform(x: np.ndarray, how: Transform) -> np.ndarray:
    """Cross-sectional z-score, rank, or x itself."""
    if how is Transform.ZSCORE:
        return fe.cs_zscore(x)
    if how is Transform.RANK:
        return fe.cs_rank(x)
    return x


class WeightedSum(Signal):
    """sum_i w_i * transform(input_i); NaN where any input is NaN.

    Examples
    --------
    >>> WeightedSum(inputs={"mom": 1.0, "lowvol": 0.5}).references()
    ('mom', 'lowvol')
    """

    inputs: dict[str, float] = Field(min_length=1)
    transform: Transform = Transform.ZSCORE

    def references(self) -> tuple[str, ...]:
        """Every input node."""
        return tuple(self.inputs)

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """The weighted sum [T x N]."""
        total = np.zeros((panel.n_bars, panel.n_assets))
        for name, w in self.inputs.items():
            total = total + w * transform(nodes[name], self.transform)
        return total


class Product(Signal):
    """Element-wise product of the input nodes."""

    inputs: list[str] = Field(min_length=2)

    def references(self) -> tuple[str, ...]:
        """Every input node."""
        return tuple(self.inputs)

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """The product [T x N]."""
        out = np.ones((panel.n_bars, panel.n_assets))
        for name in self.inputs:
            out = out * nodes[name]
        return out


class Sign(OneInput):
    """-1, 0 or +1 by the sign of ``of`` (NaN stays NaN)."""

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """np.sign [T x N]."""
        return np.sign(nodes[self.of])


class Threshold(OneInput):
    """+1 where ``of`` > ``above``, -1 where it is < ``below``, 0 between (NaN stays NaN)."""

    above: float | None = 0.0
    below: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        if self.above is None and self.below is None:
            raise ValueError("give above, below, or both")
        if self.above is not None and self.below is not None and self.below > self.above:
            raise ValueError(f"below ({self.below}) must be <= above ({self.above})")
        return self

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """-1 / 0 / +1 [T x N]."""
        x = nodes[self.of]
        out = np.where(np.isfinite(x), 0.0, np.nan)
        if self.above is not None:
            out = np.where(x > self.above, 1.0, out)
        if self.below is not None:
            out = np.where(x < self.below, -1.0, out)
        return out


class Difference(Signal):
    """Node ``a`` minus node ``b``."""

    a: str
    b: str

    def references(self) -> tuple[str, ...]:
        """Both operands."""
        return (self.a, self.b)

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """A - b [T x N]."""
        return nodes[self.a] - nodes[self.b]


class Ratio(Difference):
    """Node ``a`` / node ``b`` - 1 (e.g. a fast over a slow moving average)."""

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """A / b - 1 [T x N]."""
        with np.errstate(invalid="ignore", divide="ignore"):
            out = nodes[self.a] / nodes[self.b] - 1.0
        return np.where(np.isfinite(out), out, np.nan)
