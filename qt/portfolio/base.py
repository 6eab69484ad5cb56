"""The portfolio-construction contract: ``weights(target, ctx) -> TargetWeights``."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from qt.strategies.base import DecisionContext
from qt.types import TargetPositions, TargetWeights


@runtime_checkable
class PortfolioConstructor(Protocol):
    """Turns a strategy's raw target into the weights of NAV to hold."""

    def weights(self, target: TargetPositions, ctx: DecisionContext) -> TargetWeights:
        """The book to hold after this decision."""
        ...
