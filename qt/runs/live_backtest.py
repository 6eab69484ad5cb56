"""The backtest beside a live run: the live state folder's config, as a backtest, over the bars live traded.

``qt tearsheet LIVE_DIR`` runs it into ``LIVE_DIR/backtest/`` (a run folder like any other), so the
live run can be set beside what the backtest of the same config made over the same bars. Bars
before the live run's first bar are history only (``live.start``), as they were live.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from qt.errors import ConfigError

log = logging.getLogger("qt")
FOLDER = "backtest"
DROP = ("broker", "live", "hydra")  # what only a live run has


def is_live_folder(run_dir: Path) -> bool:
    """A live state folder: its manifest says ``mode: live`` (or, before it has results, it holds the live config)."""
    import json

    manifest = Path(run_dir) / "manifest.json"
    if manifest.is_file():
        try:
            return json.loads(manifest.read_text()).get("mode") == "live"
        except (ValueError, AttributeError):
            return False
    return (Path(run_dir) / "config.yaml").is_file() and (Path(run_dir) / "store.json").is_file()


def backtest_config(live_dir: Path) -> DictConfig:
    """``LIVE_DIR/config.yaml`` as a backtest: ``mode: backtest``, without the broker and live blocks."""
    path = Path(live_dir) / "config.yaml"
    if not path.is_file():
        raise ConfigError(
            str(path), "no config.yaml: not a live state folder; pass the backtest to compare with: --vs-backtest DIR"
        )
    cfg = OmegaConf.load(path)
    if not isinstance(cfg, DictConfig):
        raise ConfigError(str(path), "not a config mapping")
    kept = {k: v for k, v in cfg.items() if k not in DROP}
    out = OmegaConf.create(kept)
    out.mode = "backtest"
    return out


def run_backtest_of_live(live_dir: Path, out_dir: Path | None = None) -> Path:
    """Run the backtest of ``live_dir``'s config over its bars into ``out_dir`` (default ``LIVE_DIR/backtest``)."""
    from qt.backtest.engine import BacktestEngine
    from qt.engine.components import build_components
    from qt.evaluation.finish import evaluate_run
    from qt.evaluation.headline import headline
    from qt.evaluation.risk_report import risk_metrics
    from qt.evaluation.run_data import load_run
    from qt.features.cache import cache_from_config, using_cache
    from qt.results.writer import write_run

    live = load_run(live_dir)
    out = Path(out_dir) if out_dir is not None else Path(live_dir) / FOLDER
    cfg = backtest_config(live_dir)
    parts = build_components(cfg)
    panel = parts.load_panel(None)
    first, last = live.timestamps[0], live.timestamps[-1]
    stamps = panel.timestamps
    lo = int(np.searchsorted(stamps, first))
    hi = int(np.searchsorted(stamps, last, side="right"))
    missing = np.setdiff1d(live.timestamps, stamps[lo:hi])
    if lo >= len(stamps) or missing.size:
        raise ConfigError(
            "data",
            f"the backtest's data ({panel.name}) lacks {missing.size or len(live.timestamps)} of the live run's "
            f"{len(live.timestamps)} bars (first {missing[0] if missing.size else first}); a live run whose bars "
            "came from the broker is compared with a backtest you run on the same bars: --vs-backtest DIR "
            "(--no-vs-backtest: the live run's tearsheet alone)",
        )
    panel = _until(panel, hi)
    with using_cache(cache_from_config(cfg)):
        scores = parts.strategy.scores(panel)
    result = BacktestEngine.from_components(parts).run(panel, scores, start=lo)
    if lo:
        result = _from(result, lo)
    metrics = headline(
        nav=result.nav, capital=result.capital, timestamps=result.panel.timestamps, turnover=result.turnover,
        n_decisions=len(result.decisions), n_trades=result.n_trades,
    )  # fmt: skip
    extra = risk_metrics(result, parts.optional.get("risk.stress"))
    metrics.update(extra.metrics)
    manifest = {"mode": "backtest", "of_live": str(Path(live_dir).resolve()), "data_fingerprint": panel.fingerprint()}
    out.mkdir(parents=True, exist_ok=True)
    hydra = out / ".hydra"  # the config (already masked in the live folder) and the options it was composed from
    hydra.mkdir(exist_ok=True)
    OmegaConf.save(cfg, hydra / "config.yaml")
    OmegaConf.save(OmegaConf.create({"hydra": {"runtime": {"choices": dict(live.choices)}}}), hydra / "hydra.yaml")
    write_run(out, result, metrics, manifest, extra.files)
    evaluate_run(out, result, benchmark=None, tearsheet=False)  # performance.json: the final marks
    log.info("backtest of %s over its %d bars: %s", live_dir, len(live.timestamps), out)
    return out


def _until(panel: Any, hi: int) -> Any:
    """``panel``'s bars before ``hi`` (the same object when that is all of them)."""
    from qt.data.panel import BarPanel

    if hi >= panel.n_bars:
        return panel
    fields = {f: a[:hi] for f, a in panel.fields.items()}
    return BarPanel(panel.timestamps[:hi], panel.symbols, fields, tz=panel.tz, name=panel.name)


def _from(result: Any, lo: int) -> Any:
    """``result`` from bar ``lo`` on, bar indices shifted (the bars before were history only)."""
    from dataclasses import replace

    from qt.data.panel import BarPanel
    from qt.results.result import RunResult

    p = result.panel
    view = BarPanel(p.timestamps[lo:], p.symbols, {f: a[lo:] for f, a in p.fields.items()}, tz=p.tz, name=p.name)

    def shift(b: Any) -> Any:
        return replace(b, orders=replace(b.orders, decided_at=b.orders.decided_at - lo), filled_at=b.filled_at - lo)

    return RunResult(
        view, result.capital, result.nav[lo:], result.cash[lo:], result.gross_exposure[lo:],
        result.net_exposure[lo:], result.turnover[lo:], [replace(d, t=d.t - lo) for d in result.decisions],
        [shift(b) for b in result.fills], [replace(e, t=e.t - lo) for e in result.events],
    )  # fmt: skip
