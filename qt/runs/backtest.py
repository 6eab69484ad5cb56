"""One backtest from a composed config: validate, build, load, simulate, write.

Everything that can be checked without data (keys, types, ranges, targets) is
checked before the data loads; results appear in the run directory only when complete.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from qt.backtest.engine import BacktestEngine
from qt.data.panel import BarPanel
from qt.engine.components import build_components
from qt.evaluation.headline import headline
from qt.results.result import RunResult
from qt.results.writer import write_atomically, write_json, write_run

log = logging.getLogger("qt")


@dataclass(frozen=True)
class RunSummary:
    """What a finished run reports: its directory, headline metrics and timings."""

    run_dir: Path
    metrics: dict[str, Any]
    timings: dict[str, float]
    result: RunResult


def run_backtest(
    cfg: DictConfig,
    run_dir: Path,
    *,
    check_panel: Callable[[BarPanel], object] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Run the backtest ``cfg`` describes and write its results into ``run_dir``.

    ``check_panel`` sees the loaded data before any signal is computed, so a setting that
    depends on the data (a benchmark symbol) fails before the run instead of after it.
    """
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
    manifest = _manifest(cfg, panel.fingerprint(), parts.settings.seed, clock.timings)
    write_run(run_dir, result, metrics, manifest, extra.files)
    clock.lap("outputs_s")
    clock.timings["total_s"] = round(sum(clock.timings.values()), 6)
    manifest["timings"] = clock.timings
    write_atomically(run_dir, {"manifest.json": lambda path: write_json(manifest, path)})
    return RunSummary(run_dir, metrics, clock.timings, result)


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
    from importlib.metadata import PackageNotFoundError, version

    from qt.runs.manifest import reproducibility

    resolved = OmegaConf.to_yaml(cfg, resolve=True, sort_keys=True)
    versions: dict[str, str | None] = {}
    for pkg in ("qt", "numpy", "pandas", "pyarrow", "pydantic", "hydra-core", "omegaconf"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    return {
        "config_hash": hashlib.sha256(resolved.encode()).hexdigest(),
        "data_fingerprint": fingerprint,
        "seed": seed,
        "versions": versions,
        "git_commit": _git_commit(),
        "timings": dict(timings),
        **reproducibility(cfg),  # config, overrides, data files, versions (a superset), git_dirty, seeds
    }


def _git_commit() -> str | None:
    """HEAD of the checkout qt runs from, or None outside a git checkout."""
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
