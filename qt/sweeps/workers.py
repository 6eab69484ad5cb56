"""How many workers a sweep runs on, why, and one BLAS thread per worker when there are several.

A sweep's parallelism is across runs: with two workers on two cores, a BLAS library that
also starts a thread per core oversubscribes the machine and both runs slow down. So
when more than one worker runs, each gets one BLAS/OpenMP thread (set in the environment
before the workers start, as numpy reads it at import).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


@dataclass(frozen=True)
class Workers:
    """Worker processes of a sweep and the reason for that number (shown on the console)."""

    count: int
    reason: str

    def line(self, n_runs: int | None) -> str:
        """``sweep: 64 runs on 2 workers (joblib n_jobs=2, 2 cores); one BLAS thread each``."""
        runs = f"{n_runs} runs" if n_runs is not None else "runs"
        plural = "s" if self.count != 1 else ""
        blas = "; one BLAS thread each" if self.count > 1 else ""
        return f"sweep: {runs} on {self.count} worker{plural} ({self.reason}){blas}"


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def workers(config: DictConfig, n_runs: int | None = None) -> Workers:
    """The workers the configured launcher will use for ``n_runs`` runs (None: unknown)."""
    target = str(OmegaConf.select(config, "hydra.launcher._target_", default="") or "")
    n_cores = cores()
    if "joblib" in target.lower():
        return joblib_workers(OmegaConf.select(config, "hydra.launcher.n_jobs", default=-1), n_runs)
    if "ray" in target.lower():
        address = OmegaConf.select(config, "hydra.launcher.address", default=None)
        if address:
            return Workers(0, f"Ray cluster at {address}: as many as its CPUs allow")
        cpus = OmegaConf.select(config, "hydra.launcher.num_cpus", default=None) or n_cores
        per = OmegaConf.select(config, "hydra.launcher.task.num_cpus", default=1) or 1
        return Workers(max(1, int(cpus // per)), f"local Ray, {cpus} CPUs, {per} per run")
    if "submitit" in target.lower():
        return Workers(0, "submitit: one job per run, as the scheduler places them")
    return Workers(1, "the basic launcher runs them one after another; hydra/launcher=joblib runs them in parallel")


def joblib_workers(n_jobs: object, n_runs: int | None) -> Workers:
    """Joblib's worker count for ``n_jobs`` (``-1``: every core; ``-2``: all but one), capped by the runs."""
    n_cores = cores()
    try:
        n = int(n_jobs)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        n = -1
    count = n if n > 0 else max(1, n_cores + 1 + n)
    why = f"joblib n_jobs={n}, {n_cores} core{'s' if n_cores != 1 else ''}"
    if n_runs is not None and 0 < n_runs < count:
        count, why = n_runs, f"{why}, only {n_runs} runs"
    return Workers(count, why)


def pin_blas_threads(count: int) -> None:
    """With more than one worker, one BLAS/OpenMP thread each (unless the user set the variable)."""
    if count > 1:
        for name in BLAS_THREADS:
            os.environ.setdefault(name, "1")
