"""The base of risk-based constructors: risk model, constraints, universe and the fallback chain."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, InstanceOf, PrivateAttr

from qt.context import DecisionContext
from qt.portfolio.base import Allocated, Allocation, FallbackStep, OptimizationError, Solver
from qt.portfolio.constraints import Constraints
from qt.portfolio.risk_models import LedoitWolf, RiskEstimate, RiskModel
from qt.types import SolveReport, TargetPositions, TargetWeights

log = logging.getLogger("qt")


class RiskBased(BaseModel, ABC):
    """Shared parts of the risk-based constructors: risk model, constraints, universe, failure policy.

    ``fallback`` lists the steps tried, in order, when the solve fails: another solver's name,
    ``relax`` (drop group, turnover and volatility constraints), ``previous`` (keep the book
    held before the decision) or ``equal`` (the strategy's book, normalized).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    risk_model: InstanceOf[RiskModel] = Field(default_factory=LedoitWolf)
    constraints: InstanceOf[Constraints] = Field(default_factory=Constraints)
    universe: Literal["selected", "scored"] = "selected"
    solver: Solver = Solver.CLARABEL
    fallback: list[FallbackStep] = Field(default_factory=list)
    uses_solver: ClassVar[bool] = True
    _cache: dict[Any, Any] = PrivateAttr(default_factory=dict)

    def members(self, target: TargetPositions, estimate: RiskEstimate) -> np.ndarray:
        """Positions within ``estimate.assets`` of the decision's universe."""
        a = estimate.assets
        mask = target.weights[a] != 0 if self.universe == "selected" else np.isfinite(target.scores[a])
        return np.flatnonzero(mask)

    def weights(self, target: TargetPositions, ctx: DecisionContext) -> TargetWeights:
        """Estimate risk, allocate over the universe, walk the fallback chain on failure."""
        estimate = self.risk_model.estimate(ctx)
        job = Allocation(target, ctx, estimate, self.members(target, estimate), self.solver.value)
        n = len(ctx.symbols)
        if job.assets.size == 0:  # nothing with enough history yet: stay in cash
            report = SolveReport(status="empty universe: cash", solver="none")
            return TargetWeights(target.timestamp, np.zeros(n), report)
        conflicts = self.conflicts(job)
        used = self.solver.value if self.uses_solver else "none"
        result = Allocated(None, "infeasible: " + "; ".join(conflicts)) if conflicts else self.allocate(job)
        solve_ms, steps = result.solve_ms, []
        used = result.solver or used
        for step in self.fallback if result.weights is None else []:
            steps.append(f"{result.status} -> {step.value}")
            log.warning("portfolio at %s: %s; trying fallback '%s'", str(ctx.timestamp)[:10], result.status, step)
            if step is FallbackStep.PREVIOUS:
                result, used = Allocated(ctx.weights.copy(), "previous weights kept"), "none"
            elif step is FallbackStep.EQUAL:
                result, used = Allocated(_normalize(target.weights, abs(self.constraints.net) or 1.0), "equal"), "none"
            else:
                relax = step is FallbackStep.RELAX
                used = self.solver.value if relax else step.value
                result = self.allocate(job.retry(solver=used, relaxed=relax))
                solve_ms, used = solve_ms + result.solve_ms, result.solver or used
            if result.weights is not None:
                break
        if result.weights is None:
            raise OptimizationError(
                f"{type(self).__name__} at {str(ctx.timestamp)[:10]}: {result.status}"
                + (f" (fallbacks tried: {', '.join(s.value for s in self.fallback)})" if self.fallback else "")
                + "; add a fallback (portfolio.fallback=[relax,previous]) or loosen the constraints"
            )
        full = result.weights if result.weights.shape[0] == n else _scatter(result.weights, job.assets, n)
        report = SolveReport(status=result.status, solver=used, steps=tuple(steps), solve_ms=solve_ms)
        return TargetWeights(target.timestamp, full, report)

    def conflicts(self, job: Allocation) -> list[str]:
        """Constraints that cannot hold at this decision (universe size; turnover from the book held)."""
        conflicts = self.constraints.conflicts(len(job.assets))
        if self.uses_solver:
            inside = np.zeros(len(job.ctx.symbols), dtype=bool)
            inside[job.assets] = True
            turnover = self.constraints.turnover_conflict(job.ctx.weights, inside)
            conflicts += [turnover] if turnover else []
        return conflicts

    @abstractmethod
    def allocate(self, job: Allocation) -> Allocated:
        """Weights over ``job.assets`` (or the whole panel), the status and the solve time."""


def _normalize(raw: np.ndarray, gross: float) -> np.ndarray:
    total = float(np.abs(raw).sum())
    return raw * (gross / total) if total > 0 else np.zeros_like(raw)


def _scatter(values: np.ndarray, assets: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n)
    out[assets] = values
    return out
