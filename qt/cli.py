"""The ``qt`` command. Subcommands import their dependencies lazily so ``qt --help`` is instant.

``qt run ...`` hands every argument after ``run`` to Hydra: config groups, key=value
overrides, ``-m`` sweeps and Hydra's own flags all work as in any Hydra app. Every
other subcommand lives in ``qt/commands/NAME.py`` with ``add_arguments(parser)`` and
``run(args) -> int``; register it in ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys

DESCRIPTION = "qt - declarative, config-driven quantitative trading: backtests, sweeps and live trading from YAML."
EPILOG = """examples:
  qt run                                        the default backtest (xmom on the bundled sample)
  qt run strategy=xmom portfolio=equal          one backtest; outputs under outputs/DATE/TIME
  qt run -m strategy.params.lookback=63,126,252 a sweep, one run directory per combination
  qt run mode=live broker=paper                 the same strategy live, on the paper broker (docs/live.md)
  qt run --help                                 every config group, option and default

exit codes: 0 ok, 1 a check found a problem (validate, check), 2 bad input or usage (one message
naming the key, file:line:col or row; also a sweep whose every run failed), 3 an unexpected error.
set QT_DEBUG=1 (or pass --debug) to see full tracebacks."""

# name -> (module under qt.commands, or None for Hydra's `run`; one-line help)
SUBCOMMANDS: dict[str, tuple[str | None, str]] = {
    "run": (
        None,
        "run a backtest, a sweep (-m) or live trading (mode=live broker=paper|ib); arguments go to Hydra, "
        "see `qt run --help`",
    ),
    "validate": ("validate", "check a strategy spec: every error with its YAML path and file:line:col"),
    "signals": ("signals", "list every signal, TA-Lib indicator and plugin usable from YAML, with parameters"),
    "check": ("check", "prove a strategy's signals are causal: qt check lookahead strategy=NAME"),
    "label": ("label", "write triple-barrier labels and meta-labels: qt label strategy=NAME labeling=triple_barrier"),
    "data": ("data", "store and inspect market data: ingest, ls, show"),
    "tearsheet": ("tearsheet", "re-render a finished run's HTML tearsheet, or compare runs: qt tearsheet RUN_A RUN_B"),
    "sweep-report": ("sweep_report", "rebuild the leaderboard of a finished sweep: qt sweep-report SWEEP_DIR"),
    "ib-gateway": (
        "ib_gateway",
        "a local gateway that speaks the TWS API protocol, for rehearsals and CI: qt ib-gateway --port 4002 --data sample",
    ),
    "rerun": ("rerun", "re-execute a run from its manifest: 'identical', or which input and output changed"),
    "diff": ("diff", "compare two runs or sweeps: config keys, data, metrics side by side: qt diff RUN_A RUN_B"),
    "live": (
        "live",
        "inspect and control a live run from another shell: qt live status|halt|resume|flatten --state-dir DIR",
    ),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qt", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("--version", action="store_true", help="print qt's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=module is not None)
    return parser


EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``qt`` console script; Ctrl-C ends any command with one line and exit 130."""
    try:
        code = _main(argv)
    except KeyboardInterrupt as exc:
        code = interrupted(exc)
    if code == EXIT_INTERRUPTED and argv is None:
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """End the ``qt`` process with ``code`` after Ctrl-C, once its files are closed and its writer threads done.

    Python can otherwise still end the process by SIGINT at exit whatever qt returned (its
    "unhandled interrupt" flag, set when the interrupt surfaced inside C code: 1 run in 6 under strace).
    """
    import atexit
    import threading

    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(timeout=30)  # e.g. the panel cache's writer: its file complete or not started
    atexit._run_exitfuncs()  # what a normal exit runs: logging, multiprocessing and loky clean-up
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def interrupted(exc: KeyboardInterrupt, what: str = "") -> int:
    """Print one line for Ctrl-C (the sweep's own account when it gave one) and return 130; QT_DEBUG=1 re-raises."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while exiting adds no traceback
    if os.environ.get("QT_DEBUG") == "1":
        raise exc
    message = str(exc).strip() or f"interrupted: {what or 'stopped'} (Ctrl-C); results are written only when complete"
    print(message, file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--debug":
        os.environ["QT_DEBUG"] = "1"
        argv = argv[1:]
    if argv and argv[0] == "run":
        return _run(argv[1:])
    if argv and argv[0] in SUBCOMMANDS:
        return _subcommand(argv[0], argv[1:])
    args = _parser().parse_args(argv)
    if args.version:
        from qt import __version__

        print(f"qt {__version__}")
        return 0
    _parser().print_help()
    return 0


def _subcommand(name: str, rest: list[str]) -> int:
    """Parse ``rest`` with the subcommand's own arguments and run it; errors become one line (see ``fail``)."""
    module_name, help_text = SUBCOMMANDS[name]
    module = importlib.import_module(f"qt.commands.{module_name}")
    parser = argparse.ArgumentParser(prog=f"qt {name}", description=help_text)
    module.add_arguments(parser)
    args = parser.parse_args(rest)  # usage errors: argparse prints them and exits 2
    if _asks_help(args):
        parser.print_help()
        return 0
    try:
        return int(module.run(args))
    except KeyboardInterrupt as exc:
        return interrupted(exc, f"qt {name} stopped")
    except Exception as exc:
        return fail(exc)


def _asks_help(args: argparse.Namespace) -> bool:
    """``-h``/``--help`` swallowed by a pass-through argument (``qt check lookahead strategy=x --help``)."""
    return any(isinstance(v, list) and ("-h" in v or "--help" in v) for v in vars(args).values())


def fail(exc: BaseException, prefix: str = "error") -> int:
    """Print ``exc`` as one line on stderr and return its exit code (2 a qt error, 3 a bug); QT_DEBUG=1 re-raises.

    ``qt run`` passes ``prefix="ERROR"``, the level name its run logging prints the run's own errors with.
    """
    if isinstance(exc, BrokenPipeError):  # the reader stopped early (qt diff A B | head): nothing went wrong
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 0
    if os.environ.get("QT_DEBUG") == "1":
        raise exc
    from qt.config.hydra_errors import explain
    from qt.config.secrets import scrub
    from qt.errors import EXIT_ERROR, EXIT_INTERNAL

    error = explain(exc)
    if error is not None:
        print(f"{prefix}: {scrub(str(error))}", file=sys.stderr)
        return EXIT_ERROR
    print(
        f"{prefix}: unexpected {type(exc).__name__}: {scrub(str(exc))} (a bug? QT_DEBUG=1 shows the traceback)",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


def _run(hydra_args: list[str]) -> int:
    """Call the Hydra app with ``hydra_args`` as its command line; Hydra's errors are reported by qt (``fail``)."""
    from qt import app
    from qt.config.paths import expand_override

    try:
        hydra_args = [expand_override(a) for a in hydra_args]
    except Exception as exc:
        return fail(exc, prefix="ERROR")
    sys.argv = ["qt run", *hydra_args]
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises instead of printing its own report; qt words it
    app.SWEEP_OUTCOMES.clear()
    try:
        app.main()
    except KeyboardInterrupt as exc:
        return interrupted(exc, "qt run stopped")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except Exception as exc:
        from qt.errors import interrupted_inside

        if interrupted_inside(exc):  # Ctrl-C landed inside OmegaConf/Hydra, which wrapped it as a config error
            return interrupted(KeyboardInterrupt(), "qt run stopped")
        return fail(exc, prefix="ERROR")
    for outcome in app.SWEEP_OUTCOMES:
        if outcome.runs and outcome.failed == outcome.runs:
            print(f"ERROR: {outcome}", file=sys.stderr)
            return 2
    return 0
