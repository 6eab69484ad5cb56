"""``qt tearsheet RUN_DIR [RUN_DIR2 ...]``: re-render a finished run's tearsheet, or compare runs side by side.

A live state folder is set beside the backtest of its own config over its own bars, and the
tearsheet says what live cost (``--vs-backtest DIR`` picks another backtest; ``--no-vs-backtest``
skips it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

AUTO = "auto"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """RUN_DIR..., --out, --log-scale, --vs-backtest [DIR], --no-vs-backtest."""
    parser.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="a finished run's directory")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the HTML (default: RUN_DIR/tearsheet.html; for several runs ./comparison.html)",
    )
    parser.add_argument("--log-scale", action="store_true", help="start the equity chart on a log scale")
    parser.add_argument(
        "--vs-backtest",
        nargs="?",
        const=AUTO,
        default=None,
        metavar="DIR",
        help="say what live cost against a backtest: DIR, or (no DIR; the default for a live state folder) the "
        "backtest of the folder's config.yaml over its bars, run into RUN_DIR/backtest; numbers in live_cost.json",
    )
    parser.add_argument(
        "--no-vs-backtest", action="store_true", help="a live state folder's tearsheet without the backtest beside it"
    )


def run(args: argparse.Namespace) -> int:
    """Write the tearsheet (or the comparison) and print where it is."""
    from qt.evaluation.tearsheet import FILE, compare, write_tearsheet
    from qt.results.folder import read_manifest, require_full

    dirs: list[Path] = args.run_dirs
    for d in dirs:
        require_full(d, read_manifest(d))  # one clear line for a folder that is not a (full) run
    vs = getattr(args, "vs_backtest", None)
    if len(dirs) == 1 and args.out is None:
        backtest = _backtest_for(dirs[0], vs, skip=getattr(args, "no_vs_backtest", False))
        path = write_tearsheet(dirs[0], log_scale=args.log_scale, vs_backtest=backtest)
        if backtest is not None:
            _print_cost(dirs[0], backtest)
    elif len(dirs) == 1:
        path = compare(dirs, args.out, log_scale=args.log_scale)
    else:
        path = compare(dirs, args.out or Path("comparison.html"), log_scale=args.log_scale)
    print(f"tearsheet: {path}" if path.name == FILE else f"comparison: {path}")
    return 0


def _backtest_for(run_dir: Path, vs: str | None, *, skip: bool) -> Path | None:
    """The backtest folder to set ``run_dir`` beside (running it when needed), or None."""
    from qt.errors import ConfigError
    from qt.runs.live_backtest import is_live_folder, run_backtest_of_live

    if skip:
        if vs is not None:
            raise ConfigError("--no-vs-backtest", "cannot be given with --vs-backtest; choose one")
        return None
    if vs is None and not is_live_folder(run_dir):
        return None
    if vs is None or vs == AUTO:
        return run_backtest_of_live(run_dir)
    folder = Path(vs)
    if not folder.is_dir():
        raise ConfigError("--vs-backtest", f"{folder}: no such directory; pass a backtest's run folder")
    return folder


def _print_cost(run_dir: Path, backtest: Path) -> None:
    """The attribution in the terminal: one line per cause that moved NAV, then the total."""
    from rich.console import Console
    from rich.table import Table

    from qt.evaluation.live_cost import FILE, read_json

    data = read_json(run_dir / FILE)
    table = Table(title=f"what live cost - {run_dir} vs {backtest}, at {data['at']}")
    table.add_column("cause")
    table.add_column("orders", justify="right")
    table.add_column("live - backtest", justify="right")
    for line in data["lines"]:
        if line["value"] != 0.0 or line["key"] == "residual":
            table.add_row(line["label"], f"{line['orders']:,}", f"{line['value']:,.2f}")
    table.add_row("[b]total (live - backtest NAV)[/]", "", f"[b]{data['difference']:,.2f}[/]")
    Console().print(table)
