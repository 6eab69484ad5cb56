"""One live run from a composed config: build the components and the broker adapter, run the live node, write results.

``qt run mode=live broker=paper|ib`` lands here. The broker is the component ``conf/broker/NAME.yaml``
names with ``_target_`` (built through the allowlist); :class:`qt.live.node.LiveNode` runs the one
start sequence every broker shares. Everything durable lives in ``live.state_dir``: the state
store, the broker's own files (the paper broker's book), and - when the run stops - the same result
files a backtest writes (equity, weights, orders, fills, decisions, events, metrics), so
``qt tearsheet STATE_DIR`` reports a live run like a backtest. A refused run writes none of them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from qt.config.instantiate import DEFAULT_ALLOWED, build
from qt.config.problems import settings_error
from qt.config.secrets import portable
from qt.config.spec import RunSpec
from qt.data.panel import BarPanel
from qt.engine.components import build_components
from qt.engine.pipeline import Decision
from qt.errors import ConfigError
from qt.evaluation.headline import headline
from qt.live.adapter import BrokerAdapter
from qt.live.identity import FolderIdentity
from qt.live.journal import BarRecorded, DecisionRecorded
from qt.live.node import LiveNode, NodeRun, build_driver, recovered_fills, restore_state
from qt.live.settings import LiveSettings
from qt.live.store import LiveStore
from qt.results.result import RunResult
from qt.results.writer import write_run
from qt.risk.stops import RiskEvent
from qt.runs.backtest import RunSummary

log = logging.getLogger("qt")
BROKERS = ("paper", "ib")  # the brokers qt ships (conf/broker/*.yaml); a plugin broker is one more YAML
KIND_TARGETS = {"paper": "qt.live.paper.adapter.PaperAdapter", "ib": "qt.live.ib.adapter.IBAdapter"}
__all__ = ["build_driver", "live_result", "recovered_fills", "restore_state", "run_live", "write_live_outputs"]


def run_live(
    cfg: DictConfig,
    run_dir: Path,
    *,
    check_panel: Callable[[BarPanel], object] | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> RunSummary:
    """Run ``cfg`` live until its feed ends or SIGTERM/SIGINT; results go to ``live.state_dir``."""
    settings = _settings(cfg)
    spec = RunSpec.parse(cfg)
    adapter = broker_adapter(cfg)
    started = time.perf_counter()
    parts = build_components(cfg)
    panel = parts.load_panel(check_panel)
    node = LiveNode(
        adapter=adapter, parts=parts, panel=panel, settings=settings, identity=folder_identity(cfg, panel, settings, spec.choices),
        notify=_notifier(cfg, settings.folder), config_text=OmegaConf.to_yaml(OmegaConf.create(portable(cfg))),
        progress=progress,
    )  # fmt: skip
    broker = spec.broker or type(adapter).__name__
    choices = {k: v for k, v in spec.choices.items() if not k.startswith("hydra/")}
    stress = parts.optional.get("risk.stress")
    capital = parts.settings.capital

    def finish(store: LiveStore, run: NodeRun) -> RunSummary:
        return write_live_outputs(settings.folder, store, run.panel, run.first, capital, started, stress=stress,
                                  engine_s=run.engine_s, loop=run.loop, broker=broker, choices=choices)  # fmt: skip

    return node.run(finish)


def broker_adapter(cfg: DictConfig) -> BrokerAdapter:
    """The ``broker`` component (``_target_`` through the allowlist); a clear error for none or an old ``kind:``."""
    node = OmegaConf.select(cfg, "broker")
    if node is None:
        raise ConfigError("broker", f"mode=live needs a broker: choose one of {', '.join(BROKERS)} (e.g. broker=paper)")
    if "_target_" not in node:
        kind = OmegaConf.select(node, "kind", default=None)
        hint = f" (for kind: {kind}, _target_: {KIND_TARGETS[kind]})" if kind in KIND_TARGETS else ""
        raise ConfigError(
            "broker._target_",
            f"a broker is a component now: name its adapter with _target_ instead of kind:{hint}; or pick a "
            f"shipped one with broker={'|'.join(BROKERS)} (conf/broker/*.yaml). See docs/live.md",
        )
    extra = OmegaConf.select(cfg, "allowed_targets") or []
    adapter = build(node, "broker", allowed=(*DEFAULT_ALLOWED, *map(str, extra)))
    if not callable(getattr(adapter, "open", None)):
        raise ConfigError("broker._target_", f"{type(adapter).__name__} is not a broker adapter (it has no open(ctx))")
    return adapter


def folder_identity(
    cfg: DictConfig, panel: BarPanel, settings: LiveSettings, choices: Mapping[str, str]
) -> FolderIdentity:
    """Whose state folder this run needs: its data source and symbols, strategy and run name."""
    data = choices.get("data") or str(OmegaConf.select(cfg, "data._target_", default="?"))
    strategy = choices.get("strategy") or str(OmegaConf.select(cfg, "strategy._target_", default="?"))
    return FolderIdentity(data, tuple(panel.symbols), strategy, settings.name)


def _notifier(cfg: DictConfig, folder: Path) -> Callable[[str], None]:
    """Send halts, reconciliation breaks, lost orders and disconnects through the network reporters (Slack, email)."""
    from qt.reporting.reporters import Report, dispatch
    from qt.reporting.settings import ReportSettings, build_reporters

    reporters = build_reporters(cfg)
    timeout = ReportSettings.from_config(cfg).timeout

    def notify(message: str) -> None:
        report = Report(title=f"qt live {folder.name}: alert", stats=[("alert", message)], location=str(folder))
        dispatch(reporters, report, timeout=timeout, local=False)

    return notify


def write_live_outputs(
    folder: Path, store: LiveStore, panel: BarPanel, first: int, capital: float, started: float,
    *, stress: Any = None, engine_s: float | None = None, loop: dict[str, Any] | None = None, broker: str = "",
    choices: dict[str, str] | None = None,
) -> RunSummary:  # fmt: skip
    """The backtest's result files in ``folder``, rebuilt from what the store recorded.

    ``stress``: the run's risk.stress; ``engine_s``: seconds the live loop ran (this process's part);
    ``loop``: the driver's ``LoopTimings.summary()``; ``broker``: the adapter (paper, ib); ``choices``: the
    config-group options (the tearsheet names components by them).
    """
    from qt.evaluation.risk_report import risk_metrics

    result = live_result(store, panel, first, capital)
    metrics: dict[str, Any] = headline(
        nav=result.nav, capital=result.capital, timestamps=result.panel.timestamps, turnover=result.turnover,
        n_decisions=len(result.decisions), n_trades=result.n_trades,
    )  # fmt: skip
    extra = risk_metrics(result, stress)  # halts, risk events, VaR, stress tests: the backtest's own figures
    metrics.update(extra.metrics)
    status = store.trading_state()
    metrics["trading_state"] = status.state.value
    metrics["trading_state_reason"] = status.reason
    manifest = {"mode": "live", "broker": broker, "store": store.meta().kind, "run_name": store.meta().run_name,
                "data_fingerprint": panel.fingerprint(),
                "timings": {"engine_s": round(engine_s or 0.0, 6), "total_s": round(time.perf_counter() - started, 6),
                            **(loop or {})}, "choices": choices or {}}  # fmt: skip
    write_run(folder, result, metrics, manifest, extra.files)
    return RunSummary(folder, metrics, dict(manifest["timings"]), result)  # type: ignore[arg-type]


def live_result(store: LiveStore, panel: BarPanel, first: int, capital: float) -> RunResult:
    """The recorded bars, decisions, fills and risk events as a RunResult over the bars traded live."""
    bars: list[BarRecorded] = [e.record for e in store.events(kinds=[BarRecorded])]
    if not bars:
        raise ConfigError("live.state_dir", "nothing recorded yet: no bar was processed")
    ts = [b.t for b in bars]
    lo, hi = ts[0], ts[-1] + 1
    view = BarPanel(panel.timestamps[lo:hi], panel.symbols, {f: a[lo:hi] for f, a in panel.fields.items()},
                    tz=panel.tz, name=panel.name)  # fmt: skip
    n = hi - lo
    series = {k: np.zeros(n) for k in ("nav", "cash", "gross", "net", "traded")}
    fills = []
    for b in bars:
        i = b.t - lo
        for k in series:
            series[k][i] = float(getattr(b, k))
        fills += [_shift(f.to_batch(), lo) for f in b.fills]
    decisions = [
        Decision(d.t - lo, np.asarray(d.before), np.asarray(d.target), d.report, d.risk_figures())
        for d in (e.record for e in store.events(kinds=[DecisionRecorded]))
    ]  # fmt: skip
    events = [  # as the backtest reports them (without the stop's resume_after)
        RiskEvent(p.t - lo, p.kind, p.detail, float(p.scale), bool(p.halt))
        for p in (a.record.risk_event for a in store.alerts())
        if p
    ]
    nav = series["nav"]
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(nav > 0, 1.0 / nav, np.nan)
    start_nav = capital if lo == first else nav[0]
    return RunResult(view, start_nav, nav, series["cash"], series["gross"] * scale, series["net"] * scale,
                          series["traded"] * scale, decisions, fills, events)  # fmt: skip


def _shift(batch: Any, lo: int) -> Any:
    from dataclasses import replace

    return replace(batch, orders=replace(batch.orders, decided_at=batch.orders.decided_at - lo),
                   filled_at=batch.filled_at - lo)  # fmt: skip


def _settings(cfg: DictConfig) -> LiveSettings:
    node = OmegaConf.select(cfg, "live")
    raw = OmegaConf.to_container(node, resolve=True) if node is not None else {}
    from pydantic import ValidationError

    try:
        return LiveSettings.model_validate(raw)
    except ValidationError as exc:
        raise settings_error(exc, "live", fields=LiveSettings.model_fields) from None
