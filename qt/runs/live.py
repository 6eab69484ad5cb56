"""One live run from a composed config: recover, drive the session from a feed, record what happened.

``qt run mode=live broker=paper`` lands here. Everything durable lives in ``live.state_dir``:
the state store, the paper broker's own book, and - when the run stops - the same result
files a backtest writes (equity, weights, orders, fills, decisions, events, metrics), so
``qt tearsheet STATE_DIR`` reports a live run like a backtest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from qt.config.secrets import redacted
from qt.data.panel import BarPanel
from qt.engine.components import Components, build_components
from qt.engine.pipeline import Decision
from qt.engine.session import Session, SessionState
from qt.enums import OrderStatus
from qt.errors import ConfigError
from qt.evaluation.headline import headline
from qt.live.driver import LiveDriver, batch_from_payload, risk_from_payload
from qt.live.feeds import ReplayFeed
from qt.live.guard import RiskGuard
from qt.live.history import History, utc_time
from qt.live.paper import PaperBroker
from qt.live.recovery import reconcile
from qt.live.router import RoutedVenue, RouterSettings
from qt.live.settings import LiveSettings
from qt.live.store import EventKind, FillRecord, LiveStore, StoreSettings, open_from_settings
from qt.rebalancing import drift_rule
from qt.results.result import RunResult
from qt.results.writer import write_run
from qt.risk.stops import RiskEvent
from qt.runs.backtest import RunSummary
from qt.types import FillBatch, OrderBatch, SolveReport

log = logging.getLogger("qt")
BROKERS = ("paper", "ib")
LOCK_FILE = "qt-live.lock"


def run_live(
    cfg: DictConfig,
    run_dir: Path,
    *,
    check_panel: Callable[[BarPanel], object] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Run ``cfg`` live until its feed ends or SIGTERM/SIGINT; results go to ``live.state_dir``."""
    broker_cfg = OmegaConf.select(cfg, "broker")
    if broker_cfg is None:
        raise ConfigError("broker", f"mode=live needs a broker: choose one of {', '.join(BROKERS)} (e.g. broker=paper)")
    settings = _settings(cfg)
    kind = str(OmegaConf.select(cfg, "broker.kind") or "")
    if kind not in BROKERS:
        raise ConfigError("broker.kind", f"unknown broker '{kind}'; choose one of {', '.join(BROKERS)}")
    started = time.perf_counter()
    parts = build_components(cfg)
    panel = parts.load_panel(check_panel)
    folder = settings.folder
    folder.mkdir(parents=True, exist_ok=True)
    with _only_process(folder):
        _save_config(cfg, folder)
        store = _open_store(settings, folder, cfg)
        try:
            if kind == "ib":
                from qt.runs.live_ib import run_ib

                return run_ib(cfg, parts, panel, settings, store, folder, started)
            return _run_paper(parts, panel, settings, store, folder, started, notify=_notifier(cfg, folder))
        finally:
            store.close()


@contextlib.contextmanager
def _only_process(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock for the run: two live processes on one state folder would both trade it."""
    import fcntl

    path = folder / LOCK_FILE
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            pid = handle.read().strip() or "?"
            raise ConfigError(
                "live.state_dir",
                f"another qt process (pid {pid}) is running live on {folder}; stop it first, or choose another "
                "live.state_dir",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _notifier(cfg: DictConfig, folder: Path) -> Callable[[str], None]:
    """Send halts, reconciliation breaks and lost orders through the configured network reporters (Slack, email)."""
    from qt.reporting.reporters import Report, dispatch
    from qt.reporting.settings import ReportSettings, build_reporters

    reporters = build_reporters(cfg)
    timeout = ReportSettings.from_config(cfg).timeout

    def notify(message: str) -> None:
        report = Report(title=f"qt live {folder.name}: alert", stats=[("alert", message)], location=str(folder))
        dispatch(reporters, report, timeout=timeout, local=False)

    return notify


def _run_paper(
    parts: Components,
    panel: BarPanel,
    settings: LiveSettings,
    store: LiveStore,
    folder: Path,
    started: float,
    *,
    notify: Callable[[str], None] | None = None,
) -> RunSummary:
    capital = parts.settings.capital
    first = _start_index(panel, settings.start)
    resume = _resume_index(store, first)
    if not store.events(limit=1):
        store.deposit(capital, reason="initial capital", time=utc_time(panel.timestamps[first]))
    broker = PaperBroker.open(
        execution=parts.execution, symbols=panel.symbols, state_dir=folder, capital=capital, run_name=settings.name,
        synchronous=_synchronous(settings),
    )  # fmt: skip
    try:
        now = utc_time(panel.timestamps[max(resume - 1, 0)])
        recon = reconcile(store, broker, adopt=settings.adopt_positions, now=now)
        if not recon.clean:
            log.error("reconciliation: positions differ from the broker's: %s; trading HALTED", recon.report())
        history = History.of(panel, resume)
        feed = ReplayFeed(
            panel, start=resume, speed=None if settings.speed == "max" else float(settings.speed),
            stall_after=settings.stall_after,
        )  # fmt: skip
        driver = build_driver(parts, settings, store, broker, history, feed, capital, market_clock=True)
        driver.on_bar = broker.on_bar
        driver.recovered = recovered_fills(recon.booked, store, panel, resume)
        for cid, (decided, asset, note) in _origins(recon.reattached, store, panel).items():
            driver.router.reattach(cid, decided, asset, note)
        if notify is not None:
            driver.notify = notify
            if not recon.clean:
                notify("reconciliation: positions differ from the broker's: " + recon.report() + "; trading HALTED")
        loop_started = time.perf_counter()
        bars = asyncio.run(driver.run())
        engine_s = time.perf_counter() - loop_started
        log.info("live: %d bars processed in %.3f s; state in %s", bars, engine_s, folder)
    finally:
        broker.close()
    return write_live_outputs(
        folder, store, panel, first, capital, started, stress=parts.optional.get("risk.stress"), engine_s=engine_s
    )


def build_driver(
    parts: Components,
    settings: LiveSettings,
    store: LiveStore,
    broker: Any,
    history: History,
    feed: Any,
    capital: float,
    *,
    market_clock: bool = False,
) -> LiveDriver:
    """The session, router and guard over ``broker``, with the book restored from ``store``.

    ``market_clock``: the order-rate guard counts market time (a replay), not wall time.
    """
    symbols = history.symbols
    guard = RiskGuard(settings.guard)
    router = RoutedVenue(
        broker=broker, store=store, guard=guard, symbols=symbols, run_name=settings.name,
        settings=RouterSettings(ack_timeout_s=settings.ack_timeout_s, max_ack_misses=settings.max_ack_misses),
    )  # fmt: skip
    if market_clock:
        guard.rate_clock = lambda: router.bar_time.timestamp()
    rule = drift_rule(parts.strategy.rebalance)
    session = Session(
        pipeline=parts.pipeline(),
        venue=router,
        state=restore_state(store, symbols, capital),
        stops=parts.optional.get("risk.post_trade") or (),
        drift_threshold=rule.threshold if rule is not None else None,
    )
    router.trading = session.state.trading
    return LiveDriver(history=history, feed=feed, session=session, router=router, store=store,
                      strategy=parts.strategy, settings=settings)  # fmt: skip


def _origins(cids: list[str], store: LiveStore, panel: BarPanel) -> dict[str, tuple[int, int, str]]:
    """Each stored order's decision bar, asset index and note (why it was clipped, if it was)."""
    index = {s: i for i, s in enumerate(panel.symbols)}
    decisions = {e.time: e.payload["orders"] for e in store.events(kinds=[EventKind.DECISION])} if cids else {}
    out = {}
    for cid in cids:
        order = store.order(cid)
        if order is None or order.symbol not in index:
            continue
        decided = int(
            np.searchsorted(panel.timestamps, np.datetime64(order.intent.decided_at.replace(tzinfo=None), "us"))
        )
        orders = decisions.get(order.intent.decided_at, {"assets": [], "notes": []})
        a = index[order.symbol]
        out[cid] = (decided, a, str(dict(zip(orders["assets"], orders["notes"], strict=True)).get(a, "")))
    return out


def recovered_fills(fills: list[FillRecord], store: LiveStore, panel: BarPanel, t: int) -> list[FillBatch]:
    """Fills booked at recovery (made while qt was down) as fill rows of bar t, one batch per decision bar."""
    origins = _origins([f.client_order_id for f in fills if f.client_order_id], store, panel)
    rows: dict[int, list[tuple[int, FillRecord, str]]] = {}
    for fill in fills:
        if fill.client_order_id in origins:
            decided, a, note = origins[fill.client_order_id]
            rows.setdefault(decided, []).append((a, fill, note))
    batches = []
    for decided, r in rows.items():
        orders_ = OrderBatch(
            decided, np.array([a for a, _, _ in r], dtype=np.intp), np.array([f.quantity for _, f, _ in r])
        )
        batches.append(FillBatch(orders_, t, np.full(len(r), OrderStatus.FILLED.value), np.array([f.price for _, f, _ in r]),
                                 np.array([f.fees for _, f, _ in r]), np.array([n for _, _, n in r], dtype=object)))  # fmt: skip
    return batches


def restore_state(store: LiveStore, symbols: tuple[str, ...], capital: float) -> SessionState:
    """The session's book as the store has it: positions, cash, NAV's peak and last value, trading state."""
    state = SessionState.start(capital, len(symbols))
    index = {s: i for i, s in enumerate(symbols)}
    for symbol, quantity in store.positions().items():
        if symbol in index:
            state.ledger.positions[index[symbol]] = quantity
    state.ledger.cash = store.cash() if store.events(limit=1) else capital
    bars = store.events(kinds=[EventKind.BAR])
    navs = [float(e.payload["nav"]) for e in bars]
    if navs:
        state.peak, state.previous = max(capital, *navs), navs[-1]
        latest = bars[-1].payload  # NAV's peak (reset when a stop's halt ends) and the bar a halt ends at
        state.peak = float(latest.get("peak", state.peak))
        state.resume_at = None if latest.get("resume_at") is None else int(latest["resume_at"])
    state.trading = store.trading_state().state
    last = store.last_decision()
    if last is not None:
        state.last_target = np.asarray(last.payload["target"])
    return state


def write_live_outputs(
    folder: Path, store: LiveStore, panel: BarPanel, first: int, capital: float, started: float,
    *, stress: Any = None, engine_s: float | None = None,
) -> RunSummary:  # fmt: skip
    """The backtest's result files in ``folder``, rebuilt from what the store recorded.

    ``stress``: the run's risk.stress; ``engine_s``: seconds the live loop ran (this process's part).
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
    manifest = {"mode": "live", "store": store.meta().kind, "run_name": store.meta().run_name,
                "data_fingerprint": panel.fingerprint(),
                "timings": {"engine_s": round(engine_s or 0.0, 6), "total_s": round(time.perf_counter() - started, 6)}}  # fmt: skip
    write_run(folder, result, metrics, manifest, extra.files)
    return RunSummary(folder, metrics, dict(manifest["timings"]), result)  # type: ignore[arg-type]


def live_result(store: LiveStore, panel: BarPanel, first: int, capital: float) -> RunResult:
    """The recorded bars, decisions, fills and risk events as a RunResult over the bars traded live."""
    bars = store.events(kinds=[EventKind.BAR])
    if not bars:
        raise ConfigError("live.state_dir", "nothing recorded yet: no bar was processed")
    ts = [int(e.payload["t"]) for e in bars]
    lo, hi = ts[0], ts[-1] + 1
    view = BarPanel(panel.timestamps[lo:hi], panel.symbols, {f: a[lo:hi] for f, a in panel.fields.items()},
                    tz=panel.tz, name=panel.name)  # fmt: skip
    n = hi - lo
    series = {k: np.zeros(n) for k in ("nav", "cash", "gross", "net", "traded")}
    fills = []
    for e in bars:
        i = int(e.payload["t"]) - lo
        for k in series:
            series[k][i] = float(e.payload[k])
        fills += [_shift(batch_from_payload(b), lo) for b in e.payload.get("fills", [])]
    decisions = [
        Decision(int(e.payload["t"]) - lo, np.asarray(e.payload["before"]), np.asarray(e.payload["target"]),
                 _report(e.payload.get("report")), risk_from_payload(e.payload))
        for e in store.events(kinds=[EventKind.DECISION])
    ]  # fmt: skip
    events = [
        RiskEvent(int(p["t"]) - lo, p["kind"], p["detail"], float(p["scale"]), bool(p["halt"]))
        for p in (a.payload.get("risk_event") for a in store.alerts())
        if p
    ]
    nav = series["nav"]
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(nav > 0, 1.0 / nav, np.nan)
    start_nav = capital if lo == first else nav[0]
    return RunResult(view, start_nav, nav, series["cash"], series["gross"] * scale, series["net"] * scale,
                          series["traded"] * scale, decisions, fills, events)  # fmt: skip


def _report(p: dict[str, Any] | None) -> SolveReport | None:
    """A decision's solve report as recorded (status, solver, fallback steps)."""
    return None if p is None else SolveReport(str(p["status"]), str(p["solver"]), tuple(p.get("steps") or ()))


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
        err = exc.errors()[0]
        key = ".".join(["live", *map(str, err["loc"])])
        raise ConfigError(key, str(err["msg"])) from None


def _open_store(settings: LiveSettings, folder: Path, cfg: DictConfig) -> LiveStore:
    from pydantic import TypeAdapter, ValidationError

    raw = dict(settings.store)
    if raw.get("kind", "sqlite") != "sqlite":  # mode=live and broker=paper set SQLite's synchronous for everyone
        raw.pop("synchronous", None)
    try:
        store_settings: Any = TypeAdapter(StoreSettings).validate_python(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(".".join(["live.store", *map(str, err["loc"])]), str(err["msg"])) from None
    return open_from_settings(store_settings, state_dir=folder, run_name=settings.name)


def _synchronous(settings: LiveSettings) -> Any:
    return str(settings.store.get("synchronous", "NORMAL")).upper()


def _start_index(panel: BarPanel, start: str | None) -> int:
    if start is None:
        return 0
    i = int(np.searchsorted(panel.timestamps, np.datetime64(start, "us")))
    if i >= panel.n_bars:
        raise ConfigError("live.start", f"{start} is after the data's last bar ({panel.timestamps[-1]})")
    return i


def _resume_index(store: LiveStore, first: int) -> int:
    """The first bar not yet completed: after the last recorded bar, or ``first`` for a new state folder."""
    last = store.last_bar()
    if last is None:
        return first
    return int(last.payload["t"]) + 1


def _save_config(cfg: DictConfig, folder: Path) -> None:
    """The resolved config, secrets masked, beside the state (what `qt live` and `qt tearsheet` read)."""
    (folder / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(redacted(cfg))))
