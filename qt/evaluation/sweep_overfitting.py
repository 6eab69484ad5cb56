"""Overfitting of a sweep: each run's deflated Sharpe ratio given the configurations tried, and the sweep's PBO.

Every finished run's daily returns come from its ``equity.parquet`` (lean sweep outputs keep
it). The runs are compared over the bars they all share, from the first bar at which every
one of them has traded (a long lookback starts later), so each Sharpe ratio, the trials'
variance and CSCV's blocks measure the same span. The statistics are those of
``qt.validation.overfitting`` (Sharpe ratios per bar, as the papers use them).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qt.errors import QtError
from qt.validation.overfitting import deflated_sharpes_of_columns, probability_of_overfitting

log = logging.getLogger("qt")
FILE = "overfitting.json"
PARTITIONS = 16  # S: CSCV's blocks (C(16, 8) = 12,870 splits)
ROBUST_DSR, LIKELY_LUCK_DSR = 0.95, 0.5
LOW_PBO, HIGH_PBO = 0.25, 0.5


@dataclass(frozen=True)
class SweepOverfitting:
    """Per run: Sharpe per bar and DSR; for the sweep: the trials, the span, SR0 and PBO (or why not)."""

    runs: tuple[str, ...]
    sharpe: dict[str, float]
    dsr: dict[str, float]
    n_trials: int
    n_bars: int
    start: str
    end: str
    trials_variance: float
    expected_max_sharpe: float
    pbo: float | None
    partitions: int
    pbo_note: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def verdict(self, best_run: str | None) -> str:
        """One short line: the best run's DSR, the sweep's PBO, and what they mean together."""
        dsr = self.dsr.get(best_run, float("nan")) if best_run is not None else float("nan")
        best = f"DSR {dsr:.2f} (best run {best_run}, {self.n_trials} configs)" if math.isfinite(dsr) else "DSR -"
        pbo = f"PBO {self.pbo:.2f}" if self.pbo is not None else "PBO -"
        return f"overfitting: {best}, {pbo} - {self.reading(dsr)[0]}"

    def reading(self, dsr: float) -> tuple[str, str]:
        """(verdict, what it means) from the best run's DSR and the PBO."""
        luck = math.isfinite(dsr) and dsr < LIKELY_LUCK_DSR
        skill = math.isfinite(dsr) and dsr >= ROBUST_DSR
        if self.pbo is not None and self.pbo >= HIGH_PBO and skill:
            return (
                "choice overfit",
                "the edge is unlikely to be luck, but the best configuration does no better than the others "
                "out of sample: the choice among them is not to be trusted",
            )
        if (self.pbo is not None and self.pbo >= HIGH_PBO) or luck:
            return "likely overfit", "the winner's edge is what picking the best of these configurations by luck gives"
        robust_pbo = self.pbo is None or self.pbo < LOW_PBO
        if math.isfinite(dsr) and dsr >= ROBUST_DSR and robust_pbo:
            return "holds up", "the winner's edge is unlikely to be selection luck"
        return "inconclusive", "part of the winner's edge may be selection luck"

    def as_dict(self, best_run: str | None = None) -> dict[str, Any]:
        """overfitting.json: inputs, per-run values, PBO and the verdict."""
        return {
            "n_trials": self.n_trials,
            "n_bars": self.n_bars,
            "span": [self.start, self.end],
            "trials_variance": self.trials_variance,
            "expected_max_sharpe": self.expected_max_sharpe,
            "runs": {r: {"sharpe_per_bar": self.sharpe[r], "deflated_sharpe": self.dsr[r]} for r in self.runs},
            "pbo": self.pbo,
            "pbo_partitions": self.partitions,
            "pbo_note": self.pbo_note,
            "pbo_detail": self.detail,
            "best_run": best_run,
            "verdict": self.verdict(best_run),
            "meaning": self.reading(self.dsr.get(best_run, float("nan")) if best_run else float("nan"))[1],
        }


def aligned_returns(run_dirs: dict[str, Path]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(runs, timestamps, returns [T x N]) over the bars all runs share, from the first bar every run has traded."""
    import pyarrow.parquet as pq

    stamps: dict[str, np.ndarray] = {}
    returns: dict[str, np.ndarray] = {}
    first_trade: list[np.datetime64] = []
    for name, run_dir in run_dirs.items():
        path = Path(run_dir) / "equity.parquet"
        if not path.is_file():
            continue
        table = pq.read_table(path, columns=["timestamp", "turnover", "return"])
        t = table.column("timestamp").to_numpy().astype("datetime64[us]")
        if not t.size:
            continue
        stamps[name], returns[name] = t, table.column("return").to_numpy().astype(float)
        traded = np.flatnonzero(np.nan_to_num(table.column("turnover").to_numpy().astype(float)) > 0)
        first_trade.append(t[traded[0]] if traded.size else t[0])
    runs = list(stamps)
    if not runs:
        return [], np.array([], dtype="datetime64[us]"), np.zeros((0, 0))
    common = stamps[runs[0]]
    if not all(np.array_equal(stamps[r], common) for r in runs[1:]):  # different data: the bars all runs have
        for r in runs[1:]:
            common = np.intersect1d(common, stamps[r])
    matrix = np.column_stack([returns[r][np.searchsorted(stamps[r], common)] for r in runs])
    keep = common >= max(first_trade)
    return runs, common[keep], matrix[keep]


def sweep_overfitting(
    run_dirs: dict[str, Path], *, partitions: int = PARTITIONS, n_trials: int | None = None
) -> SweepOverfitting | None:
    """DSR of every run (given all of them as the trials) and the sweep's PBO; None with fewer than 2 runs.

    ``n_trials``: configurations tried, when more than the runs here (an Optuna study shared by processes).
    """
    runs, stamps, returns = aligned_returns(run_dirs)
    if len(runs) < 2:
        return None
    if returns.shape[0] < 3:
        raise QtError(f"the {len(runs)} runs share {returns.shape[0]} traded bars: too few to compare them")
    returns = np.nan_to_num(returns, nan=0.0)
    dsr = dict(zip(runs, deflated_sharpes_of_columns(returns, n_trials=n_trials), strict=True))
    first = dsr[runs[0]]
    pbo, note, detail = None, None, {}
    try:
        result = probability_of_overfitting(returns, partitions=partitions)
        pbo, detail = result.pbo, result.as_dict()
    except QtError as exc:  # fewer than 2 x S shared bars
        note = str(exc)
    return SweepOverfitting(
        runs=tuple(runs),
        sharpe={r: d.sharpe for r, d in dsr.items()},
        dsr={r: d.dsr for r, d in dsr.items()},
        n_trials=first.n_trials,
        n_bars=int(returns.shape[0]),
        start=_day(stamps[0]),
        end=_day(stamps[-1]),
        trials_variance=first.trials_variance,
        expected_max_sharpe=first.expected_max_sharpe,
        pbo=pbo,
        partitions=partitions,
        pbo_note=note,
        detail=detail,
    )


def _day(stamp: Any) -> str:
    import pandas as pd

    return str(pd.Timestamp(stamp).date())


def study_trials(sweep_dir: Path) -> int | None:
    """Completed trials of the Optuna study behind ``sweep_dir`` (its optuna.json), None for other sweeps."""
    import json

    path = Path(sweep_dir) / "optuna.json"
    try:
        trials = json.loads(path.read_text()).get("trials") or []
    except (OSError, ValueError, AttributeError):
        return None
    return sum(1 for t in trials if isinstance(t, dict) and t.get("state") == "COMPLETE") or None
