"""Naive constructors: no risk model, no solver.

``EqualWeight`` passes the strategy's book through, scaled to a gross exposure.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, PositiveFloat

from qt.context import DecisionContext
from qt.types import TargetPositions, TargetWeights


class EqualWeight(BaseModel):
    """The strategy's target weights, normalized so that sum(|w|) = ``gross``.

    An all-zero target stays all zero (cash). Its ``TargetWeights.report`` is None: nothing is solved.

    Examples
    --------
    >>> import numpy as np
    >>> from qt.types import TargetPositions
    >>> t = TargetPositions(np.datetime64("2024-01-31"), np.array([1.0, 1.0, -2.0]), np.zeros(3))
    >>> EqualWeight().normalize(t.weights).tolist()
    [0.25, 0.25, -0.5]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    gross: PositiveFloat = 1.0

    def normalize(self, raw: np.ndarray) -> np.ndarray:
        """Raw scaled to gross exposure ``gross``."""
        total = float(np.abs(raw).sum())
        return raw / total * self.gross if total > 0 else np.zeros_like(raw)  # raw / total: safe for subnormals

    def weights(self, target: TargetPositions, ctx: DecisionContext) -> TargetWeights:
        """The normalized strategy book."""
        return TargetWeights(target.timestamp, self.normalize(target.weights))
