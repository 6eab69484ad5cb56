"""The leaderboard of a sweep: every run with its overrides, key metrics and directory, best first.

Failed runs are listed (after the ranked ones) with their error from ``error.json``; a run
that left neither results nor an error is listed as incomplete. Every finished run gets its
deflated Sharpe ratio (``dsr``, given all the sweep's finished runs as the trials) and the
sweep its probability of backtest overfitting (``qt.evaluation.sweep_overfitting``). Saved as
leaderboard.csv, leaderboard.parquet, leaderboard.html and overfitting.json in the sweep directory.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qt.errors import ConfigError, QtError

if TYPE_CHECKING:
    import pandas as pd

    from qt.evaluation.sweep_overfitting import SweepOverfitting

log = logging.getLogger("qt")
FILES = ("leaderboard.csv", "leaderboard.parquet", "leaderboard.html")
DSR = "dsr"  # the deflated Sharpe ratio's column
KEY_METRICS = (
    "total_return",
    "cagr",
    "ann_vol",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "annual_turnover",
    "n_trades",
)
RELATIVE_METRICS = ("alpha", "beta", "information_ratio")
PERCENT = {"total_return", "cagr", "ann_vol", "max_drawdown", "annual_turnover", "alpha"}
OK, FAILED, INCOMPLETE = "ok", "failed", "incomplete"


@dataclass(frozen=True)
class Leaderboard:
    """The ranked table, its ranking metric and the overrides' column names."""

    table: pd.DataFrame
    sort_by: str
    override_columns: list[str]
    ascending: bool = False
    overfitting: SweepOverfitting | None = None
    overfitting_note: str | None = None  # why there is no overfitting measure (fewer than 2 finished runs, ...)

    @property
    def n_failed(self) -> int:
        """Runs that failed or left no results."""
        return int((self.table["status"] != OK).sum())

    @property
    def best_run(self) -> str | None:
        """Name of the rank-1 run (None when no run finished)."""
        done = self.table[self.table["status"] == OK]
        return str(done["run"].iloc[0]) if len(done) else None

    def verdict(self) -> str:
        """The one-line overfitting verdict (or why there is none)."""
        if self.overfitting is None:
            return f"overfitting: not measured ({self.overfitting_note})"
        return self.overfitting.verdict(self.best_run)

    def top(self, n: int) -> list[Path]:
        """Directories of the best ``n`` finished runs."""
        done = self.table[self.table["status"] == OK]
        return [Path(p) for p in done["run_dir"].head(n)]


def run_dirs(sweep_dir: Path) -> list[Path]:
    """The run directories of a sweep (those holding .hydra/overrides.yaml), in job order."""
    found = [p.parent.parent for p in sweep_dir.glob("*/.hydra/overrides.yaml")]
    return sorted(found, key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))


def collect(sweep_dir: Path, *, sort_by: str = "sharpe", ascending: bool = False) -> Leaderboard:
    """Read every run of ``sweep_dir`` and rank the finished ones by ``sort_by`` (any metric of the runs)."""
    import pandas as pd

    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise QtError(f"{sweep_dir}: no such directory; pass a sweep directory such as outputs/multirun/DATE/TIME")
    dirs = run_dirs(sweep_dir)
    if not dirs:
        raise QtError(f"{sweep_dir}: no runs found (no */.hydra/overrides.yaml); is this a sweep directory?")
    rows, override_cols = [], []
    for run_dir in dirs:
        overrides = _overrides(run_dir)
        for k in overrides:
            if k not in override_cols:
                override_cols.append(k)
        rows.append({"run": run_dir.name, **overrides, **_outcome(run_dir, sort_by), "run_dir": str(run_dir)})
    table = pd.DataFrame(rows)
    metrics = [m for m in (*KEY_METRICS, *RELATIVE_METRICS) if m in table.columns]
    if sort_by in table.columns and sort_by not in metrics and sort_by not in override_cols:
        metrics.insert(0, sort_by)
    ok = table["status"] == OK
    if ok.any() and sort_by not in table.columns:
        candidates = ", ".join(metrics)
        raise ConfigError("report.sort_by", f"'{sort_by}' is not a metric of these runs; choose one of: {candidates}")
    ranked = table[ok]
    if sort_by in table.columns:
        ranked = ranked.sort_values(sort_by, ascending=ascending, na_position="last", kind="stable")
    table = pd.concat([ranked, table[~ok]], ignore_index=True)
    table.insert(0, "rank", [i + 1 if s == OK else None for i, s in enumerate(table["status"])])
    table["rank"] = table["rank"].astype("Int64")
    overfitting, note = _overfitting(table, sweep_dir)
    if overfitting is not None:
        table[DSR] = [overfitting.dsr.get(str(r), float("nan")) for r in table["run"]]
        metrics.append(DSR)
    columns = ["rank", "run", *override_cols, "status", *metrics, "error", "run_dir"]
    for col in columns:
        if col not in table.columns:
            table[col] = None
    return Leaderboard(table[columns], sort_by, override_cols, ascending, overfitting, note)


def _overfitting(table: pd.DataFrame, sweep_dir: Path) -> tuple[SweepOverfitting | None, str | None]:
    """DSR and PBO over the finished runs' equity.parquet; never fails the leaderboard (the reason is kept).

    An Optuna study's completed trials count as the configurations tried (other processes' included).
    """
    from qt.evaluation.sweep_overfitting import study_trials, sweep_overfitting

    done = table[table["status"] == OK]
    runs = {str(r): Path(d) for r, d in zip(done["run"], done["run_dir"], strict=True)}
    if len(runs) < 2:
        return None, f"{len(runs)} finished run(s); it takes 2 or more"
    try:
        result = sweep_overfitting(runs, n_trials=study_trials(sweep_dir))
    except (QtError, OSError, ValueError, KeyError) as exc:
        log.warning("overfitting not measured: %s", exc)
        return None, str(exc)
    if result is None:
        return None, "fewer than 2 finished runs kept equity.parquet"
    return result, None


def _overrides(run_dir: Path) -> dict[str, str]:
    """``key=value`` overrides of one run, hydra.* ones left out."""
    from omegaconf import OmegaConf

    items = OmegaConf.to_container(OmegaConf.load(run_dir / ".hydra" / "overrides.yaml"))
    out: dict[str, str] = {}
    for item in items if isinstance(items, list) else []:
        key, _, value = str(item).partition("=")
        key = key.lstrip("+~")
        if not key.startswith(("hydra.", "hydra/")):
            out[key] = value
    return out


def _outcome(run_dir: Path, extra: str = "") -> dict[str, Any]:
    """Status, the metrics (metrics.json + performance.json's summary, and ``extra`` if either has it) or the error."""
    error = run_dir / "error.json"
    if error.is_file():
        try:
            message = json.loads(error.read_text()).get("error", "unknown error")
        except json.JSONDecodeError:
            message = error.read_text()[:500]
        return {"status": FAILED, "error": message}
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.is_file():
        return {"status": INCOMPLETE, "error": "no results and no error.json (the run was interrupted?)"}
    values: dict[str, Any] = json.loads(metrics_path.read_text())
    perf = run_dir / "performance.json"
    if perf.is_file():
        summary = json.loads(perf.read_text()).get("summary", {})
        values.update({k: summary[k] for k in (*RELATIVE_METRICS, extra) if k in summary and k not in values})
    out: dict[str, Any] = {"status": OK, "error": None}
    numeric = extra in values and (values[extra] is None or isinstance(values[extra], int | float))
    wanted = (*KEY_METRICS, *RELATIVE_METRICS, *((extra,) if numeric else ()))
    for key in wanted:
        if key in values:
            v = values[key]
            out[key] = float("nan") if v is None else v
    return out


def write(board: Leaderboard, sweep_dir: Path) -> list[Path]:
    """Write leaderboard.csv, .parquet and .html into ``sweep_dir`` (all or none)."""
    from qt.config.jsonsafe import write_json
    from qt.evaluation.sweep_overfitting import FILE
    from qt.evaluation.tearsheet import text_writer
    from qt.results.writer import write_atomically

    table = board.table
    html = render_html(board, sweep_dir)
    writers = {
        "leaderboard.csv": lambda p: table.to_csv(p, index=False),
        "leaderboard.parquet": lambda p: table.to_parquet(p, index=False),
        "leaderboard.html": text_writer(html),
    }
    if board.overfitting is not None:
        summary = board.overfitting.as_dict(board.best_run)
        writers[FILE] = lambda p: write_json(summary, p)
    elif (sweep_dir / FILE).exists():  # a rebuilt leaderboard with no measure leaves no stale one
        (sweep_dir / FILE).unlink()
    write_atomically(sweep_dir, writers)
    return [sweep_dir / f for f in FILES]


def formatted_rows(board: Leaderboard, *, with_dir: bool = False) -> list[dict[str, str]]:
    """The table as display strings (percentages, 2 decimals, blanks for missing)."""
    rows = []
    for rec in board.table.to_dict("records"):
        row = {}
        for col, value in rec.items():
            if col == "run_dir" and not with_dir:
                continue
            row[str(col)] = _fmt(str(col), value)
        rows.append(row)
    return rows


def _fmt(col: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    try:
        import pandas as pd

        if value is pd.NA:
            return ""
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    if isinstance(value, float):
        if col in PERCENT:
            return f"{value:.2%}"
        return f"{value:.0f}" if col == "n_trades" else f"{value:.3f}"
    return str(value)


CONSOLE_METRICS = ("sharpe", "cagr", "max_drawdown", "n_trades")
CONSOLE_HEADERS = {"max_drawdown": "max_dd", "n_trades": "trades", "total_return": "return"}


def varying(board: Leaderboard) -> list[str]:
    """The override columns whose value differs between runs (the swept parameters)."""
    frame = board.table
    return [c for c in board.override_columns if frame[c].astype(str).nunique() > 1]


def fixed_overrides(board: Leaderboard) -> list[str]:
    """``key=value`` of the overrides every run shares."""
    moving = set(varying(board))
    first = board.table.iloc[0] if len(board.table) else {}
    return [f"{c}={first[c]}" for c in board.override_columns if c not in moving]


def print_table(board: Leaderboard, sweep_dir: Path, *, console: Any = None) -> None:
    """The ranked table on the console, readable at 80 columns: swept values, a few metrics, errors below it."""
    from rich.console import Console
    from rich.table import Table

    frame = board.table
    swept = varying(board)[:3]
    metrics = [m for m in CONSOLE_METRICS if m in frame.columns and frame[m].notna().any()]
    if board.sort_by in frame.columns and board.sort_by not in metrics:
        metrics = [board.sort_by, *metrics[:3]]
    console = console or Console()
    table = Table(title=f"leaderboard - {len(frame)} runs ranked by {board.sort_by}", padding=(0, 1))
    table.add_column("#", justify="right")
    table.add_column("run", justify="left")
    for col in swept:
        table.add_column(col.rsplit(".", 1)[-1], justify="left", overflow="fold", max_width=16)
    for m in metrics:
        table.add_column(CONSOLE_HEADERS.get(m, m), justify="right", no_wrap=True)
    failures = []
    for row in formatted_rows(board):
        ok = row["status"] == OK
        cells = [row["rank"] or "-", row["run"], *(_short(row[c]) for c in swept)]
        cells += [row[m] for m in metrics] if ok else [row["status"], *[""] * (len(metrics) - 1)]
        table.add_row(*cells, style=None if ok else "red")
        if not ok:
            failures.append(f"run {row['run']}: {row['error']}")
    console.print(table)
    for line in failures:
        console.print(line if len(line) <= 2 * console.width else line[: 2 * console.width - 3] + "...", style="red")
    console.print(board.verdict())
    console.print(f"leaderboard: {sweep_dir / 'leaderboard.html'} (and .csv, .parquet)", soft_wrap=True)


def _short(value: str) -> str:
    """A swept value for the console: long floats to 4 significant digits."""
    try:
        number = float(value)
    except ValueError:
        return value
    return value if len(value) <= 8 or not math.isfinite(number) else f"{number:.4g}"


def render_html(board: Leaderboard, sweep_dir: Path) -> str:
    """A self-contained HTML page: sortable table with tearsheet links, heatmap, Optuna history and importances."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    from qt.evaluation.sweep_charts import heatmap_section, optuna_sections

    env = Environment(loader=PackageLoader("qt.evaluation", "templates"), autoescape=select_autoescape(["html", "j2"]))
    swept = varying(board)
    rows: list[dict[str, Any]] = list(formatted_rows(board, with_dir=True))
    for row, rec in zip(rows, board.table.to_dict("records"), strict=True):
        run_dir = Path(row["run_dir"])
        linked = run_dir.parent == Path(sweep_dir) and (run_dir / "tearsheet.html").is_file()
        row["_link"] = f"{run_dir.name}/tearsheet.html" if linked else ""
        row["_raw"] = {c: _sort_key(rec.get(c)) for c in rec}
        row["_short"] = {c: _short(row[c]) for c in swept}
    metrics = [
        c
        for c in board.table.columns
        if c not in ("rank", "run", "status", "error", "run_dir", *board.override_columns)
    ]
    return env.get_template("leaderboard.html.j2").render(
        sweep_dir=str(sweep_dir),
        sort_by=board.sort_by,
        swept=swept,
        metrics=metrics,
        fixed=fixed_overrides(board),
        rows=rows,
        n_failed=board.n_failed,
        heatmap=heatmap_section(board.table, swept, board.sort_by, board.ascending),
        optuna=optuna_sections(Path(sweep_dir)),
        overfitting=board.overfitting.as_dict(board.best_run) if board.overfitting is not None else None,
        overfitting_note=board.overfitting_note,
    )


def _sort_key(value: Any) -> str:
    """The raw value for the page's column sort (numbers as numbers, blanks last)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    try:
        import pandas as pd

        if value is pd.NA:
            return ""
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return str(value)


def build(sweep_dir: Path, *, sort_by: str, ascending: bool, top_n: int, log_scale: bool = False) -> Leaderboard:
    """Collect, write the three files, write the top runs' tearsheets; falls back to Sharpe on a bad sort_by."""
    try:
        board = collect(sweep_dir, sort_by=sort_by, ascending=ascending)
    except ConfigError as exc:
        log.error("%s; ranking by sharpe instead", exc)
        board = collect(sweep_dir, sort_by="sharpe", ascending=False)
    write_top_tearsheets(board, top_n, log_scale=log_scale)
    write(board, sweep_dir)
    return board


def write_top_tearsheets(
    board: Leaderboard,
    top_n: int,
    *,
    log_scale: bool = False,
    strict: bool = False,
    draw: Callable[[Path], object] | None = None,
) -> None:
    """Tearsheets of the best ``top_n`` runs, drawn by ``draw`` (default: ``write_tearsheet``).

    ``qt sweep-report`` passes a ``draw`` that first makes a lean run full (``qt rerun RUN --full``).
    A run whose tearsheet cannot be drawn is logged and skipped, or raises when ``strict``.
    """
    from qt.evaluation.tearsheet import write_tearsheet

    for run_dir in board.top(top_n):
        try:
            if draw is not None:
                draw(run_dir)
            else:
                write_tearsheet(run_dir, log_scale=log_scale)
        except Exception as exc:  # the page links the tearsheets that exist
            if strict:
                raise
            reason = str(exc) if isinstance(exc, QtError) else f"{type(exc).__name__}: {exc}"
            log.error("tearsheet of %s: %s", run_dir, reason)
