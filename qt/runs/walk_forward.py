"""Walk-forward validation: choose parameters on each train window, trade them on the next test window.

Every configuration of the grid is backtested once over the full history (signals are
causal, so its returns inside a train window are what it would have earned there); in
each train window the configuration with the best objective is chosen; one book then
trades the test windows in turn, each with its chosen configuration (see
``qt.validation.stitch``). The run directory gets the stitched out-of-sample run's usual
files (equity, weights, orders, fills, metrics) plus walk_forward.json and
walk_forward.parquet (every configuration's in- and out-of-sample objective per window).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf, open_dict

from qt.backtest.engine import BacktestEngine
from qt.data.panel import BarPanel
from qt.engine.components import Components, build_components
from qt.errors import ConfigError, QtError
from qt.evaluation.headline import headline
from qt.results.result import RunResult
from qt.results.writer import write_atomically, write_json, write_run
from qt.runs.backtest import RunSummary, _Clock, _manifest
from qt.validation.overfitting import deflated_sharpe_of, probability_of_overfitting, sharpe_per_bar
from qt.validation.search import optuna_choose, parse_space
from qt.validation.settings import Direction, Search, WalkForwardSettings, label
from qt.validation.stitch import WindowedPortfolio, WindowedStrategy
from qt.validation.windows import Window, walk_forward_windows

log = logging.getLogger("qt")
REPORT_FILE = "walk_forward.json"
TABLE_FILE = "walk_forward.parquet"


@dataclass(frozen=True)
class Trial:
    """One configuration of the grid, backtested over the full history."""

    point: dict[str, Any]
    cfg: DictConfig
    scores: np.ndarray
    result: RunResult


def run_walk_forward(
    cfg: DictConfig,
    run_dir: Path,
    *,
    check_panel: Callable[[BarPanel], object] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Run the walk-forward ``cfg.validation`` describes and write its results into ``run_dir``."""
    clock = _Clock()
    settings = WalkForwardSettings.parse(_plain(cfg.validation))
    _check_objective(settings.objective)
    points = settings.points() if settings.search is Search.GRID else []
    configs = [with_point(cfg, p) for p in points]
    space = parse_space(settings.space or {}) if settings.search is Search.OPTUNA else {}
    base = build_components(cfg)
    for c in configs:  # every configuration is valid before any data loads
        build_components(c)
    panel = base.load_panel(check_panel)
    train, test, embargo = settings.durations()
    windows = walk_forward_windows(
        panel.timestamps, train=train, test=test, scheme=settings.scheme, embargo=embargo, purge=settings.purge
    )
    clock.lap("load_s")
    if settings.search is Search.GRID:
        trials = run_trials(configs, points, panel)
        table = objective_table(trials, windows, settings.objective)
        chosen = choose(table, settings.direction)
        tried = [list(range(len(trials)))] * len(windows)
    else:
        trials, chosen, tried = optuna_trials(cfg, settings, space, windows, panel, seed=base.settings.seed)
        table = objective_table(trials, windows, settings.objective)
    clock.lap("trials_s")
    full = out_of_sample(cfg, [trials[c] for c in chosen], windows, panel)
    result = from_bar(full, windows[0].test_start)
    clock.lap("out_of_sample_s")
    report = summarize(settings, trials, windows, table, chosen, full)
    for row, configs_tried in zip(report["windows"], tried, strict=True):
        row["tried"] = configs_tried
    metrics = dict(report["out_of_sample"])
    metrics.update(
        {
            "deflated_sharpe": report["deflated_sharpe"]["dsr"],
            "pbo": (report["pbo"] or {}).get("pbo"),
            f"in_sample_{settings.objective}": report["in_sample"][settings.objective],
            "n_windows": len(windows),
            "n_configs": len(trials),
        }
    )
    manifest = _manifest(cfg, panel.fingerprint(), base.settings.seed, clock.timings)
    write_run(run_dir, result, metrics, manifest, {REPORT_FILE: report})
    write_atomically(run_dir, {TABLE_FILE: lambda p: _write_table(trials, windows, table, chosen, p)})
    clock.lap("outputs_s")
    clock.timings["total_s"] = round(sum(clock.timings.values()), 6)
    clock.timings["engine_s"] = round(clock.timings["trials_s"] + clock.timings["out_of_sample_s"], 6)
    manifest["timings"] = clock.timings
    write_atomically(run_dir, {"manifest.json": lambda path: write_json(manifest, path)})
    log.info("walk-forward: %d windows x %d configurations; chosen %s", len(windows), len(trials), chosen)
    return RunSummary(run_dir, metrics, clock.timings, result)


def with_point(cfg: DictConfig, point: dict[str, Any]) -> DictConfig:
    """A copy of ``cfg`` with each ``key: value`` of ``point`` set (and no ``validation`` node)."""
    out = copy.deepcopy(cfg)
    with open_dict(out):
        out.pop("validation", None)
        for key, value in point.items():
            if OmegaConf.select(out, key, default="__missing__") == "__missing__":
                raise ConfigError(f"validation.grid.{key}", "is not a key of the composed config")
            OmegaConf.update(out, key, value, merge=False)
    return out


def run_trials(configs: list[DictConfig], points: list[dict[str, Any]], panel: BarPanel) -> list[Trial]:
    """Backtest every configuration over the full history (signals through the run's signal cache)."""
    from qt.features.cache import cache_from_config, using_cache

    trials = []
    for c, p in zip(configs, points, strict=True):
        parts = build_components(c)
        with using_cache(cache_from_config(c)):
            scores = parts.strategy.scores(panel)
        trials.append(Trial(p, c, scores, BacktestEngine.from_components(parts).run(panel, scores)))
    return trials


def optuna_trials(
    cfg: DictConfig,
    settings: WalkForwardSettings,
    space: dict[str, Any],
    windows: list[Window],
    panel: BarPanel,
    *,
    seed: int,
) -> tuple[list[Trial], list[int], list[list[int]]]:
    """An Optuna study per train window: every configuration tried, each window's choice and the ones it tried."""
    trials: list[Trial] = []
    seen: dict[str, int] = {}

    def trial_of(point: dict[str, Any]) -> int:
        key = repr(sorted(point.items()))
        if key not in seen:
            seen[key] = len(trials)
            trials.extend(run_trials([with_point(cfg, point)], [point], panel))
        return seen[key]

    def score(point: dict[str, Any], w: Window) -> float:
        return float(window_metrics(trials[trial_of(point)].result, w.train_start, w.train_end)[settings.objective])

    best = optuna_choose(
        space=space,
        windows=windows,
        score=score,
        n_trials=settings.n_trials,
        maximize=settings.direction is Direction.MAXIMIZE,
        seed=seed,
    )
    return trials, [trial_of(p) for p, _ in best], [sorted({trial_of(p) for p in tried}) for _, tried in best]


def window_metrics(result: RunResult, start: int, end: int) -> dict[str, float | int]:
    """Headline metrics of ``result`` over bars [start, end), against the NAV just before ``start``."""
    capital = float(result.nav[start - 1]) if start > 0 else result.capital
    n_decisions = sum(1 for d in result.decisions if start <= d.t < end)
    n_trades = sum(int(f.filled.sum()) for f in result.fills if start <= f.filled_at < end)
    return headline(
        nav=result.nav[start:end],
        capital=capital,
        timestamps=result.panel.timestamps[start:end],
        turnover=result.turnover[start:end],
        n_decisions=n_decisions,
        n_trades=n_trades,
    )


def objective_table(trials: list[Trial], windows: list[Window], objective: str) -> np.ndarray:
    """[windows x configurations x 2]: the objective on each train window (0) and test window (1)."""
    out = np.full((len(windows), len(trials), 2), np.nan)
    for i, w in enumerate(windows):
        for j, trial in enumerate(trials):
            out[i, j, 0] = window_metrics(trial.result, w.train_start, w.train_end)[objective]
            out[i, j, 1] = window_metrics(trial.result, w.test_start, w.test_end)[objective]
    return out


def choose(table: np.ndarray, direction: Direction) -> list[int]:
    """Per window, the configuration with the best train objective (the first on ties; NaN never wins)."""
    sign = 1.0 if direction is Direction.MAXIMIZE else -1.0
    scored = np.where(np.isfinite(table[:, :, 0]), sign * table[:, :, 0], -np.inf)
    return [int(np.argmax(row)) for row in scored]


def out_of_sample(cfg: DictConfig, chosen: list[Trial], windows: list[Window], panel: BarPanel) -> RunResult:
    """One book through the test windows, each traded with its chosen configuration (over the full panel).

    Carrying the book across windows is this one call: one run of the engine whose strategy
    and portfolio switch at each window's first bar.
    """
    fresh = [build_components(t.cfg) for t in chosen]  # no state left over from the full-history runs
    strategy = WindowedStrategy(strategies=[p.strategy for p in fresh], windows=windows)
    portfolio = WindowedPortfolio(portfolios=[p.portfolio for p in fresh], owner=strategy)
    base: Components = build_components(cfg)
    engine = BacktestEngine.from_components(dataclasses.replace(base, strategy=strategy, portfolio=portfolio))  # type: ignore[arg-type]
    return engine.run(panel, strategy.stitch([t.scores for t in chosen]))


def from_bar(result: RunResult, start: int) -> RunResult:
    """``result`` restricted to bars >= ``start`` (no decision or fill happened before it), bars renumbered."""
    if any(d.t < start for d in result.decisions) or any(f.filled_at < start for f in result.fills):
        raise ValueError(f"a decision or fill happened before bar {start}")
    p = result.panel
    panel = BarPanel(p.timestamps[start:], p.symbols, {f: a[start:] for f, a in p.fields.items()}, tz=p.tz, name=p.name)
    capital = float(result.nav[start - 1]) if start > 0 else result.capital
    per_bar = {
        f.name: getattr(result, f.name)[start:]
        for f in dataclasses.fields(result)
        if isinstance(getattr(result, f.name), np.ndarray) and len(getattr(result, f.name)) == p.n_bars
    }  # nav, cash, exposures, turnover, and any per-bar series the engine adds
    return dataclasses.replace(
        result,
        panel=panel,
        capital=capital,
        decisions=[dataclasses.replace(d, t=d.t - start) for d in result.decisions],
        fills=[
            dataclasses.replace(
                f,
                filled_at=f.filled_at - start,
                orders=dataclasses.replace(f.orders, decided_at=f.orders.decided_at - start),
            )
            for f in result.fills
        ],
        events=[dataclasses.replace(e, t=e.t - start) for e in result.events],
        **per_bar,
    )


def summarize(
    settings: WalkForwardSettings,
    trials: list[Trial],
    windows: list[Window],
    table: np.ndarray,
    chosen: list[int],
    full: RunResult,
) -> dict[str, Any]:
    """walk_forward.json: settings, windows with their chosen parameters, in- vs out-of-sample, DSR, PBO.

    ``full`` is the stitched run over the whole panel (flat before the first test bar).
    """
    stamps = trials[0].result.panel.timestamps
    first = windows[0].test_start
    oos = window_metrics(full, first, len(stamps))
    in_sample = [
        window_metrics(trials[c].result, w.train_start, w.train_end) for w, c in zip(windows, chosen, strict=True)
    ]
    rows = []
    for i, (w, c) in enumerate(zip(windows, chosen, strict=True)):
        test_metrics = window_metrics(full, w.test_start, w.test_end)
        rows.append(
            {
                "window": w.index,
                "train": [_day(stamps[w.train_start]), _day(stamps[w.train_end - 1])],
                "test": [_day(stamps[w.test_start]), _day(stamps[w.test_end - 1])],
                "train_bars": w.train_end - w.train_start,
                "gap_bars": w.test_start - w.train_end,
                "test_bars": w.test_end - w.test_start,
                "config": c,
                "params": trials[c].point,
                f"in_sample_{settings.objective}": float(table[i, c, 0]),
                "in_sample": in_sample[i],
                "out_of_sample": test_metrics,
            }
        )
    oos_returns = full.returns[first:]
    trial_sharpes = np.array([sharpe_per_bar(t.result.returns[first:]) for t in trials])
    dsr = deflated_sharpe_of(oos_returns, trial_sharpes)
    pbo = None
    if len(trials) > 1:
        matrix = np.column_stack([t.result.returns for t in trials])
        live = max(_first_trade(t.result) for t in trials)
        try:
            pbo = probability_of_overfitting(matrix[live:], partitions=settings.pbo_partitions).as_dict()
        except QtError as exc:  # too few bars for S blocks: say so instead of failing the run
            pbo = {"pbo": None, "error": str(exc)}
            log.warning("PBO not computed: %s (lower validation.pbo_partitions)", exc)
    return {
        "settings": settings.model_dump(mode="json"),
        "configs": [{"config": j, "label": label(t.point), "params": t.point} for j, t in enumerate(trials)],
        "windows": rows,
        "in_sample": {k: float(np.nanmean([m[k] for m in in_sample])) for k in in_sample[0]},
        "out_of_sample": oos,
        "deflated_sharpe": dsr.as_dict(),
        "pbo": pbo,
    }


def _first_trade(result: RunResult) -> int:
    """First bar with any turnover (the configuration is invested from there), 0 if it never trades."""
    traded = np.flatnonzero(np.nan_to_num(result.turnover) > 0)
    return int(traded[0]) if traded.size else 0


def _write_table(trials: list[Trial], windows: list[Window], table: np.ndarray, chosen: list[int], path: Path) -> None:
    """walk_forward.parquet: one row per window and configuration."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    stamps = trials[0].result.panel.timestamps
    rows: dict[str, list[Any]] = {k: [] for k in ("window", "config", "label", "train_start", "test_start")}
    rows.update({"test_end": [], "in_sample": [], "out_of_sample": [], "chosen": []})
    for i, w in enumerate(windows):
        for j, t in enumerate(trials):
            rows["window"].append(w.index)
            rows["config"].append(j)
            rows["label"].append(label(t.point))
            rows["train_start"].append(stamps[w.train_start])
            rows["test_start"].append(stamps[w.test_start])
            rows["test_end"].append(stamps[w.test_end - 1])
            rows["in_sample"].append(float(table[i, j, 0]))
            rows["out_of_sample"].append(float(table[i, j, 1]))
            rows["chosen"].append(chosen[i] == j)
    ts = pa.timestamp("us")
    columns = {
        k: pa.array(v, type=ts) if k in ("train_start", "test_start", "test_end") else v for k, v in rows.items()
    }
    pq.write_table(pa.table(columns), path, compression="zstd")


def _check_objective(objective: str) -> None:
    """The objective must be a headline metric (checked before any data loads)."""
    stamps = np.array(["2024-01-01", "2024-01-02", "2024-01-03"], dtype="datetime64[us]")
    known = headline(nav=np.ones(3), capital=1.0, timestamps=stamps, turnover=np.zeros(3), n_decisions=0, n_trades=0)
    if objective not in known:
        raise ConfigError("validation.objective", f"unknown metric {objective!r}; choose one of {', '.join(known)}")


def _day(stamp: np.datetime64) -> str:
    return str(np.datetime_as_string(stamp, unit="D"))


def _plain(node: Any) -> dict[str, Any]:
    out = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})
    return {str(k): v for k, v in out.items()} if isinstance(out, dict) else {}
