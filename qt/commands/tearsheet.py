"""``qt tearsheet RUN_DIR [RUN_DIR2 ...]``: re-render a finished run's tearsheet, or compare runs side by side."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """RUN_DIR..., --out, --log-scale."""
    parser.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="a finished run's directory")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the HTML (default: RUN_DIR/tearsheet.html; for several runs ./comparison.html)",
    )
    parser.add_argument("--log-scale", action="store_true", help="start the equity chart on a log scale")


def run(args: argparse.Namespace) -> int:
    """Write the tearsheet (or the comparison) and print where it is."""
    from qt.evaluation.tearsheet import FILE, compare, write_tearsheet

    dirs: list[Path] = args.run_dirs
    if len(dirs) == 1 and args.out is None:
        path = write_tearsheet(dirs[0], log_scale=args.log_scale)
    elif len(dirs) == 1:
        path = compare(dirs, args.out, log_scale=args.log_scale)
    else:
        path = compare(dirs, args.out or Path("comparison.html"), log_scale=args.log_scale)
    print(f"tearsheet: {path}" if path.name == FILE else f"comparison: {path}")
    return 0
