"""The base of risk-based optimizers: risk model, constraints, universe and the fallback chain."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, InstanceOf, PrivateAttr

from qt.context import DecisionContext
from qt.portfolio.base import FallbackStep, OptimizationError, Solver, SolveReport
from qt.portfolio.constraints import Constraints
from qt.portfolio.risk_models import LedoitWolf, RiskEstimate, RiskModel
from qt.types import TargetPositions, TargetWeights

log = logging.getLogger("qt")


class RiskBased(BaseModel, ABC):
    """Shared parts of the risk-based optimizers: risk model, constraints, universe, failure policy.

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
    _report: SolveReport | None = PrivateAttr(default=None)
    _cache: dict[Any, Any] = PrivateAttr(default_factory=dict)

    def pop_report(self) -> SolveReport | None:
        """The record of the last decision's solve (then forgotten)."""
        report, self._report = self._report, None
        return report

    def members(self, target: TargetPositions, estimate: RiskEstimate) -> np.ndarray:
        """Positions within ``estimate.assets`` of the decision's universe."""
        a = estimate.assets
        mask = target.weights[a] != 0 if self.universe == "selected" else np.isfinite(target.scores[a])
        return np.flatnonzero(mask)

    def weights(self, target: TargetPositions, ctx: DecisionContext) -> TargetWeights:
        """Estimate risk, allocate over the universe, walk the fallback chain on failure."""
        estimate = self.risk_model.estimate(ctx)
        idx = self.members(target, estimate)
        assets = estimate.assets[idx]
        n = len(ctx.symbols)
        steps: list[str] = []
        if assets.size == 0:  # nothing with enough history yet: stay in cash
            self._report = SolveReport(status="empty universe: cash", solver="none")
            return TargetWeights(target.timestamp, np.zeros(n))
        conflicts = self.constraints.conflicts(len(assets))
        if self.uses_solver:
            inside = np.zeros(n, dtype=bool)
            inside[assets] = True
            turnover = self.constraints.turnover_conflict(ctx.weights, inside)
            conflicts += [turnover] if turnover else []
        status = "infeasible: " + "; ".join(conflicts) if conflicts else ""
        result: np.ndarray | None = None
        solve_ms = 0.0
        used = self.solver.value if self.uses_solver else "none"
        if not conflicts:
            result, status, solve_ms = self.allocate(target, ctx, estimate, idx, self.solver.value, relaxed=False)
        for step in self.fallback if result is None else []:
            steps.append(f"{status} -> {step.value}")
            log.warning("portfolio at %s: %s; trying fallback '%s'", str(ctx.timestamp)[:10], status, step.value)
            if step is FallbackStep.PREVIOUS:
                result, status, used = ctx.weights.copy(), "previous weights kept", "none"
            elif step is FallbackStep.EQUAL:
                result, status, used = _normalize(target.weights, abs(self.constraints.net) or 1.0), "equal", "none"
            else:
                relax = step is FallbackStep.RELAX
                used = self.solver.value if relax else step.value
                result, status, ms = self.allocate(target, ctx, estimate, idx, used, relaxed=relax)
                solve_ms += ms
            if result is not None:
                break
        if result is None:
            raise OptimizationError(
                f"{type(self).__name__} at {str(ctx.timestamp)[:10]}: {status}"
                + (f" (fallbacks tried: {', '.join(s.value for s in self.fallback)})" if self.fallback else "")
                + "; add a fallback (portfolio.fallback=[relax,previous]) or loosen the constraints"
            )
        full = result if result.shape[0] == n else _scatter(result, assets, n)
        self._report = SolveReport(status=status, solver=used, steps=tuple(steps), solve_ms=solve_ms)
        return TargetWeights(target.timestamp, full)

    @abstractmethod
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
        """Weights over ``estimate.assets[idx]`` (or the full panel), status, solve milliseconds."""


def _normalize(raw: np.ndarray, gross: float) -> np.ndarray:
    total = float(np.abs(raw).sum())
    return raw * (gross / total) if total > 0 else np.zeros_like(raw)


def _scatter(values: np.ndarray, assets: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n)
    out[assets] = values
    return out
