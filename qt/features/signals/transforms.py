"""Feature nodes: a raw bar field, returns, and the engineering transforms applied to another node."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from qt.data.panel import BarPanel
from qt.enums import Field as BarFieldName
from qt.features import engineering as fe
from qt.features.signals.base import OneInput, Signal


class BarField(Signal):
    """A bar field of the panel as a node (``close``, ``volume``, ...).

    Examples
    --------
    >>> from qt.testing.panels import daily_panel
    >>> BarField().compute(daily_panel([[1.0], [2.0]]), {}).ravel().tolist()
    [1.0, 2.0]
    """

    field: BarFieldName = BarFieldName.CLOSE

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """The field's [T x N] array."""
        return panel.require(self.field, needed_by=f"signal 'field' ({self.field.value})")


class Returns(Signal):
    """Simple (or log) return of ``field`` from t - horizon to t - skip."""

    horizon: PositiveInt = 1
    skip: NonNegativeInt = 0
    log: bool = False
    field: BarFieldName = BarFieldName.CLOSE

    @model_validator(mode="after")
    def _skip_inside_horizon(self) -> Returns:
        if self.skip >= self.horizon:
            raise ValueError(f"skip ({self.skip}) must be < horizon ({self.horizon})")
        return self

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Returns [T x N]."""
        x = panel.require(self.field, needed_by="signal 'returns'")
        if self.log:
            return fe.lag(fe.log_returns(x, self.horizon - self.skip), self.skip)
        return fe.simple_returns(x, self.horizon, self.skip)


class TimeSeriesZScore(OneInput):
    """(x - trailing mean) / trailing std per asset over ``window`` bars."""

    window: int = Field(20, ge=2)

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Z-scores [T x N]."""
        return fe.ts_zscore(nodes[self.of], self.window)


class CrossSectionalZScore(OneInput):
    """(x - row mean) / row std across assets."""

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Z-scores [T x N]."""
        return fe.cs_zscore(nodes[self.of])


class CrossSectionalRank(OneInput):
    """Percentile rank across assets, in [0, 1]."""

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Ranks [T x N]."""
        return fe.cs_rank(nodes[self.of])


class Winsorize(OneInput):
    """Clip each row at its ``lower``/``upper`` cross-sectional quantiles."""

    lower: float = Field(0.01, ge=0.0, le=1.0)
    upper: float = Field(0.99, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Winsorize:
        if self.lower >= self.upper:
            raise ValueError(f"lower ({self.lower}) must be < upper ({self.upper})")
        return self

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Clipped values [T x N]."""
        return fe.winsorize(nodes[self.of], self.lower, self.upper)


class Demean(OneInput):
    """Each row minus its cross-sectional mean."""

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Demeaned values [T x N]."""
        return fe.demean(nodes[self.of])


class Neutralize(OneInput):
    """Each value minus its group's cross-sectional mean; ``groups`` maps symbol -> group (e.g. sector)."""

    groups: dict[str, str]

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Group-neutral values [T x N]."""
        return fe.neutralize(nodes[self.of], panel.symbols, self.groups)


class Ewma(OneInput):
    """Exponentially weighted mean with the given ``halflife`` in bars."""

    halflife: PositiveFloat = 10.0

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Smoothed values [T x N]."""
        return fe.ewma(nodes[self.of], self.halflife)
