"""The Hydra application behind ``qt run``: compose the config, run, report.

Kept thin on purpose: composition is Hydra's, the run is ``qt.backtest.runner``'s.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from qt.config.paths import conf_dir
from qt.errors import QtError

log = logging.getLogger("qt")


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Run one backtest; print a summary; exit 2 with one clear message on a QtError."""
    from qt.backtest.runner import run_backtest
    from qt.reporting.console import print_summary

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        summary = run_backtest(cfg, run_dir)
    except QtError as exc:
        if os.environ.get("QT_DEBUG") == "1":
            raise
        log.error("%s", exc)  # to stderr and run.log, see conf/hydra/job_logging/qt.yaml
        raise SystemExit(2) from None
    print_summary(summary)
    sharpe = summary.metrics.get("sharpe")
    return float(sharpe) if sharpe is not None else None
