"""A finished run read back from its directory: the inputs of every analytic and report.

Everything comes from the saved outputs (equity, weights, fills, metrics, the composed
config and, when a benchmark was set, ``benchmark.parquet``), so ``qt tearsheet`` can
re-render any finished run without its data or code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qt.errors import QtError

if TYPE_CHECKING:
    import pandas as pd

REQUIRED = ("equity.parquet", "weights.parquet", "fills.parquet")


class RunDirError(QtError):
    """A directory is not a finished qt run (or a file in it is unreadable)."""


@dataclass(frozen=True)
class RunData:
    """One run's saved results, as arrays (per bar) and frames (per decision / fill)."""

    run_dir: Path
    timestamps: np.ndarray  # datetime64[us], naive UTC
    nav: np.ndarray
    capital: float
    gross: np.ndarray
    net: np.ndarray
    turnover: np.ndarray
    weights: pd.DataFrame  # timestamp, symbol, weight_before, target_weight
    fills: pd.DataFrame  # order_id, timestamp, symbol, side, quantity, price, fees, notional
    metrics: dict[str, Any]
    config: dict[str, Any]
    benchmark_name: str | None = None
    benchmark_returns: np.ndarray | None = None
    events: pd.DataFrame | None = None  # post-trade events: timestamp, kind, detail, scale, halt
    decisions: pd.DataFrame | None = None  # per decision: timestamp, status, solver, fallback_steps, ...
    choices: dict[str, str] = field(default_factory=dict)  # config group -> option (strategy: xmom, ...)
    final_marks: dict[str, float] | None = None  # last price of each symbol (per-asset P&L of open positions)
    mode: str = "backtest"  # manifest.json's mode: backtest or live
    broker: str = ""  # a live run's broker adapter (paper, ib)

    @property
    def returns(self) -> np.ndarray:
        """Simple return per bar; the first is against the starting capital."""
        return self.nav / np.r_[self.capital, self.nav[:-1]] - 1.0

    @property
    def curve(self) -> np.ndarray:
        """NAV with the starting capital in front (one point more than bars)."""
        return np.r_[self.capital, self.nav]

    @property
    def name(self) -> str:
        """A short label: the strategy's option (else its target's class name) and the run directory's name."""
        target = str(self.config.get("strategy", {}).get("_target_", "strategy")).rsplit(".", 1)[-1]
        return f"{self.choices.get('strategy') or target}{self.live_label} ({self.run_dir.name})"

    @property
    def live_label(self) -> str:
        """`` live (paper)`` for a live run, empty for a backtest."""
        if self.mode != "live":
            return ""
        return f" live ({self.broker})" if self.broker else " live"


def load_run(run_dir: Path) -> RunData:
    """Read a finished run; RunDirError naming the directory and the missing file otherwise."""
    import pandas as pd

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: no such directory; pass a run directory such as outputs/DATE/TIME")
    missing = [f for f in REQUIRED if not (run_dir / f).is_file()]
    if missing:
        hint = " (the run failed: see error.json)" if (run_dir / "error.json").is_file() else ""
        raise RunDirError(f"{run_dir}: not a finished qt run, missing {', '.join(missing)}{hint}")
    try:
        equity = pd.read_parquet(run_dir / "equity.parquet")
        weights = pd.read_parquet(run_dir / "weights.parquet")
        fills = pd.read_parquet(run_dir / "fills.parquet")
    except Exception as exc:
        raise RunDirError(f"{run_dir}: cannot read results: {exc}") from None
    if equity.empty:
        raise RunDirError(f"{run_dir}/equity.parquet: no bars")
    config = read_config(run_dir)
    nav = equity["nav"].to_numpy(np.float64)
    first = float(equity["return"].iloc[0])
    capital = float(config.get("capital") or nav[0] / (1.0 + first))
    bench_name, bench = _benchmark(run_dir)
    manifest = _json(run_dir / "manifest.json")
    return RunData(
        run_dir=run_dir,
        timestamps=naive_utc(equity["timestamp"]),
        nav=nav,
        capital=capital,
        gross=equity["gross_exposure"].to_numpy(np.float64),
        net=equity["net_exposure"].to_numpy(np.float64),
        turnover=equity["turnover"].to_numpy(np.float64),
        weights=weights,
        fills=fills,
        metrics=_json(run_dir / "metrics.json"),
        config=config,
        benchmark_name=bench_name,
        benchmark_returns=bench,
        events=_optional_parquet(run_dir / "events.parquet"),
        decisions=_optional_parquet(run_dir / "decisions.parquet"),
        choices=read_choices(run_dir),
        final_marks=_final_marks(run_dir),
        mode=str(manifest.get("mode") or "backtest"),
        broker=str(manifest.get("broker") or ""),
    )


def naive_utc(column: pd.Series) -> np.ndarray:
    """A timestamp column as datetime64[us] without time zone (UTC when it had one)."""
    if getattr(column.dt, "tz", None) is not None:
        column = column.dt.tz_convert("UTC").dt.tz_localize(None)
    return column.to_numpy().astype("datetime64[us]")


def read_config(run_dir: Path) -> dict[str, Any]:
    """The run's composed config, resolved but with secrets redacted ({} if absent).

    ``.hydra/config.yaml`` for a run directory; ``config.yaml`` for a live state folder.
    """
    from omegaconf import DictConfig, OmegaConf

    from qt.config.secrets import redacted

    path = run_dir / ".hydra" / "config.yaml"
    if not path.is_file():
        path = run_dir / "config.yaml"
    if not path.is_file():
        return {}
    cfg = OmegaConf.load(path)
    return redacted(cfg) if isinstance(cfg, DictConfig) else {}


def read_choices(run_dir: Path) -> dict[str, str]:
    """The config group options the run was composed from (``strategy: xmom``), from ``.hydra/hydra.yaml``."""
    import yaml

    path = run_dir / ".hydra" / "hydra.yaml"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: hydra.yaml is ~200 lines
    if not path.is_file():
        return _live_choices(run_dir)
    try:
        data = yaml.load(path.read_text(), Loader=loader)
    except yaml.YAMLError:
        return {}
    choices = (((data or {}).get("hydra") or {}).get("runtime") or {}).get("choices") or {}
    return {str(k): str(v) for k, v in choices.items() if not str(k).startswith("hydra/") and v is not None}


def _live_choices(run_dir: Path) -> dict[str, str]:
    """A live state folder's choices: ``manifest.json``'s ``choices`` (group -> option), written with its results."""
    data = _json(run_dir / "manifest.json").get("choices")
    return {str(k): str(v) for k, v in data.items() if v is not None} if isinstance(data, dict) else {}


def _optional_parquet(path: Path) -> pd.DataFrame | None:
    import pandas as pd

    if not path.is_file():
        return None
    try:
        return pd.read_parquet(path)
    except Exception as exc:
        raise RunDirError(f"{path}: cannot read ({exc})") from None


def _final_marks(run_dir: Path) -> dict[str, float] | None:
    """Last prices saved in performance.json by the run (None for runs written before they were)."""
    marks = _json(run_dir / "performance.json").get("final_marks")
    return {str(k): float(v) for k, v in marks.items() if v is not None} if isinstance(marks, dict) else None


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path}: not valid JSON ({exc})") from None
    return data if isinstance(data, dict) else {}


def _benchmark(run_dir: Path) -> tuple[str | None, np.ndarray | None]:
    import pyarrow.parquet as pq

    path = run_dir / "benchmark.parquet"
    if not path.is_file():
        return None, None
    table = pq.read_table(path)
    name = (table.schema.metadata or {}).get(b"qt.benchmark", b"benchmark").decode()
    return name, table.column("return").to_numpy().astype(np.float64)
