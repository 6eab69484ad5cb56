"""Statistics of selection bias: the deflated Sharpe ratio and the probability of backtest overfitting.

Sharpe ratios here are per bar (mean / std with ddof=1, not annualized), as the papers use them.

- Deflated Sharpe ratio (Bailey & López de Prado, 2014): the probability that the
  selected strategy's true Sharpe ratio exceeds the best Sharpe ratio expected from
  ``n_trials`` skill-less configurations whose Sharpe ratios vary with ``trials_variance``.
- Probability of backtest overfitting (Bailey, Borwein, López de Prado & Zhu, 2015) by
  combinatorially symmetric cross-validation (CSCV): the share of the C(S, S/2) splits of
  S even blocks of bars in which the configuration best in-sample ranks at or below the
  median out-of-sample.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np

from qt.errors import QtError

EULER_GAMMA = 0.5772156649015329
CHUNK = 1024  # CSCV splits evaluated at once (bounds memory with many configurations)


def sharpe_per_bar(r: np.ndarray) -> float:
    """Mean / std (ddof=1) of returns per bar; NaN when undefined."""
    r = np.asarray(r, dtype=float)
    if r.size < 2:
        return float("nan")
    sd = float(np.std(r, ddof=1))
    return float(np.mean(r)) / sd if sd > 0 else float("nan")


@dataclass(frozen=True)
class DeflatedSharpe:
    """The deflated Sharpe ratio with every input it was computed from (Sharpe ratios per bar)."""

    dsr: float
    sharpe: float
    expected_max_sharpe: float
    n_trials: int
    trials_variance: float
    n_bars: int
    skew: float
    kurtosis: float

    def as_dict(self) -> dict[str, Any]:
        """Plain floats and ints, for JSON."""
        return asdict(self)


def expected_max_sharpe(n_trials: int, trials_variance: float) -> float:
    """SR0 = sqrt(V) x ((1 - g) Phi^-1(1 - 1/N) + g Phi^-1(1 - 1/(N e))), g the Euler-Mascheroni constant."""
    from scipy.stats import norm

    if n_trials < 1:
        raise QtError(f"the deflated Sharpe ratio needs at least one trial, got n_trials={n_trials}")
    if n_trials == 1:
        return 0.0
    z1 = float(norm.ppf(1.0 - 1.0 / n_trials))
    z2 = float(norm.ppf(1.0 - 1.0 / (n_trials * math.e)))
    return math.sqrt(max(trials_variance, 0.0)) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


def deflated_sharpe(
    sharpe: float, *, n_trials: int, trials_variance: float, n_bars: int, skew: float, kurtosis: float
) -> DeflatedSharpe:
    """DSR = Phi((SR - SR0) sqrt(T - 1) / sqrt(1 - skew SR + (kurtosis - 1) / 4 SR^2)).

    ``kurtosis`` is the raw (non-excess) kurtosis: 3 for normal returns.

    Examples
    --------
    One trial (SR0 = 0), SR 0.1 over 101 normal bars: Phi(0.1 x 10 / sqrt(1 + 0.5 x 0.01)) = Phi(0.99751)

    >>> round(deflated_sharpe(0.1, n_trials=1, trials_variance=0.0, n_bars=101,
    ...                       skew=0.0, kurtosis=3.0).dsr, 4)
    0.8407
    """
    from scipy.stats import norm

    sr0 = expected_max_sharpe(n_trials, trials_variance)
    denominator = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if n_bars < 2 or not math.isfinite(sharpe) or denominator <= 0:
        dsr = float("nan")
    else:
        dsr = float(norm.cdf((sharpe - sr0) * math.sqrt(n_bars - 1) / math.sqrt(denominator)))
    return DeflatedSharpe(dsr, sharpe, sr0, n_trials, trials_variance, n_bars, skew, kurtosis)


def deflated_sharpe_of(selected: np.ndarray, trial_sharpes: np.ndarray) -> DeflatedSharpe:
    """DSR of the ``selected`` returns per bar, given the per-bar Sharpe ratios of every trial tried."""
    from scipy.stats import kurtosis, skew

    r = np.asarray(selected, dtype=float)
    trials = np.asarray(trial_sharpes, dtype=float)
    trials = trials[np.isfinite(trials)]
    variance = float(np.var(trials, ddof=1)) if trials.size > 1 else 0.0
    return deflated_sharpe(
        sharpe_per_bar(r),
        n_trials=max(int(np.asarray(trial_sharpes).size), 1),
        trials_variance=variance,
        n_bars=int(r.size),
        skew=float(skew(r)) if r.size > 2 else 0.0,
        kurtosis=float(kurtosis(r, fisher=False)) if r.size > 3 else 3.0,
    )


def deflated_sharpes_of_columns(returns: np.ndarray, *, n_trials: int | None = None) -> list[DeflatedSharpe]:
    """DSR of every column of ``returns`` [T x N], the N columns being the trials (one pass for many columns).

    ``n_trials``: the number of configurations tried when it is more than the columns at hand (an Optuna
    study shared by several processes); the trials' variance still comes from the columns.
    """
    from scipy.stats import kurtosis, skew

    m = np.asarray(returns, dtype=float)
    n_bars, n = m.shape
    sharpes = np.array([sharpe_per_bar(m[:, j]) for j in range(n)])
    finite = sharpes[np.isfinite(sharpes)]
    variance = float(np.var(finite, ddof=1)) if finite.size > 1 else 0.0
    skews = skew(m, axis=0) if n_bars > 2 else np.zeros(n)
    kurts = kurtosis(m, axis=0, fisher=False) if n_bars > 3 else np.full(n, 3.0)
    return [
        deflated_sharpe(
            float(sharpes[j]),
            n_trials=max(n, n_trials or 0, 1),
            trials_variance=variance,
            n_bars=n_bars,
            skew=float(skews[j]),
            kurtosis=float(kurts[j]),
        )
        for j in range(n)
    ]


@dataclass(frozen=True)
class Overfitting:
    """CSCV's result: PBO, the logit of each split, and the inputs' shape."""

    pbo: float
    logits: tuple[float, ...]
    n_partitions: int
    n_configs: int
    n_bars_used: int

    def as_dict(self) -> dict[str, Any]:
        """Plain floats and ints, for JSON."""
        return {
            "pbo": self.pbo,
            "n_splits": len(self.logits),
            "n_partitions": self.n_partitions,
            "n_configs": self.n_configs,
            "n_bars_used": self.n_bars_used,
            "logit_median": float(np.median(self.logits)),
        }


def probability_of_overfitting(returns: np.ndarray, *, partitions: int = 16) -> Overfitting:
    """PBO of choosing the best of the columns of ``returns`` [T x N] by their Sharpe ratio.

    The T rows are cut into ``partitions`` (S, even) contiguous blocks of T // S rows (the
    earliest T mod S rows are dropped). For every choice of S/2 blocks as the in-sample
    set, the column with the best in-sample Sharpe ratio gets its out-of-sample rank
    r in 1..N (1 = worst), w = r / (N + 1) and logit = ln(w / (1 - w)); PBO is the share of
    splits with logit <= 0. An undefined Sharpe ratio (no variance) ranks lowest.
    """
    m = np.asarray(returns, dtype=float)
    if m.ndim != 2 or m.shape[1] < 2:
        raise QtError(f"PBO needs a [bars x configurations] matrix with at least 2 configurations, got {m.shape}")
    if partitions < 2 or partitions % 2:
        raise QtError(f"validation.pbo_partitions: must be an even number >= 2, got {partitions}")
    size = m.shape[0] // partitions
    if size < 2:
        raise QtError(f"PBO with {partitions} partitions needs at least {2 * partitions} bars, got {m.shape[0]}")
    m = m[m.shape[0] - size * partitions :]
    n = m.shape[1]
    blocks = m.reshape(partitions, size, n)
    sums, squares = blocks.sum(axis=1), (blocks**2).sum(axis=1)  # [S x N] per block, so each split is a sum
    chosen = np.array(list(combinations(range(partitions), partitions // 2)))
    in_mask = np.zeros((len(chosen), partitions))
    np.put_along_axis(in_mask, chosen, 1.0, axis=1)
    # every half of the blocks is some split's in-sample set and its complement's out-of-sample set:
    # the Sharpe ratios of each half are computed once (in chunks of splits, to bound memory)
    bits = in_mask @ (1 << np.arange(partitions))
    position = {int(b): i for i, b in enumerate(bits)}
    complement = np.array([position[int(b) ^ ((1 << partitions) - 1)] for b in bits])
    half = size * partitions // 2
    halves = np.empty((len(chosen), n))
    for lo in range(0, len(chosen), CHUNK):
        rows = in_mask[lo : lo + CHUNK]
        halves[lo : lo + CHUNK] = _sharpes(rows @ sums, rows @ squares, half)
    best = np.argmax(halves, axis=1)
    best_oos = halves[complement, best]
    rank = np.empty(len(chosen), dtype=np.int64)
    for lo in range(0, len(chosen), CHUNK):
        out_sample = halves[complement[lo : lo + CHUNK]]
        rank[lo : lo + CHUNK] = 1 + (out_sample < best_oos[lo : lo + CHUNK, None]).sum(axis=1)  # 1 = worst
    w = rank / (n + 1)
    logits = np.log(w / (1.0 - w))
    pbo = float(np.mean(logits <= 0.0))
    return Overfitting(pbo, tuple(float(x) for x in logits), partitions, n, int(m.shape[0]))


def _sharpes(total: np.ndarray, squares: np.ndarray, count: int) -> np.ndarray:
    """Sharpe ratio (ddof=1) from sums and sums of squares over ``count`` bars; undefined ones become -inf."""
    mean = total / count
    var = np.maximum(squares - count * mean**2, 0.0) / (count - 1)
    sd = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(sd > 1e-12 * np.maximum(np.abs(mean), 1e-300), mean / sd, np.nan)
    return np.where(np.isfinite(out), out, -np.inf)
