"""The leaderboard of a sweep: every run with its overrides, key metrics and directory, best first.

Failed runs are listed (after the ranked ones) with their error from ``error.json``; a run
that left neither results nor an error is listed as incomplete. Saved as
leaderboard.csv, leaderboard.parquet and leaderboard.html in the sweep directory.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qt.errors import ConfigError, QtError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("qt")
FILES = ("leaderboard.csv", "leaderboard.parquet", "leaderboard.html")
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

    @property
    def n_failed(self) -> int:
        """Runs that failed or left no results."""
        return int((self.table["status"] != OK).sum())

    def top(self, n: int) -> list[Path]:
        """Directories of the best ``n`` finished runs."""
        done = self.table[self.table["status"] == OK]
        return [Path(p) for p in done["run_dir"].head(n)]


def run_dirs(sweep_dir: Path) -> list[Path]:
    """The run directories of a sweep (those holding .hydra/overrides.yaml), in job order."""
    found = [p.parent.parent for p in sweep_dir.glob("*/.hydra/overrides.yaml")]
    return sorted(found, key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))


def collect(sweep_dir: Path, *, sort_by: str = "sharpe", ascending: bool = False) -> Leaderboard:
    """Read every run of ``sweep_dir`` and rank the finished ones by ``sort_by``."""
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
        rows.append({"run": run_dir.name, **overrides, **_outcome(run_dir), "run_dir": str(run_dir)})
    table = pd.DataFrame(rows)
    metrics = [m for m in (*KEY_METRICS, *RELATIVE_METRICS) if m in table.columns]
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
    columns = ["rank", "run", *override_cols, "status", *metrics, "error", "run_dir"]
    for col in columns:
        if col not in table.columns:
            table[col] = None
    return Leaderboard(table[columns], sort_by, override_cols)


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


def _outcome(run_dir: Path) -> dict[str, Any]:
    """Status, the metrics (metrics.json + performance.json's summary) or the error."""
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
        values.update({k: summary[k] for k in RELATIVE_METRICS if k in summary})
    out: dict[str, Any] = {"status": OK, "error": None}
    for key in (*KEY_METRICS, *RELATIVE_METRICS):
        if key in values:
            v = values[key]
            out[key] = float("nan") if v is None else v
    return out


def write(board: Leaderboard, sweep_dir: Path) -> list[Path]:
    """Write leaderboard.csv, .parquet and .html into ``sweep_dir`` (all or none)."""
    from qt.backtest.outputs import write_atomically
    from qt.evaluation.tearsheet import text_writer

    table = board.table
    html = render_html(board, sweep_dir)
    write_atomically(
        sweep_dir,
        {
            "leaderboard.csv": lambda p: table.to_csv(p, index=False),
            "leaderboard.parquet": lambda p: table.to_parquet(p, index=False),
            "leaderboard.html": text_writer(html),
        },
    )
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


CONSOLE_METRICS = ("sharpe", "cagr", "ann_vol", "max_drawdown", "calmar", "n_trades", "alpha", "beta")


def print_table(board: Leaderboard, sweep_dir: Path) -> None:
    """The ranked table on the console (rich): overrides that vary, the main metrics, errors shortened."""
    from rich.console import Console
    from rich.table import Table

    frame = board.table
    varying = [c for c in board.override_columns if frame[c].astype(str).nunique() > 1] or board.override_columns[:3]
    metrics = [m for m in CONSOLE_METRICS if m in frame.columns and frame[m].notna().any()]
    if board.sort_by in frame.columns and board.sort_by not in metrics:
        metrics.insert(0, board.sort_by)
    table = Table(title=f"leaderboard - {len(frame)} runs ranked by {board.sort_by}")
    for col in ("rank", "run", *varying, *metrics, "error"):
        table.add_column(
            col.rsplit(".", 1)[-1] if col in varying else col,
            justify="left" if col in ("run", "error", *varying) else "right",
            overflow="fold",
        )
    for row in formatted_rows(board):
        error = row.get("error", "")
        cells = [row["rank"], row["run"], *(row[c] for c in varying), *(row[m] for m in metrics)]
        table.add_row(
            *cells, error[:120] + ("..." if len(error) > 120 else ""), style=None if row["status"] == OK else "red"
        )
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)
    console.print(table)
    console.print(f"leaderboard: {sweep_dir / 'leaderboard.html'} (and .csv, .parquet)", soft_wrap=True)


def render_html(board: Leaderboard, sweep_dir: Path) -> str:
    """A self-contained HTML page of the leaderboard, linking each run's tearsheet when it has one."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("qt.evaluation", "templates"), autoescape=select_autoescape(["html", "j2"]))
    rows = formatted_rows(board, with_dir=True)
    for row in rows:
        run_dir = Path(row["run_dir"])
        linked = run_dir.parent == Path(sweep_dir) and (run_dir / "tearsheet.html").is_file()
        row["_link"] = f"{run_dir.name}/tearsheet.html" if linked else ""
    columns = [c for c in (rows[0] if rows else {}) if not c.startswith("_")]
    return env.get_template("leaderboard.html.j2").render(
        sweep_dir=str(sweep_dir), sort_by=board.sort_by, columns=columns, rows=rows, n_failed=board.n_failed
    )


def build(sweep_dir: Path, *, sort_by: str, ascending: bool, top_n: int, log_scale: bool = False) -> Leaderboard:
    """Collect, write the three files, write the top runs' tearsheets; falls back to Sharpe on a bad sort_by."""
    from qt.evaluation.tearsheet import write_tearsheet

    try:
        board = collect(sweep_dir, sort_by=sort_by, ascending=ascending)
    except ConfigError as exc:
        log.error("%s; ranking by sharpe instead", exc)
        board = collect(sweep_dir, sort_by="sharpe", ascending=False)
    for run_dir in board.top(top_n):
        try:
            write_tearsheet(run_dir, log_scale=log_scale)
        except QtError as exc:
            log.error("tearsheet of %s: %s", run_dir, exc)
    write(board, sweep_dir)
    return board
