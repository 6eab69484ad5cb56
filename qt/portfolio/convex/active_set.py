"""qt's exact solver for the box-constrained quadratic portfolio problem with a factored covariance.

    minimize  ½ wᵀQw − qᵀw + τ‖w − w₀‖₁   s.t.  Σw = net,  lo ≤ w ≤ hi,   Q = 2γ(BBᵀ + diag d)

(mean-variance with a turnover penalty, minimum variance). ADMM with one Woodbury factorization
finds the active set (which weights sit at a bound, at the held weight, or are free); a
primal-dual active-set loop then solves the KKT system on the free weights exactly and verifies
every optimality condition. An unverified result is None: the caller solves with cvxpy instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

FREE, LOW, HIGH, KINK = 0, 1, 2, 3


@dataclass(frozen=True)
class BoxQP:
    """One problem: ``B`` [n x k], ``d`` [n] (Q = 2·gamma·(B Bᵀ + diag d)), linear term ``q``, bounds, turnover."""

    loadings: np.ndarray
    specific: np.ndarray
    gamma: float
    q: np.ndarray
    net: float
    lower: np.ndarray
    upper: np.ndarray
    before: np.ndarray
    tau: float = 0.0

    def gradient(self, w: np.ndarray) -> np.ndarray:
        """Q w − q."""
        return 2.0 * self.gamma * (self.loadings @ (self.loadings.T @ w) + self.specific * w) - self.q


def solve(p: BoxQP, *, max_admm: int = 2000, max_active: int = 60) -> np.ndarray | None:
    """The exact minimizer (KKT verified), or None when the active-set loop does not verify.

    Weights with ``lower == upper`` are fixed there; the rest are solved for.
    """
    movable = p.upper > p.lower
    w = np.where(movable, 0.0, p.lower)
    if not movable.any():
        return w if abs(w.sum() - p.net) < 1e-9 else None
    live = np.flatnonzero(movable)
    rows = p.loadings[live]
    rows = rows[:, np.abs(rows).sum(axis=0) > 0]  # padding columns carry no risk
    sub = BoxQP(
        rows, p.specific[live], p.gamma, p.q[live], p.net - float(w.sum()), p.lower[live],
        p.upper[live], p.before[live], p.tau,
    )  # fmt: skip
    if sub.lower.sum() > sub.net + 1e-12 or sub.upper.sum() < sub.net - 1e-12:
        return None
    tried: list[np.ndarray] = []
    for z in _starts(sub, max_admm):
        state = _states(z, sub)
        if any(np.array_equal(state, t) for t in tried):
            continue  # this active set has been tried
        tried.append(state)
        x = _active_set(sub, z, max_iter=max_active)
        if x is not None:
            w[live] = np.clip(x, sub.lower, sub.upper)  # rounding only: x is feasible to 1e-12
            return w
    return None


def _starts(p: BoxQP, max_admm: int) -> Iterator[np.ndarray]:
    """Starting points for the active-set loop: the held book (a warm start), then ADMM iterates."""
    yield np.clip(p.before, p.lower, p.upper)
    yield from _admm(p, max_iter=max_admm)


def _admm(p: BoxQP, *, max_iter: int) -> Iterator[np.ndarray]:
    """Approximate minimizers by ADMM on w = z (z carries bounds and the turnover term).

    Yields the iterate whenever the active set it implies has held for 10 iterations.
    """
    n, k = p.loadings.shape
    c = np.sqrt(2.0 * p.gamma) * p.loadings
    rho = max(float((c**2).sum(axis=1).mean() + 2.0 * p.gamma * p.specific.mean()), 1e-12)
    delta = 2.0 * p.gamma * p.specific + rho
    if n <= k:  # (Δ + CCᵀ)⁻¹ directly
        dense = c @ c.T
        dense[np.diag_indices(n)] += delta
        full = np.linalg.solve(dense, np.eye(n))

        def inverse(x: np.ndarray) -> np.ndarray:
            return np.asarray(full @ x)

    else:  # Woodbury: (Δ + CCᵀ)⁻¹ = Δ⁻¹ − Δ⁻¹C (I + CᵀΔ⁻¹C)⁻¹ CᵀΔ⁻¹
        scaled = c / delta[:, None]
        g = np.linalg.solve(np.eye(k) + c.T @ scaled, scaled.T).T
        ct = np.ascontiguousarray(c.T)

        def inverse(x: np.ndarray) -> np.ndarray:
            y = x / delta
            return np.asarray(y - g @ (ct @ y))

    ones = inverse(np.ones(n))
    total = float(ones.sum())
    z = np.clip(p.before, p.lower, p.upper)
    u = np.zeros(n)
    threshold = p.tau / rho
    seen = _states(z, p)
    for it in range(max_iter):
        r = inverse(p.q + rho * (z - u))
        w = r - ((r.sum() - p.net) / total) * ones
        v = w + u - p.before
        z = np.clip(p.before + np.sign(v) * np.maximum(np.abs(v) - threshold, 0.0), p.lower, p.upper)
        u += w - z
        if it % 10 == 9:
            now = _states(z, p)
            if np.array_equal(now, seen):
                yield z
            seen = now
    yield z


def _states(z: np.ndarray, p: BoxQP) -> np.ndarray:
    """Where each weight sits: FREE, LOW, HIGH or KINK (at the held weight, between the bounds)."""
    near = 1e-7 * np.maximum(p.upper - p.lower, 1e-12)
    state = np.full(len(z), FREE)
    state[z <= p.lower + near] = LOW
    state[z >= p.upper - near] = HIGH
    if p.tau > 0:
        inside = (p.lower < p.before) & (p.before < p.upper)
        state[inside & (np.abs(z - p.before) <= near) & (state == FREE)] = KINK
    return state


def _active_set(p: BoxQP, z: np.ndarray, *, max_iter: int) -> np.ndarray | None:
    """Primal-dual active set from ``z``: solve on the free weights, fix what leaves its bounds, free what should move."""
    lo, hi, w0, tau = p.lower, p.upper, p.before, p.tau
    inside = (lo < w0) & (w0 < hi) if tau > 0 else np.zeros(len(z), dtype=bool)  # a kink between the bounds
    state = _states(z, p)
    side = _side(z, lo, hi, w0, tau)
    scale = 1.0 + float(np.abs(p.q).max()) + 2.0 * p.gamma * float(((p.loadings**2).sum(axis=1) + p.specific).max())
    eps = 1e-9 * scale
    for _ in range(max_iter):
        if not (state == FREE).any():  # nothing can absorb the budget: release weights toward it
            _release(p, state, side)
        w, nu = _solve_free(p, state, side)
        if w is None:
            return None
        free = state == FREE
        grow = free & (w > hi + 1e-12)
        shrink = free & (w < lo - 1e-12)
        cross = free & inside & (((side > 0) & (w < w0 - 1e-12)) | ((side < 0) & (w > w0 + 1e-12)))
        if grow.any() or shrink.any() or cross.any():
            state[grow], state[shrink], state[cross] = HIGH, LOW, KINK
            continue
        g = p.gradient(w) + nu
        up = np.where(lo >= w0, 1.0, -1.0) * tau  # turnover slope when a weight at its lower bound rises
        down = np.where(hi <= w0, 1.0, -1.0) * tau  # ... and when one at its upper bound falls
        leave_low = (state == LOW) & (g + up < -eps)
        leave_high = (state == HIGH) & (-g + down < -eps)
        rise = (state == KINK) & (g < -tau - eps)
        fall = (state == KINK) & (g > tau + eps)
        if not (leave_low.any() or leave_high.any() or rise.any() or fall.any()):
            free = state == FREE
            stationary = np.abs(g[free] + tau * side[free]).max(initial=0.0) <= eps
            return w if stationary else None  # an ill-conditioned solve does not pass
        state[leave_low | leave_high | rise | fall] = FREE
        side[leave_low] = np.where(lo >= w0, 1.0, -1.0)[leave_low] if tau > 0 else 0.0
        side[leave_high] = np.where(hi <= w0, -1.0, 1.0)[leave_high] if tau > 0 else 0.0
        side[rise], side[fall] = 1.0, -1.0
    return None


def _release(p: BoxQP, state: np.ndarray, side: np.ndarray, most: int = 50) -> None:
    """Free the held weights (at the kink), else the ``most`` bound weights whose gradient favours the budget.

    Nothing changes when the fixed weights already meet the budget.
    """
    at = np.where(state == LOW, p.lower, np.where(state == HIGH, p.upper, p.before))
    if abs(p.net - float(at.sum())) <= 1e-10:
        return
    up = p.net > float(at.sum())
    if (state == KINK).any():
        pick = np.flatnonzero(state == KINK)
    else:
        g = p.gradient(at)
        movable = np.flatnonzero(state == (LOW if up else HIGH))
        pick = movable[np.argsort(g[movable] if up else -g[movable])[:most]]
    state[pick] = FREE
    if p.tau > 0:  # the sign of w - w0 just past the starting point, moving toward the budget
        a, w0 = at[pick], p.before[pick]
        side[pick] = np.where(a >= w0, 1.0, -1.0) if up else np.where(a <= w0, -1.0, 1.0)


def _side(z: np.ndarray, lo: np.ndarray, hi: np.ndarray, w0: np.ndarray, tau: float) -> np.ndarray:
    """Sign of w − w₀ assumed for each free weight (0 without a turnover term)."""
    if tau <= 0:
        return np.zeros(len(z))
    side = np.where(z >= w0, 1.0, -1.0)
    side[w0 <= lo] = 1.0
    side[w0 >= hi] = -1.0
    return side


def _solve_free(p: BoxQP, state: np.ndarray, side: np.ndarray) -> tuple[np.ndarray | None, float]:
    """Weights with the fixed ones at their values and the free ones solving the KKT system, and the multiplier."""
    w = np.where(state == LOW, p.lower, np.where(state == HIGH, p.upper, p.before))
    free = np.flatnonzero(state == FREE)
    fixed = state != FREE
    rest = p.net - float(w[fixed].sum())
    if free.size == 0:
        return (w, 0.0) if abs(rest) < 1e-10 else (None, 0.0)
    two_g = 2.0 * p.gamma
    bf = p.loadings[free]
    exposure = p.loadings.T @ np.where(fixed, w, 0.0)  # no copy of the fixed rows
    rhs = p.q[free] - p.tau * side[free] - two_g * (bf @ exposure)
    q_ff = two_g * (bf @ bf.T)
    q_ff[np.diag_indices_from(q_ff)] += two_g * p.specific[free]
    try:
        both = np.linalg.solve(q_ff, np.column_stack([rhs, np.ones(free.size)]))
    except np.linalg.LinAlgError:
        return None, 0.0
    nu = (both[:, 0].sum() - rest) / both[:, 1].sum()
    w[free] = both[:, 0] - nu * both[:, 1]
    return w, float(nu)
