"""Portfolio optimizers: the strategy's raw book in, the weights of NAV to hold out.

``EqualWeight`` passes the strategy's book through. The others estimate risk with a
``risk_model`` over a universe (the assets the strategy ``selected`` or ``scored``) and
respect ``constraints``; the convex ones (meanvar, minvar, maxsharpe) use cvxpy, imported
only when they first solve. Expected returns come from the strategy's scores, see
:func:`expected_returns`.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, PositiveFloat

from qt.context import DecisionContext
from qt.portfolio.expected_returns import expected_returns
from qt.portfolio.risk_based import RiskBased
from qt.portfolio.risk_models import RiskEstimate
from qt.portfolio.solved import MaxSharpe, MeanVariance, MinVariance
from qt.types import TargetPositions, TargetWeights


class EqualWeight(BaseModel):
    """The strategy's target weights, normalized so that sum(|w|) = ``gross``.

    An all-zero target stays all zero (cash).

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


class _Heuristic(RiskBased):
    """Closed-form or iterative allocations: long-only, sum to ``constraints.net``, capped at max_weight."""

    uses_solver: ClassVar[bool] = False

    def allocate(
        self,
        target: TargetPositions,
        ctx: DecisionContext,
        estimate: RiskEstimate,
        idx: np.ndarray,
        solver: str,
        *,
        relaxed: bool,
    ) -> tuple[np.ndarray | None, str, float]:
        """Allocation over the universe; ``solver`` and ``relaxed`` do not apply."""
        from qt.portfolio.heuristics import cap_weights

        if idx.size == 0:
            return np.zeros(0), "empty universe: cash", 0.0
        raw = self.rule(estimate.cov[np.ix_(idx, idx)])
        return cap_weights(raw, self.constraints.max_weight, self.constraints.net), "optimal", 0.0

    @abstractmethod
    def rule(self, cov: np.ndarray) -> np.ndarray:
        """Weights summing to 1 from the universe's covariance."""


class InverseVolatility(_Heuristic):
    """Weights proportional to 1 / volatility of each asset in the universe."""

    def rule(self, cov: np.ndarray) -> np.ndarray:
        """1/vol, normalized."""
        from qt.portfolio.heuristics import inverse_vol

        return inverse_vol(cov)


class RiskParity(_Heuristic):
    """Equal risk contribution (ERC) weights, long only."""

    def rule(self, cov: np.ndarray) -> np.ndarray:
        """ERC by Newton's method."""
        from qt.portfolio.heuristics import equal_risk_contribution

        return equal_risk_contribution(cov)


class HierarchicalRiskParity(_Heuristic):
    """Hierarchical risk parity (López de Prado): tree clustering and recursive bisection."""

    def rule(self, cov: np.ndarray) -> np.ndarray:
        """HRP weights."""
        from qt.portfolio.heuristics import hrp

        return hrp(cov)


__all__ = [
    "EqualWeight",
    "HierarchicalRiskParity",
    "InverseVolatility",
    "MaxSharpe",
    "MeanVariance",
    "MinVariance",
    "RiskBased",
    "RiskParity",
    "expected_returns",
]
