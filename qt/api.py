"""The Python API for notebooks: ``qt.run``, ``qt.sweep`` and ``qt.load``, with the CLI's overrides and outputs.

``qt.run("strategy=xmom", "portfolio=meanvar")`` composes the same config as
``qt run strategy=xmom portfolio=meanvar`` and runs the same Hydra job (same checks,
same run directory layout, same files, byte for byte); ``qt.sweep(...)`` runs
``qt run -m ...`` in a subprocess, so every launcher and sweeper works as on the
command line, and returns its leaderboard; ``qt.load(path)`` opens any finished run or
sweep.

Examples
--------
>>> import qt
>>> result = qt.run("data=synthetic", "data.n_assets=5", "data.n_days=300")  # doctest: +SKIP
>>> result.metrics["sharpe"], result.equity["nav"].iloc[-1]  # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qt.errors import QtError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RunResult", "SweepResult", "load", "run", "sweep"]


class RunResult:
    """A finished run: its files as pandas objects, and its tearsheet inline in Jupyter."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        if not (self.run_dir / "metrics.json").is_file():
            error = self.run_dir / "error.json"
            if error.is_file():
                raise QtError(f"{self.run_dir}: the run failed: {json.loads(error.read_text()).get('error')}")
            raise QtError(f"{self.run_dir}: no metrics.json; pass a finished run's directory such as outputs/DATE/TIME")

    def __repr__(self) -> str:
        sharpe = self.metrics.get("sharpe")
        return (
            f"RunResult({str(self.run_dir)!r}, sharpe={sharpe:.3f})"
            if sharpe is not None
            else f"RunResult({str(self.run_dir)!r})"
        )

    @cached_property
    def equity(self) -> pd.DataFrame:
        """One row per bar, indexed by timestamp: nav, cash, exposures, turnover, return."""
        return self._parquet("equity.parquet").set_index("timestamp")

    @cached_property
    def weights(self) -> pd.DataFrame:
        """Per decision and symbol: weight before trading and target weight."""
        return self._parquet("weights.parquet")

    @cached_property
    def orders(self) -> pd.DataFrame:
        """Every order: when decided, symbol, side, quantity, status, reason."""
        return self._parquet("orders.parquet")

    @cached_property
    def fills(self) -> pd.DataFrame:
        """Every fill: order id, time, symbol, side, quantity, price, fees, notional."""
        return self._parquet("fills.parquet")

    @cached_property
    def metrics(self) -> pd.Series:
        """metrics.json as a Series (headline metrics first as written)."""
        import pandas as pd

        data = json.loads((self.run_dir / "metrics.json").read_text())
        return pd.Series({k: v for k, v in data.items() if not isinstance(v, (dict, list))}, dtype=object)

    @cached_property
    def manifest(self) -> dict[str, Any]:
        """manifest.json: config, overrides, data fingerprint and files, versions, git, seeds, timings."""
        path = self.run_dir / "manifest.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    @cached_property
    def walk_forward(self) -> dict[str, Any] | None:
        """walk_forward.json of a walk-forward run (windows, chosen parameters, DSR, PBO), else None."""
        path = self.run_dir / "walk_forward.json"
        return json.loads(path.read_text()) if path.is_file() else None

    @property
    def tearsheet_path(self) -> Path | None:
        """The run's tearsheet.html, or None (sweep runs below the top ones have none)."""
        path = self.run_dir / "tearsheet.html"
        return path if path.is_file() else None

    def _repr_html_(self) -> str:
        """The tearsheet in a sandboxed iframe (its styles and scripts stay inside), else the metrics."""
        if self.tearsheet_path is None:
            return f"<p>{html.escape(str(self.run_dir))}</p>" + self.metrics.to_frame("value").to_html()
        page = self.tearsheet_path.read_text()
        return (
            f'<iframe srcdoc="{html.escape(page, quote=True)}" style="width: 100%; height: 900px; border: 0" '
            'sandbox="allow-scripts"></iframe>'
        )

    def _parquet(self, name: str) -> pd.DataFrame:
        import pandas as pd

        path = self.run_dir / name
        if not path.is_file():
            from qt.sweeps.materialize import is_lean, rerun_full

            if is_lean(self.run_dir):  # a lean sweep run: its full files first (`qt rerun RUN --full`)
                rerun_full(self.run_dir)
        return pd.read_parquet(path)


class SweepResult:
    """A finished sweep: its leaderboard and its runs."""

    def __init__(self, sweep_dir: str | Path) -> None:
        self.sweep_dir = Path(sweep_dir)

    def __repr__(self) -> str:
        return f"SweepResult({str(self.sweep_dir)!r}, runs={len(self.leaderboard)})"

    @cached_property
    def leaderboard(self) -> pd.DataFrame:
        """Every run with its overrides and key metrics, best first (leaderboard.parquet, else rebuilt)."""
        import pandas as pd

        path = self.sweep_dir / "leaderboard.parquet"
        if path.is_file():
            board = pd.read_parquet(path)
        else:
            from qt.evaluation.leaderboard import collect

            board = collect(self.sweep_dir).table
        board.attrs["sweep_dir"] = str(self.sweep_dir)
        return board

    def runs(self) -> list[RunResult]:
        """The finished runs, in leaderboard order."""
        done = self.leaderboard[self.leaderboard["status"] == "ok"]
        return [RunResult(p) for p in done["run_dir"]]

    def best(self) -> RunResult:
        """The top run of the leaderboard."""
        runs = self.runs()
        if not runs:
            raise QtError(f"{self.sweep_dir}: no run of the sweep finished")
        return runs[0]

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(str(self.sweep_dir))}</p>" + self.leaderboard.to_html(index=False)


def run(*overrides: str, run_dir: str | Path | None = None) -> RunResult:
    """Run one backtest as ``qt run OVERRIDES...`` would, in this process; its outputs go to a run directory.

    ``run_dir`` is a shorthand for ``hydra.run.dir=...``. Errors are raised as ``QtError``
    with the CLI's one-line message.
    """
    args = [*overrides, *([f"hydra.run.dir={Path(run_dir).resolve()}"] if run_dir is not None else [])]
    return RunResult(_run_job(args))


def sweep(*overrides: str, sweep_dir: str | Path | None = None, timeout: float = 24 * 3600) -> pd.DataFrame:
    """Run ``qt run -m OVERRIDES...`` (any launcher or sweeper) and return its leaderboard.

    The leaderboard's ``attrs["sweep_dir"]`` says where the sweep is; ``qt.load`` opens it again.
    """
    given = [o for o in overrides if o.startswith("hydra.sweep.dir=")]
    if sweep_dir is not None:
        target = Path(sweep_dir).resolve()
    elif given:
        target = Path(given[-1].split("=", 1)[1]).resolve()
    else:
        target = Path(
            "outputs", "multirun", time.strftime("%Y-%m-%d"), f"{time.strftime('%H-%M-%S')}-{os.urandom(3).hex()}"
        ).resolve()
    args = [o for o in overrides if not o.startswith("hydra.sweep.dir=")]
    proc = subprocess.run(
        [sys.executable, "-m", "qt", "run", "-m", *args, f"hydra.sweep.dir={target}"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise QtError(f"the sweep failed (exit {proc.returncode}): " + " | ".join(tail))
    return SweepResult(target).leaderboard


def load(path: str | Path) -> RunResult | SweepResult:
    """Open a finished run (a directory with metrics.json) or sweep (with multirun.yaml or a leaderboard)."""
    p = Path(path)
    if not p.is_dir():
        raise QtError(f"{p}: no such directory; pass a run or sweep directory such as outputs/DATE/TIME")
    if (p / "leaderboard.parquet").is_file() or (p / "multirun.yaml").is_file():
        return SweepResult(p)
    return RunResult(p)


def _run_job(overrides: list[str]) -> Path:
    """Compose ``overrides`` with qt's config and run the ``qt run`` job on it (as Hydra's run mode does)."""
    from hydra import compose, initialize_config_dir
    from hydra._internal.callbacks import Callbacks
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.utils import run_job
    from hydra.types import HydraContext

    from qt.app import main as qt_job
    from qt.config.hydra_errors import explain
    from qt.config.paths import conf_dir

    previous = os.environ.get("QT_DEBUG")
    os.environ["QT_DEBUG"] = "1"  # the job raises its error instead of exiting: this function re-raises it
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3", job_name="run"):
            try:
                cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
            except Exception as exc:
                raise (explain(exc) or exc) from None
            callbacks = Callbacks(cfg)
            context = HydraContext(config_loader=GlobalHydra.instance().config_loader(), callbacks=callbacks)
            callbacks.on_run_start(config=cfg, config_name="config")
            ret = run_job(
                hydra_context=context,
                task_function=qt_job,
                config=cfg,
                job_dir_key="hydra.run.dir",
                job_subdir_key=None,
                configure_logging=True,
            )
            callbacks.on_run_end(config=cfg, config_name="config", job_return=ret)
            ret.return_value  # noqa: B018 - raises the job's exception, if any
            return Path(str(ret.hydra_cfg.hydra.runtime.output_dir)) if ret.hydra_cfg else Path(str(ret.working_dir))
    finally:
        if previous is None:
            os.environ.pop("QT_DEBUG", None)
        else:
            os.environ["QT_DEBUG"] = previous
