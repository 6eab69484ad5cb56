"""``qt signals``: every signal, TA-Lib indicator and plugin usable from YAML, with its parameters."""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Optional NAME for one entry; ``--no-talib`` to hide the ~200 TA-Lib functions."""
    parser.add_argument("name", nargs="?", help="show one signal or indicator")
    parser.add_argument("--no-talib", action="store_true", help="list built-ins and plugins only")


def _params(cls: Any) -> str:
    parts = []
    for name, info in cls.model_fields.items():
        default = "required" if info.is_required() else repr(getattr(info.default, "value", info.default))
        parts.append(f"{name}={default}")
    return ", ".join(parts) or "-"


def catalog(include_talib: bool = True) -> list[tuple[str, str, str, str]]:
    """Rows (kind, name, parameters, description) of everything ``signal:`` / ``indicator:`` accepts."""
    from qt.config.plugins import load_plugins
    from qt.features.signals.registry import SIGNALS

    load_plugins()
    plugins = set(SIGNALS.plugins())
    rows = []
    for name in SIGNALS.names():
        cls = SIGNALS.get(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        rows.append(("plugin" if name in plugins else "signal", name, _params(cls), doc))
    if include_talib:
        from qt.features.indicators import indicator_info, indicator_names

        for name in indicator_names():
            info = indicator_info(name)
            params = ", ".join(f"{k}={v!r}" for k, v in info.params.items()) or "-"
            outputs = f" outputs: {', '.join(info.outputs)}" if len(info.outputs) > 1 else ""
            rows.append(
                ("talib", name, params, f"{info.description} [{info.group}; inputs: {', '.join(info.inputs)}]{outputs}")
            )
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the catalog (or one entry); exit 1 when NAME is unknown."""
    rows = catalog(include_talib=not args.no_talib or bool(args.name))
    if args.name:
        rows = [r for r in rows if r[1] == args.name or (r[0] == "talib" and r[1] == args.name.upper())]
        if not rows:
            import difflib

            close = difflib.get_close_matches(args.name, [r[1] for r in catalog()], n=3)
            print(
                f"unknown signal or indicator '{args.name}'" + (f"; did you mean {', '.join(close)}?" if close else "")
            )
            return 1
    for kind, name, params, doc in rows:
        print(f"{kind:<7} {name:<20} {params}\n{'':<28} {doc}")
    return 0
