"""A sweep's research throughput: runs per minute and where a run's time went.

Each run's manifest records its own steps (load, signals, engine, outputs); the sweep
knows its wall time and its workers. What a worker spent beyond those steps is the
sweep's overhead per run (composing the config, logging set-up, analytics, shipping
jobs to workers). Written to ``throughput.json`` in the sweep folder and said in one line,
so the cost of a sweep is known before it is scaled out.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

FILE = "throughput.json"
STEPS = ("load_s", "signals_s", "engine_s", "outputs_s")


@dataclass(frozen=True)
class Throughput:
    """Finished runs, wall time, workers, and the mean seconds per run of each step and of the overhead."""

    runs: int
    wall_s: float
    workers: int
    load_s: float
    signals_s: float
    engine_s: float
    outputs_s: float
    overhead_s: float

    @property
    def runs_per_minute(self) -> float:
        """Finished runs per minute of wall time."""
        return 60.0 * self.runs / self.wall_s if self.wall_s > 0 else math.nan

    @property
    def cost_ratio(self) -> float:
        """A run's whole cost (a worker's time per run) over its engine + signals time."""
        core = self.engine_s + self.signals_s
        total = self.load_s + self.signals_s + self.engine_s + self.outputs_s + self.overhead_s
        return total / core if core > 0 else math.nan

    def line(self) -> str:
        """``throughput: 64 runs in 40.2 s, 95.5 runs/min on 2 workers; a run 0.83 s: load 0.01, ...``."""
        per_run = self.load_s + self.signals_s + self.engine_s + self.outputs_s + self.overhead_s
        return (
            f"throughput: {self.runs} runs in {self.wall_s:.1f} s, {self.runs_per_minute:.1f} runs/min on "
            f"{self.workers} worker{'s' if self.workers != 1 else ''}; a run {per_run:.2f} s of a worker: "
            f"load {self.load_s:.2f}, signals {self.signals_s:.2f}, engine {self.engine_s:.2f}, "
            f"outputs {self.outputs_s:.2f}, overhead {self.overhead_s:.2f} "
            f"({self.cost_ratio:.1f}x engine + signals)"
        )

    def as_dict(self) -> dict[str, float]:
        """The fields and the derived figures, for throughput.json."""
        return {**asdict(self), "runs_per_minute": self.runs_per_minute, "cost_ratio": self.cost_ratio}


def measure(run_dirs: list[Path], wall_s: float, workers: int) -> Throughput | None:
    """From the manifests of the finished runs of ``run_dirs``; None when no run finished."""
    timings = []
    for run_dir in run_dirs:
        try:
            timings.append(json.loads((run_dir / "manifest.json").read_text())["timings"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    if not timings:
        return None
    n = len(timings)
    mean = {step: sum(float(t.get(step, 0.0)) for t in timings) / n for step in STEPS}
    busy = max(workers, 1) * wall_s / n  # a worker's time per run
    overhead = max(0.0, busy - sum(mean.values()))
    return Throughput(n, wall_s, max(workers, 1), **mean, overhead_s=overhead)


def write(throughput: Throughput, sweep_dir: Path) -> Path:
    """``throughput.json`` in ``sweep_dir``."""
    from qt.config.jsonsafe import write_json
    from qt.results.writer import write_atomically

    write_atomically(sweep_dir, {FILE: lambda p: write_json(throughput.as_dict(), p)})
    return sweep_dir / FILE
