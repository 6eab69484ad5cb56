"""The Hydra callback that closes every sweep: the leaderboard, the top runs' tearsheets, the sweep report.

Configured in ``conf/config.yaml`` under ``hydra.callbacks``. It never fails the sweep:
a problem building the leaderboard is logged.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("qt")


class LeaderboardCallback(Callback):
    """``on_multirun_end``: rank every run of the sweep, write leaderboard.*, tearsheets of the top ``report.top_n``."""

    def __init__(self) -> None:
        self._sweep_dir: Path | None = None
        self._progress: Any = None

    def __getstate__(self) -> dict[str, Any]:
        """Launchers pickle the callbacks to their workers: the driver's progress bar stays behind."""
        return {**self.__dict__, "_progress": None}

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Remember the sweep directory; start the sweep's progress bar (terminal only)."""
        from qt.reporting.progress import SweepProgress

        self._sweep_dir = Path(str(config.hydra.sweep.dir))
        if OmegaConf.select(config, "report.progress", default=True):
            self._progress = SweepProgress()
            self._progress.start(_count_jobs(config), "sweep")

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        """Advance the progress bar."""
        if self._progress is not None:
            self._progress.advance()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Build and save the leaderboard, print it, and send it to the configured network reporters."""
        if self._progress is not None:
            self._progress.stop()
        # the config's folder first: a sweeper may choose it after on_multirun_start (Optuna: outputs/optuna/STUDY)
        sweep_dir = Path(str(config.hydra.sweep.dir or self._sweep_dir))
        try:
            _finish(config, sweep_dir)
        except Exception as exc:
            log.error("leaderboard of %s failed: %s: %s", sweep_dir, type(exc).__name__, exc)


def _finish(config: DictConfig, sweep_dir: Path) -> None:
    from qt.evaluation.leaderboard import build, formatted_rows, print_table
    from qt.reporting.reporters import dispatch
    from qt.reporting.settings import ReportSettings, build_reporters
    from qt.reporting.summaries import sweep_report

    settings = ReportSettings.from_config(config)
    sort_by, ascending = settings.sort_by, settings.ascending
    if "optuna" in str(OmegaConf.select(config, "hydra.sweeper._target_", default="")).lower():
        sort_by = str(OmegaConf.select(config, "objective", default=sort_by))  # rank by what the study optimized
        ascending = OmegaConf.select(config, "direction", default="maximize") == "minimize"
    board = build(
        sweep_dir,
        sort_by=sort_by,
        ascending=ascending,
        top_n=settings.top_n if settings.tearsheet else 0,
        log_scale=settings.log_scale,
    )
    print_table(board, sweep_dir)
    reporters = build_reporters(config)
    report = sweep_report(sweep_dir, formatted_rows(board), board.n_failed, board.sort_by)
    dispatch(reporters, report, timeout=settings.timeout, network=True, local=False)


def _count_jobs(config: DictConfig) -> int | None:
    """Number of runs of a grid sweep from its overrides (None when it cannot be told)."""
    try:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        overrides = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
        total = 1
        for o in overrides:
            if o.is_sweep_override():
                total *= len(list(o.sweep_string_iterator()))
        return total
    except Exception:
        return None
