"""``qt sweep-report SWEEP_DIR``: rebuild the leaderboard of a finished sweep (and its top runs' tearsheets)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """SWEEP_DIR, --sort-by, --ascending, --top."""
    parser.add_argument(
        "sweep_dir", type=Path, metavar="SWEEP_DIR", help="a sweep directory, outputs/multirun/DATE/TIME"
    )
    parser.add_argument("--sort-by", default="sharpe", help="the ranking metric (default: sharpe)")
    parser.add_argument("--ascending", action="store_true", help="smaller is better (e.g. for max_drawdown magnitude)")
    parser.add_argument("--top", type=int, default=3, help="write tearsheets of the best TOP runs (default 3; 0: none)")


def run(args: argparse.Namespace) -> int:
    """Collect, rank, write leaderboard.csv/.parquet/.html and print the table; exit 2 on a bad directory or metric."""
    from qt.errors import ConfigError, QtError
    from qt.evaluation.leaderboard import collect, print_table, write, write_top_tearsheets

    if args.top < 0:
        raise QtError(f"--top must be >= 0, got {args.top}")
    try:
        board = collect(args.sweep_dir, sort_by=args.sort_by, ascending=args.ascending)
    except ConfigError as exc:
        raise QtError(str(exc).replace("report.sort_by", "--sort-by")) from None
    write_top_tearsheets(board, args.top, strict=True, draw=_draw)
    write(board, args.sweep_dir)
    print_table(board, args.sweep_dir)
    return 0


def _draw(run_dir: Path) -> None:
    """A top run's tearsheet; a lean sweep run gets its full files first (as ``qt rerun RUN --full``)."""
    from qt.evaluation.tearsheet import write_tearsheet
    from qt.sweeps.materialize import is_lean, rerun_full

    if is_lean(run_dir):
        rerun_full(run_dir)  # runs it again (deterministic) and draws its tearsheet
    else:
        write_tearsheet(run_dir)
