"""The portfolio package by family: a convex optimizer is one small class; old target paths still build."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from qt.config.instantiate import build
from qt.config.paths import conf_dir
from qt.portfolio.convex.base import ConvexOptimizer
from qt.portfolio.convex.max_sharpe import MaxSharpe
from qt.portfolio.convex.mean_variance import MeanVariance
from qt.portfolio.convex.min_variance import MinVariance
from qt.portfolio.heuristics import HierarchicalRiskParity
from qt.portfolio.naive import EqualWeight
from qt.portfolio.risk_models import SampleCovariance

RM = SampleCovariance(window=250, min_periods=100)


class TiltedMinVariance(ConvexOptimizer):
    """The docs/portfolio.md example: minimum variance tilted toward expected return."""

    tilt: float = 0.1

    def objective(self, x):
        return cp.Minimize(x.risk - self.tilt * (x.mu @ x.w)), []


def test_a_new_convex_optimizer_is_one_hook(panel, ctx_of, target_of):
    ctx, tgt = ctx_of(panel), target_of(panel)
    none = TiltedMinVariance(risk_model=RM, tilt=0.0).weights(tgt, ctx).weights
    np.testing.assert_allclose(none, MinVariance(risk_model=RM, universe="scored").weights(tgt, ctx).weights, atol=1e-6)
    # tilt t: max mu.w - wΣw/t is mean-variance with risk aversion 1/t
    tilted = TiltedMinVariance(risk_model=RM, tilt=0.5).weights(tgt, ctx)
    meanvar = MeanVariance(risk_model=RM, risk_aversion=2.0).weights(tgt, ctx).weights
    np.testing.assert_allclose(tilted.weights, meanvar, atol=1e-6)
    assert tilted.report.status == "optimal"


@pytest.mark.parametrize(
    ("path", "cls"),
    [
        ("qt.portfolio.optimizers.MeanVariance", MeanVariance),
        ("qt.portfolio.optimizers.EqualWeight", EqualWeight),
        ("qt.portfolio.optimizers.HierarchicalRiskParity", HierarchicalRiskParity),
        ("qt.portfolio.solved.MaxSharpe", MaxSharpe),
        ("qt.portfolio.convex.max_sharpe.MaxSharpe", MaxSharpe),
    ],
)
def test_old_and_new_target_paths_build(path, cls):
    assert type(build({"_target_": path}, "portfolio")) is cls


def test_portfolio_configs_name_the_family_module():
    targets = {
        p.stem: p.read_text().split("_target_: ")[1].split()[0] for p in (conf_dir() / "portfolio").glob("*.yaml")
    }
    assert targets["maxsharpe"] == "qt.portfolio.convex.max_sharpe.MaxSharpe"
    assert targets["equal"] == "qt.portfolio.naive.EqualWeight"
    assert targets["hrp"] == "qt.portfolio.heuristics.HierarchicalRiskParity"
