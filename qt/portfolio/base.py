"""The portfolio-construction contract: ``weights(target, ctx) -> TargetWeights``, and its parts.

A constructor's result carries its ``SolveReport`` (``TargetWeights.report``). Risk-based
constructors allocate one ``Allocation`` (the decision's target, context, risk estimate,
universe and solver) into an ``Allocated`` (weights, status, time).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np

from qt.context import DecisionContext
from qt.errors import QtError
from qt.portfolio.risk_models import RiskEstimate
from qt.types import SolveReport, TargetPositions, TargetWeights

__all__ = [
    "Allocated",
    "Allocation",
    "FallbackStep",
    "OptimizationError",
    "PortfolioConstructor",
    "SolveReport",
    "Solver",
]


@runtime_checkable
class PortfolioConstructor(Protocol):
    """Turns a strategy's raw target into the weights of NAV to hold (with the report of how)."""

    def weights(self, target: TargetPositions, ctx: DecisionContext) -> TargetWeights:
        """The book to hold after this decision."""
        ...


class OptimizationError(QtError):
    """An optimizer failed at a decision and no fallback step succeeded."""


class Solver(StrEnum):
    """Solvers qt knows: cvxpy's (their Python packages must be installed) and qt's own ``ACTIVE_SET``.

    ``ACTIVE_SET`` solves mean-variance and minimum variance under bounds and a budget (plus a
    turnover penalty) exactly and fast; any other problem, or a solution it cannot verify, goes
    to Clarabel, and the decision's report names the solver that produced the weights.
    """

    ACTIVE_SET = "ACTIVE_SET"
    CLARABEL = "CLARABEL"
    OSQP = "OSQP"
    SCS = "SCS"
    ECOS = "ECOS"

    @property
    def installed(self) -> bool:
        """Whether the solver's package is importable."""
        return self is Solver.ACTIVE_SET or importlib.util.find_spec(self.value.lower()) is not None


class FallbackStep(StrEnum):
    """One step of an optimizer's fallback chain: another solver, a relaxed problem, or a fixed book."""

    CLARABEL = "CLARABEL"
    OSQP = "OSQP"
    SCS = "SCS"
    ECOS = "ECOS"
    RELAX = "relax"
    PREVIOUS = "previous"
    EQUAL = "equal"


@dataclass(frozen=True)
class Allocation:
    """One allocation to make at a decision: what to allocate over and how to solve it.

    ``members`` are positions within ``estimate.assets`` (the decision's universe);
    ``relaxed`` drops group, turnover and volatility constraints (a fallback step).
    """

    target: TargetPositions
    ctx: DecisionContext
    estimate: RiskEstimate
    members: np.ndarray
    solver: str
    relaxed: bool = False

    @property
    def assets(self) -> np.ndarray:
        """Panel indices of the universe."""
        return np.asarray(self.estimate.assets[self.members])

    @property
    def cov(self) -> np.ndarray:
        """Per-period covariance of the universe."""
        return np.asarray(self.estimate.cov[np.ix_(self.members, self.members)])

    def retry(self, *, solver: str, relaxed: bool) -> Allocation:
        """The same allocation with another solver or the relaxed problem."""
        return replace(self, solver=solver, relaxed=relaxed)


@dataclass(frozen=True)
class Allocated:
    """An allocation's weights (over the universe or the whole panel; None if it failed), status, time.

    ``solver`` names the solver that produced the weights when it is not the one asked for.
    """

    weights: np.ndarray | None
    status: str
    solve_ms: float = 0.0
    solver: str | None = None
