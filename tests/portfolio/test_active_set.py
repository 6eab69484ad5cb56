"""qt's active-set solver: closed forms, a dense cvxpy solve with a turnover penalty, and its limits."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from qt.portfolio.constraints import Constraints
from qt.portfolio.convex.active_set import BoxQP, solve
from qt.portfolio.convex.mean_variance import MeanVariance
from qt.portfolio.convex.min_variance import MinVariance
from qt.portfolio.risk_models import SampleCovariance

RM = SampleCovariance(window=250, min_periods=100)


def problem(n=40, k=12, seed=0, **kw):
    rng = np.random.default_rng(seed)
    b = rng.normal(0.0, 0.1, (n, k))
    d = rng.uniform(0.01, 0.05, n)
    base = {"gamma": 1.0, "q": rng.normal(0.0, 0.05, n), "net": 1.0, "lower": np.zeros(n)}
    base |= {"upper": np.full(n, 0.1), "before": np.zeros(n), "tau": 0.0}
    return BoxQP(loadings=b, specific=d, **(base | kw))


def dense(p: BoxQP) -> np.ndarray:
    w = cp.Variable(len(p.q))
    sigma = p.loadings @ p.loadings.T + np.diag(p.specific)
    objective = p.gamma * cp.quad_form(w, cp.psd_wrap(sigma)) - p.q @ w + p.tau * cp.norm1(w - p.before)
    cons = [cp.sum(w) == p.net, w >= p.lower, w <= p.upper]
    cp.Problem(cp.Minimize(objective), cons).solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10)
    return np.asarray(w.value)


def test_min_variance_of_uncorrelated_assets_is_inverse_variance():
    var = np.array([0.04, 0.01, 0.02])
    p = BoxQP(np.zeros((3, 1)), var, 1.0, np.zeros(3), 1.0, np.zeros(3), np.ones(3), np.zeros(3))
    inv = 1.0 / var
    np.testing.assert_allclose(solve(p), inv / inv.sum(), atol=1e-12)
    capped = BoxQP(np.zeros((3, 1)), var, 1.0, np.zeros(3), 1.0, np.zeros(3), np.full(3, 0.5), np.zeros(3))
    # asset 2 capped at 0.5; the rest split 1/0.04 : 1/0.02 = 1 : 2
    np.testing.assert_allclose(solve(capped), [0.5 / 3, 0.5, 1.0 / 3], atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_turnover_penalty_and_caps_match_a_dense_solve(seed):
    rng = np.random.default_rng(seed + 10)
    before = rng.dirichlet(np.ones(40)) * (rng.uniform(size=40) < 0.5)
    before /= before.sum()
    p = problem(seed=seed, before=np.minimum(before, 0.1), tau=0.01, gamma=2.0)
    got = solve(p)
    assert got is not None
    np.testing.assert_allclose(got, dense(p), atol=1e-6)


def test_a_prohibitive_turnover_penalty_keeps_the_book():
    before = np.r_[np.full(10, 0.1), np.zeros(30)]
    np.testing.assert_array_equal(solve(problem(before=before, tau=10.0)), before)


def test_long_short_and_fixed_assets_match_a_dense_solve():
    lower, upper = np.full(40, -0.2), np.full(40, 0.2)
    lower[:5] = upper[:5] = 0.0  # outside the universe
    p = problem(seed=3, lower=lower, upper=upper, net=0.0)
    got = solve(p)
    assert got is not None and np.all(got[:5] == 0.0)
    np.testing.assert_allclose(got, dense(p), atol=1e-6)


def test_infeasible_bounds_give_none():
    assert solve(problem(upper=np.full(40, 0.02))) is None  # 40 x 0.02 < 1


def test_reports_name_the_solver_that_produced_the_weights(panel, ctx_of, target_of):
    fits = MinVariance(risk_model=RM, solver="ACTIVE_SET").weights(target_of(panel), ctx_of(panel))
    grouped = Constraints(groups={"tech": ["E", "F"]}, group_limits=["tech <= 0.3"])
    other = MeanVariance(risk_model=RM, solver="ACTIVE_SET", constraints=grouped)
    delegated = other.weights(target_of(panel), ctx_of(panel))
    assert fits.report.solver == "ACTIVE_SET" and delegated.report.solver == "CLARABEL"
    reference = MeanVariance(risk_model=RM, constraints=grouped).weights(target_of(panel), ctx_of(panel))
    np.testing.assert_allclose(delegated.weights, reference.weights)


def test_active_set_equals_clarabel_on_the_optimizers(panel, ctx_of, target_of):
    held = np.array([0.3, 0.1, 0.2, 0.1, 0.2, 0.1])
    meanvar = {"risk_aversion": 2.0, "turnover_penalty": 0.01, "constraints": Constraints(max_weight=0.4)}
    minvar = {"constraints": Constraints(long_only=False, max_weight=0.5)}
    for cls, kw in ((MeanVariance, meanvar), (MinVariance, minvar)):
        a = cls(risk_model=RM, solver="ACTIVE_SET", **kw).weights(target_of(panel), ctx_of(panel, weights=held))
        b = cls(risk_model=RM, **kw).weights(target_of(panel), ctx_of(panel, weights=held))
        assert a.report.solver == "ACTIVE_SET"
        np.testing.assert_allclose(a.weights, b.weights, atol=1e-5)  # Clarabel's tolerance


def test_active_set_runs_never_import_cvxpy():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import numpy as np\n"
        "from qt.portfolio.convex.min_variance import MinVariance\n"
        "from qt.testing.panels import daily_panel\n"
        "from qt.context import DecisionContext\n"
        "from qt.types import TargetPositions\n"
        "rng = np.random.default_rng(0)\n"
        "p = daily_panel(100 * np.exp(np.cumsum(rng.normal(0, 0.01, (300, 8)), axis=0)))\n"
        "ctx = DecisionContext(299, p.timestamps[299], 1e6, np.zeros(8), p)\n"
        "r = MinVariance(solver='ACTIVE_SET').weights(TargetPositions(p.timestamps[299], np.ones(8), np.zeros(8)), ctx)\n"
        "print(r.report.solver, 'cvxpy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ACTIVE_SET", "False"]
