"""Full result files for a lean sweep run: run its config again in this process and add what it left out.

A sweep's runs are lean by default (config, manifest, metrics, equity). After the sweep
the best ``report.top_n`` get their full files here (so their tearsheets can be drawn),
and ``qt rerun RUN --full`` does the same for any run. qt runs are deterministic: the
recorded files must come out byte-identical, else nothing is added (qt.runs.backtest.materialize).
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from omegaconf import DictConfig, open_dict, read_write

log = logging.getLogger("qt")


def is_lean(run_dir: Path) -> bool:
    """A finished run whose manifest says it was written lean and that has no weights yet."""
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("outputs") == "lean" and not (run_dir / "weights.parquet").is_file()


def complete_run(job_config: DictConfig, run_dir: Path, *, tearsheet: bool = False) -> list[str]:
    """Add the full files (and performance.json) to the lean run ``run_dir`` of ``job_config`` (Hydra node included).

    ``tearsheet`` draws tearsheet.html too (the sweep's leaderboard draws its top runs' itself).
    Returns the names of the files added.
    """
    from hydra.core.hydra_config import HydraConfig

    from qt.config.spec import RunSpec
    from qt.evaluation.finish import evaluate_run
    from qt.reporting.settings import ReportSettings
    from qt.runs.backtest import materialize

    before = {p.name for p in run_dir.iterdir()}
    hydra_config = HydraConfig.instance()
    previous = hydra_config.cfg
    hydra_config.set_config(job_config)
    task = copy.deepcopy(job_config)
    with read_write(task), open_dict(task):
        del task["hydra"]
    qt_log = logging.getLogger("qt")
    level = qt_log.level
    qt_log.setLevel(logging.WARNING)  # the run's own info lines were said when it ran
    try:
        summary = materialize(task, run_dir)
        settings = ReportSettings.from_config(task)
        evaluate_run(
            run_dir,
            summary.result,
            benchmark=RunSpec.parse(task, choices={}).benchmark,
            tearsheet=tearsheet and settings.tearsheet,
            log_scale=settings.log_scale,
        )
    finally:
        qt_log.setLevel(level)
        hydra_config.cfg = previous  # the caller's Hydra job (a sweep's driver) is left as it was
    return sorted({p.name for p in run_dir.iterdir()} - before)


def rerun_full(run_dir: Path) -> list[str]:
    """``qt rerun RUN --full``: compose the run's config from its manifest (in its folder) and complete it."""
    from hydra import compose, initialize_config_dir

    from qt.config.paths import conf_dir
    from qt.errors import QtError

    manifest = json.loads((run_dir / "manifest.json").read_text())
    overrides = [str(o) for o in manifest.get("overrides") or []]
    if any("<redacted>" in o for o in overrides):
        raise QtError(f"{run_dir}: a secret override cannot be replayed; rerun it by hand with the secret set")
    cwd = Path(manifest.get("cwd") or os.getcwd())
    with _cwd(cwd), _own_hydra(), initialize_config_dir(str(conf_dir()), version_base="1.3", job_name="run"):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
        with open_dict(cfg.hydra):
            cfg.hydra.runtime.output_dir = str(run_dir)
        return complete_run(cfg, run_dir, tearsheet=True)


@contextmanager
def _own_hydra() -> Iterator[None]:
    """Compose with Hydra's API even inside a running Hydra app (a sweep's callback): its state is put back."""
    from hydra.core.global_hydra import GlobalHydra

    global_hydra = GlobalHydra.instance()
    saved = global_hydra.hydra if global_hydra.is_initialized() else None
    global_hydra.clear()
    try:
        yield
    finally:
        current = GlobalHydra.instance()  # Hydra's initialize puts back a copy of its own on exit
        current.clear()
        if saved is not None:
            current.initialize(saved)


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    if path.is_dir():
        os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)
