"""The Hydra application behind ``qt run``: compose the config, run, evaluate, report.

Kept thin on purpose: composition is Hydra's, the run is ``qt.runs.backtest``'s, the
analytics and tearsheet ``qt.evaluation``'s, the messages ``qt.reporting``'s. Inside a
sweep a failed run records ``error.json`` in its directory and the sweep goes on; a
single run exits 2 with one clear message.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from qt.config.overrides import check_overrides
from qt.config.paths import conf_dir
from qt.config.secrets import save_run_config, scrub, scrub_sweep_config
from qt.errors import EXIT_ERROR, EXIT_INTERNAL, QtError, interrupted_inside

log = logging.getLogger("qt")
ERROR_FILE = "error.json"


@dataclass(frozen=True)
class SweepOutcome:
    """How many runs of a finished sweep ran, and how many failed (an ``error.json`` in their directory)."""

    sweep_dir: Path
    runs: int
    failed: int
    first_error: str = ""

    def __str__(self) -> str:
        first = f"; the first: {self.first_error}" if self.first_error else ""
        return f"all {self.runs} runs of the sweep failed (error.json in each run of {self.sweep_dir}){first}"

    @classmethod
    def read(cls, sweep_dir: Path) -> SweepOutcome:
        """Count the run directories of ``sweep_dir`` and the failed ones."""
        runs = [d for d in sorted(sweep_dir.iterdir()) if d.is_dir() and _is_run_dir(d)] if sweep_dir.is_dir() else []
        failed = [d for d in runs if (d / ERROR_FILE).is_file()]
        first = ""
        if failed:
            try:
                first = str(json.loads((failed[0] / ERROR_FILE).read_text()).get("error", ""))
            except (OSError, ValueError):
                first = ""
        return cls(sweep_dir, len(runs), len(failed), first)


_SCRUBBED: set[str] = set()  # sweep folders whose multirun.yaml this process has masked

SWEEP_OUTCOMES: list[
    SweepOutcome
] = []  # filled after each sweep of this process (qt.cli turns "all failed" into exit 2)


def unknown_sweep_option(overrides: Any) -> QtError | None:
    """The error for the first swept group option (``portfolio=equal,meanvr``) that does not exist, or None."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.object_type import ObjectType
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from qt.config.hydra_errors import closest_first

    try:
        parsed = OverridesParser.create().parse_overrides([str(o) for o in overrides])
        loader = GlobalHydra.instance().config_loader()
    except Exception:
        return None  # Hydra reports what it cannot parse itself
    for o in parsed:
        if not o.is_sweep_override() or o.package is not None:
            continue
        options = loader.get_group_options(o.key_or_group, results_filter=ObjectType.CONFIG)
        if not options:
            continue  # not a config group: a plain key swept over values
        for value in o.sweep_string_iterator():
            if value not in options:
                from qt.errors import ConfigError

                group = o.key_or_group
                return ConfigError(
                    group, f"no option '{value}'; choose one of: {', '.join(closest_first(value, options))}"
                )
    return None


def _is_run_dir(folder: Path) -> bool:
    return (folder / ERROR_FILE).is_file() or (folder / ".hydra").is_dir()


class SweepOutcomeCallback(Callback):
    """Hydra callback (conf/config.yaml): after a sweep, record how many of its runs failed."""

    def __init__(self) -> None:
        self._sweep_dir: Path | None = None
        self._started = 0.0

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Refuse a sweep over a group option that does not exist before any run starts; remember the sweep dir."""
        import time

        self._sweep_dir = Path(str(config.hydra.sweep.dir))
        self._started = time.time()
        error = unknown_sweep_option(OmegaConf.to_container(config.hydra.overrides.task, resolve=False) or [])
        if error is not None:
            print(f"ERROR: {error}", file=sys.stderr)
            raise SystemExit(EXIT_ERROR)  # an Exception would only be a warning from Hydra's callback runner

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Mask secrets in multirun.yaml (again: even if no run got that far), read the runs into ``SWEEP_OUTCOMES``."""
        sweep_dir = self._sweep_dir or Path(str(config.hydra.sweep.dir))
        scrub_sweep_config(sweep_dir)
        SWEEP_OUTCOMES.append(SweepOutcome.read(sweep_dir))
        _say_throughput(sweep_dir, since=self._started)


def _say_throughput(sweep_dir: Path, *, since: float) -> None:
    """After the leaderboard: the sweep's throughput line, when its sweeper measured it (throughput.json)."""
    from qt.sweeps.throughput import FILE, Throughput

    path = sweep_dir / FILE
    try:
        if path.stat().st_mtime < since:
            return  # left by an earlier sweep into the same folder
        data = json.loads(path.read_text())
        fields = {k: data[k] for k in Throughput.__dataclass_fields__}
    except (OSError, ValueError, KeyError, TypeError):
        return
    print(Throughput(**fields).line(), flush=True)


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Run one backtest, write its tearsheet, send its reports; return its Sharpe (for sweepers)."""
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    try:
        if multirun and str(hydra_cfg.sweep.dir) not in _SCRUBBED:  # once per sweep and process, not per run
            scrub_sweep_config(Path(hydra_cfg.sweep.dir))
            _SCRUBBED.add(str(hydra_cfg.sweep.dir))
        save_run_config(run_dir, cfg, cast(DictConfig, HydraConfig.instance().cfg))  # read only: no copy
        task = OmegaConf.to_container(hydra_cfg.overrides.task, resolve=False)  # a user's ${...} stays unresolved
        check_overrides(cfg, [str(o) for o in task or []], groups=hydra_cfg.runtime.choices.keys())
        return _run(cfg, run_dir, multirun=multirun)
    except KeyboardInterrupt:
        if multirun:
            raise  # the sweeper stops launching and ranks the finished runs
        raise KeyboardInterrupt(
            f"interrupted: the run in {run_dir} stopped before writing its results (results appear only when complete)"
        ) from None
    except Exception as exc:
        if interrupted_inside(exc):  # Ctrl-C inside OmegaConf/Hydra, which wrapped it as a config error
            if multirun:
                raise KeyboardInterrupt from None
            raise KeyboardInterrupt(
                f"interrupted: the run in {run_dir} stopped before writing its results (results appear only when "
                "complete)"
            ) from None
        if os.environ.get("QT_DEBUG") == "1" and not multirun:
            raise
        expected = isinstance(exc, QtError)
        message = scrub(str(exc) if expected else f"{type(exc).__name__}: {exc}")
        if multirun:
            _record_error(run_dir, exc, expected)
            log.error("run %s failed: %s", hydra_cfg.job.num, message)
            return None
        if not expected:
            _record_error(run_dir, exc, expected)
            log.error(
                "unexpected %s (a bug? the traceback is in %s; QT_DEBUG=1 shows it)", message, run_dir / ERROR_FILE
            )
            raise SystemExit(EXIT_INTERNAL) from None
        log.error("%s", message)  # to stderr and run.log, see conf/hydra/job_logging/qt.yaml
        raise SystemExit(EXIT_ERROR) from None


def _run(cfg: DictConfig, run_dir: Path, *, multirun: bool) -> float | None:
    from qt.config.spec import RunSpec
    from qt.enums import RunMode
    from qt.evaluation.finish import evaluate_run
    from qt.reporting.progress import bar_progress, phase
    from qt.reporting.reporters import dispatch
    from qt.reporting.settings import ReportSettings, build_reporters
    from qt.reporting.summaries import run_report
    from qt.runs.backtest import run_backtest

    spec = RunSpec.parse(cfg)  # what kind of run this is, read once
    settings = ReportSettings.from_config(cfg)
    reporters = build_reporters(cfg)
    benchmark = spec.benchmark
    options: dict[str, Any] = {}
    runner: Callable[..., Any] = run_backtest
    if spec.walk_forward:
        from qt.runs.walk_forward import run_walk_forward as runner
    elif spec.mode is RunMode.LIVE:  # the mode group chooses the driver
        from qt.runs.live import run_live as runner
    else:
        options["lean"] = multirun and settings.sweep_outputs == "lean"
    with bar_progress(spec.description, enabled=settings.progress and not multirun) as progress:
        summary = runner(cfg, run_dir, check_panel=_benchmark_check(benchmark), progress=progress, **options)
    sharpe = summary.metrics.get("sharpe")
    if options.get("lean"):
        if benchmark is None and _ranked_by_metrics(spec.objective, settings.sort_by, summary.metrics):
            return float(sharpe) if sharpe is not None else None  # lean: the leaderboard needs nothing more
        from qt.runs.backtest import complete

        complete(summary)  # the ranking metric (or the benchmark) needs the full analytics
    with phase("tearsheet", enabled=settings.progress and not multirun):
        evaluation = evaluate_run(
            summary.run_dir,
            summary.result,
            benchmark=benchmark,
            tearsheet=settings.tearsheet and not multirun,
            log_scale=settings.log_scale,
        )
    report = run_report(summary, evaluation.performance.summary, evaluation.tearsheet)
    # inside a sweep nothing is sent per run: the leaderboard callback reports the sweep once
    dispatch(reporters, report, timeout=settings.timeout, network=not multirun, local=not multirun)
    return float(sharpe) if sharpe is not None else None


def _ranked_by_metrics(objective: str, sort_by: str, metrics: dict[str, Any]) -> bool:
    """Whether the sweep ranks its runs (report.sort_by, an Optuna objective) by keys of metrics.json alone."""
    return sort_by in metrics and objective in metrics


def _benchmark_check(benchmark: str | None) -> Callable[[Any], object] | None:
    """A check that ``benchmark`` resolves on the loaded data (before the backtest), or None."""
    if benchmark is None:
        return None
    from qt.evaluation.benchmark import resolve

    return lambda panel: resolve(benchmark, panel)


def _record_error(run_dir: Path, exc: BaseException, expected: bool) -> None:
    """Write error.json (type, message, traceback for unexpected errors) into the failed run's directory."""
    run_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "error": scrub(str(exc) if expected else f"{type(exc).__name__}: {exc}"),
        "type": type(exc).__name__,
        "traceback": None if expected else scrub(traceback.format_exc()),
    }
    tmp = run_dir / f".{ERROR_FILE}.partial"
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, run_dir / ERROR_FILE)
