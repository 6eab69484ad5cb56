"""The portfolio-construction contract: ``weights(target, ctx) -> TargetWeights``, and its result types."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from qt.context import DecisionContext
from qt.errors import QtError
from qt.types import TargetPositions, TargetWeights


@runtime_checkable
class PortfolioConstructor(Protocol):
    """Turns a strategy's raw target into the weights of NAV to hold."""

    def weights(self, target: TargetPositions, ctx: DecisionContext) -> TargetWeights:
        """The book to hold after this decision."""
        ...


class OptimizationError(QtError):
    """An optimizer failed at a decision and no fallback step succeeded."""


class Solver(StrEnum):
    """cvxpy solvers qt knows (their Python packages must be installed)."""

    CLARABEL = "CLARABEL"
    OSQP = "OSQP"
    SCS = "SCS"
    ECOS = "ECOS"

    @property
    def installed(self) -> bool:
        """Whether the solver's package is importable."""
        return importlib.util.find_spec(self.value.lower()) is not None


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
class SolveReport:
    """What one decision's optimization did: final status, solver, fallback steps taken, time."""

    status: str
    solver: str
    steps: tuple[str, ...] = ()
    solve_ms: float = 0.0


def solve_report(portfolio: object) -> SolveReport | None:
    """The last decision's SolveReport of ``portfolio``, if it keeps one."""
    pop = getattr(portfolio, "pop_report", None)
    return pop() if callable(pop) else None
