"""``hydra/sweeper=grid`` (qt's default): Hydra's basic grid sweeper at engine speed, and stoppable.

- **Compose once**: every launcher composes a job through ``qt.sweeps.compose.ComposeOnceLoader``,
  once per choice of config groups (Hydra's basic sweeper also composed every job twice,
  once to validate; this sweeper skips that pass: an override that cannot compose fails
  in the launcher, with Hydra's same message).
- **Lean runs**: after the runs, the best ``report.top_n`` lean runs get their full files
  (qt.sweeps.materialize), so their tearsheets can be drawn.
- **Throughput**: one console line with the workers and why, one with runs per minute and
  where a run's time went (``throughput.json``).
- **Ctrl-C**: stops launching; the running run is abandoned (left incomplete), the
  leaderboard of the finished runs is written, and ``qt`` exits 130 with one line.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

from qt.errors import interrupted_inside

log = logging.getLogger("qt")


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep, after the leaderboard of its finished runs was written; ``str()`` is the one line."""


class GridSweeper(BasicSweeper):
    """Every combination of the sweep overrides, launched in batches of ``max_batch_size`` (null: all)."""

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Hydra's set-up, with the compose-once config loader in the context every launcher receives."""
        from qt.errors import ConfigError
        from qt.sweeps.compose import ComposeOnceLoader

        size = self.max_batch_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ConfigError(
                "hydra.sweeper.max_batch_size", f"write a whole number of runs >= 1, or null (all), got {size!r}"
            )
        loader = ComposeOnceLoader(hydra_context.config_loader, secrets.token_hex(8))  # type: ignore[arg-type]
        context = HydraContext(config_loader=loader, callbacks=hydra_context.callbacks)
        super().setup(hydra_context=context, task_function=task_function, config=config)

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """No second compose: the launcher composes each job (and reports an override that cannot)."""

    def sweep(self, arguments: list[str]) -> Any:
        """Launch every batch; then complete the top lean runs and say the sweep's throughput."""
        from qt.sweeps.workers import workers

        assert self.config is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        n_runs = _count(self.params, arguments, self.max_batch_size)
        crew = workers(self.config, n_runs)
        print(crew.line(n_runs), flush=True)
        start = time.perf_counter()
        try:
            returns = super().sweep(arguments)
        except KeyboardInterrupt:
            raise self._interrupted(sweep_dir) from None
        except Exception as exc:
            if interrupted_inside(exc):  # Ctrl-C landed inside OmegaConf/Hydra, which wrapped it as a config error
                raise self._interrupted(sweep_dir) from None
            raise
        _measure_throughput(sweep_dir, time.perf_counter() - start, crew.count)  # said after the leaderboard
        self._complete_top(sweep_dir)
        return returns

    def _interrupted(self, sweep_dir: Path) -> SweepInterrupted:
        """After Ctrl-C: clean staging folders, write the finished runs' leaderboard, word the one line."""
        assert self.config is not None and self.hydra_context is not None
        started = [d for d in sweep_dir.iterdir() if d.is_dir() and d.name.isdigit()] if sweep_dir.is_dir() else []
        dirs = sorted(started, key=lambda d: int(d.name))
        for run_dir in dirs:
            for staging in (".partial", ".rerun"):
                shutil.rmtree(run_dir / staging, ignore_errors=True)
        finished = [d for d in dirs if (d / "metrics.json").is_file() or (d / "error.json").is_file()]
        abandoned = [d.name for d in dirs if d not in finished]
        rank_finished_runs(self.config, self.hydra_context)
        left = (
            f"run{'s' if len(abandoned) > 1 else ''} {', '.join(abandoned)} abandoned (left incomplete)"
            if abandoned
            else "no run was running"
        )
        board = sweep_dir / "leaderboard.html"
        runs = f"{len(finished)} finished run{'' if len(finished) == 1 else 's'}"
        where = f"the leaderboard of the {runs}: {board}" if board.is_file() else f"no leaderboard ({runs})"
        return SweepInterrupted(f"interrupted: the sweep stopped launching; {left}; {where}")

    def _complete_top(self, sweep_dir: Path) -> None:
        """Full files for the best ``report.top_n`` runs that were written lean (composed again, run again)."""
        from qt.evaluation.leaderboard import collect
        from qt.reporting.settings import ReportSettings
        from qt.sweeps.materialize import complete_run, is_lean

        assert self.config is not None and self.hydra_context is not None
        try:
            settings = ReportSettings.from_config(self.config)
            if settings.top_n == 0 or not sweep_dir.is_dir():
                return
            top = collect(sweep_dir, sort_by=settings.sort_by, ascending=settings.ascending).top(settings.top_n)
        except Exception as exc:  # the leaderboard callback reports a bad ranking key itself
            log.debug("no top runs to complete: %s", exc)
            return
        jobs = {str(i): job for i, job in enumerate(job for batch in self.overrides or [] for job in batch)}
        for run_dir in top:
            if run_dir.name not in jobs or not is_lean(run_dir):
                continue
            try:
                config = self.hydra_context.config_loader.load_sweep_config(self.config, list(jobs[run_dir.name]))
                with open_dict(config):
                    config.hydra.job.num = int(run_dir.name)
                    config.hydra.runtime.output_dir = str(run_dir)
                complete_run(config, run_dir)
            except Exception as exc:
                log.error("full files of %s: %s: %s", run_dir, type(exc).__name__, exc)


def _count(params: Any, arguments: list[str], max_batch_size: int | None) -> int | None:
    """Runs of the sweep (every combination), None when it cannot be told."""
    try:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        given = [f"{k}={v}" for k, v in (params or {}).items()] + list(arguments)
        overrides = OverridesParser.create().parse_overrides(given)
        return sum(len(b) for b in BasicSweeper.split_arguments(overrides, max_batch_size))
    except Exception:
        return None


def _measure_throughput(sweep_dir: Path, wall_s: float, workers: int) -> None:
    """Save the sweep's runs per minute and where a run's time went (``qt.app`` prints it after the leaderboard)."""
    from qt.evaluation.leaderboard import run_dirs
    from qt.sweeps.throughput import measure, write

    if not sweep_dir.is_dir():
        return
    found = measure(run_dirs(sweep_dir), wall_s, workers)
    if found is not None:
        write(found, sweep_dir)


def rank_finished_runs(config: DictConfig, hydra_context: Any) -> None:
    """After Ctrl-C: the leaderboard of the finished runs, without tearsheets (`qt rerun RUN --full` draws any later)."""
    with open_dict(config):
        OmegaConf.update(config, "report.top_n", 0, force_add=True)
    try:
        hydra_context.callbacks.on_multirun_end(config=config)
    except KeyboardInterrupt:
        pass  # a second Ctrl-C: stop writing the leaderboard too
