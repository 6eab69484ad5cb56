"""One backtest from a composed config: validate, build, load, simulate, write.

Everything that can be checked without data (keys, types, ranges, targets) is
checked before the data loads; results appear in the run directory only when complete.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from qt.backtest.engine import BacktestEngine
from qt.data.panel import BarPanel
from qt.engine.components import build_components
from qt.evaluation.headline import headline
from qt.results.result import RunResult
from qt.results.writer import LEAN_FILES, write_atomically, write_json, write_run

log = logging.getLogger("qt")


@dataclass(frozen=True)
class RunSummary:
    """What a finished run reports: its directory, headline metrics and timings."""

    run_dir: Path
    metrics: dict[str, Any]
    timings: dict[str, float]
    result: RunResult
    files: dict[str, Any] = field(default_factory=dict)  # extra JSON result files (stress.json, ...)


def run_backtest(
    cfg: DictConfig,
    run_dir: Path,
    *,
    check_panel: Callable[[BarPanel], object] | None = None,
    progress: Callable[[int, int], None] | None = None,
    lean: bool = False,
) -> RunSummary:
    """Run the backtest ``cfg`` describes and write its results into ``run_dir``.

    ``check_panel`` sees the loaded data before any signal is computed, so a setting that
    depends on the data (a benchmark symbol) fails before the run instead of after it.
    ``lean`` writes only equity, metrics and manifest (a sweep's run); :func:`complete`
    or ``qt rerun RUN --full`` adds the rest, byte for byte what a full run writes.
    """
    sim = _simulate(cfg, check_panel, progress)
    clock = sim.clock
    manifest = _manifest(cfg, sim.result.panel.fingerprint(), sim.seed, clock.timings)
    manifest["outputs"] = "lean" if lean else "full"
    write_run(run_dir, sim.result, sim.metrics, manifest, sim.files, only=frozenset(LEAN_FILES) if lean else None)
    clock.lap("outputs_s")
    clock.timings["total_s"] = round(sum(clock.timings.values()), 6)
    manifest["timings"] = clock.timings
    write_atomically(run_dir, {"manifest.json": lambda path: write_json(manifest, path)})
    return RunSummary(run_dir, sim.metrics, clock.timings, sim.result, sim.files)


def complete(summary: RunSummary) -> list[str]:
    """Write the result files a lean run left out (from the run still in memory); their names."""
    have = {p.name for p in summary.run_dir.iterdir()}
    writers = _full_writers(summary.result, summary.metrics, summary.files)
    missing = {name: w for name, w in writers.items() if name not in have}
    write_atomically(summary.run_dir, missing)
    return sorted(missing)


def materialize(cfg: DictConfig, run_dir: Path) -> RunSummary:
    """Run a lean run's config again and add its full result files to ``run_dir``.

    The files the run recorded (equity, metrics) must come out byte-identical (same config
    + same data = same bytes); otherwise nothing is written and a :class:`QtError` names
    the files that differ. The manifest, config and log of the run are left as they were.
    """
    from qt.errors import QtError

    sim = _simulate(cfg, None, None)
    writers = _full_writers(sim.result, sim.metrics, sim.files)
    check = run_dir / ".rerun"
    shutil.rmtree(check, ignore_errors=True)
    try:
        recorded = [name for name in writers if (run_dir / name).is_file()]
        write_atomically(check, {name: writers[name] for name in recorded})
        differs = [name for name in recorded if (check / name).read_bytes() != (run_dir / name).read_bytes()]
    finally:
        shutil.rmtree(check, ignore_errors=True)
    if differs:
        raise QtError(
            f"{run_dir}: the rerun differs from the recorded run in {', '.join(differs)}; nothing was added "
            f"(`qt rerun {run_dir}` says which input changed)"
        )
    write_atomically(run_dir, {name: w for name, w in writers.items() if name not in recorded})
    return RunSummary(run_dir, sim.metrics, sim.clock.timings, sim.result, sim.files)


@dataclass(frozen=True)
class _Simulation:
    result: RunResult
    metrics: dict[str, Any]
    files: dict[str, Any]
    seed: int
    clock: _Clock


def _simulate(
    cfg: DictConfig,
    check_panel: Callable[[BarPanel], object] | None,
    progress: Callable[[int, int], None] | None,
) -> _Simulation:
    """Build, load, compute signals, run the engine, compute the metrics; the clock holds each step's time."""
    clock = _Clock()
    parts = build_components(cfg)
    panel = parts.load_panel(check_panel)
    clock.lap("load_s")
    log.info(
        "data %s: %d bars x %d assets, %s to %s",
        panel.name,
        panel.n_bars,
        panel.n_assets,
        panel.timestamps[0],
        panel.timestamps[-1],
    )
    from qt.features.cache import cache_from_config, using_cache

    with using_cache(cache_from_config(cfg)):  # on-disk signal cache; cache=off disables it
        scores = parts.strategy.scores(panel)
    clock.lap("signals_s")
    engine = BacktestEngine.from_components(parts)
    result = engine.run(panel, scores, progress=progress)
    clock.lap("engine_s")
    metrics = headline(
        nav=result.nav,
        capital=result.capital,
        timestamps=panel.timestamps,
        turnover=result.turnover,
        n_decisions=len(result.decisions),
        n_trades=result.n_trades,
    )
    from qt.evaluation.risk_report import risk_metrics

    extra = risk_metrics(result, parts.optional.get("risk.stress"))
    metrics.update(extra.metrics)
    return _Simulation(result, metrics, dict(extra.files), parts.settings.seed, clock)


def _full_writers(
    result: RunResult, metrics: dict[str, Any], files: dict[str, Any]
) -> dict[str, Callable[[Path], None]]:
    """Writers of every result file but the manifest (as ``write_run`` writes them)."""
    from qt.results import writer

    out: dict[str, Callable[[Path], None]] = {}
    tables = {
        "equity.parquet": writer.equity_table,
        "weights.parquet": writer.weights_table,
        "orders.parquet": writer.orders_table,
        "fills.parquet": writer.fills_table,
        "decisions.parquet": writer.decisions_table,
        "events.parquet": writer.events_table,
    }
    for name, table in tables.items():
        out[name] = functools.partial(_parquet, table, result)
    out["metrics.json"] = functools.partial(write_json, metrics)
    for name, data in files.items():
        out[name] = functools.partial(write_json, data)
    return out


def _parquet(table: Callable[[RunResult], Any], result: RunResult, path: Path) -> None:
    from qt.results.writer import write_parquet

    write_parquet(table(result), path)


class _Clock:
    """Named laps of wall time, in seconds."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._last, 6)
        self._last = now


def _manifest(cfg: DictConfig, fingerprint: str, seed: int, timings: dict[str, float]) -> dict[str, Any]:
    """Config hash, data fingerprint, versions, git commit, seed, timings, and what ``qt rerun`` needs."""
    from qt.config.secrets import dump_yaml
    from qt.config.secrets import resolved as resolved_config
    from qt.runs.manifest import reproducibility

    # OmegaConf.to_yaml(cfg, resolve=True, sort_keys=True)'s text, the parts a sweep's runs share emitted once
    resolved = dump_yaml(resolved_config(cfg), sort_keys=True)
    return {
        "config_hash": hashlib.sha256(resolved.encode()).hexdigest(),
        "data_fingerprint": fingerprint,
        "seed": seed,
        "git_commit": _git_commit(),
        "timings": dict(timings),
        **reproducibility(cfg),  # config, overrides, data files, versions (a superset), git_dirty, seeds
    }


_COMMIT: list[str | None] = []  # HEAD, read once per process (the code this process runs cannot change)


def _git_commit() -> str | None:
    """HEAD of the checkout qt runs from, or None outside a git checkout."""
    if not _COMMIT:
        _COMMIT.append(_read_git_commit())
    return _COMMIT[0]


def _read_git_commit() -> str | None:
    import subprocess

    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None
