"""``qt validate FILE...``: check strategy specs before anything runs; every error with its YAML path and file:line:col."""

from __future__ import annotations

import argparse
from pathlib import Path

from qt.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """FILE (a spec path, or a name found in the strategy folders) and ``--allow PREFIX``."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="strategies/NAME.yaml, or just NAME")
    parser.add_argument("--allow", action="append", default=[], metavar="PREFIX", help="extra allowed _target_ prefix")


def resolve_spec(name: str) -> Path:
    """A path as given (``~`` and ``$VAR`` expanded), else NAME(.yaml) in the strategy folders."""
    from qt.config.paths import expand_path

    path = expand_path(name)
    if path.is_file():
        return path
    from qt.config.paths import strategy_dirs

    stem = path.name.removesuffix(".yaml")
    for folder in strategy_dirs():
        if (folder / f"{stem}.yaml").is_file():
            return folder / f"{stem}.yaml"
    raise ConfigError(
        name, "no such file, and no strategy spec of that name in " + ", ".join(map(str, strategy_dirs()))
    )


def run(args: argparse.Namespace) -> int:
    """Print ``ok`` per valid spec or each problem; exit 1 if any spec has problems."""
    from qt.config.instantiate import DEFAULT_ALLOWED
    from qt.config.validate import spec_as_config, validate_strategy
    from qt.strategies.registry import STRATEGIES

    failed = 0
    for name in args.files:
        path = resolve_spec(name)
        cfg = spec_as_config(path)
        allowed = (*DEFAULT_ALLOWED, *(cfg.get("allowed_targets") or []), *args.allow)
        errors = validate_strategy(cfg.strategy, source=path, allowed=allowed, names=STRATEGIES)
        if errors:
            failed += 1
            print(f"{path}: {len(errors)} problem{'s' if len(errors) > 1 else ''}")
            for e in errors:
                print(f"  {e}")
        else:
            print(f"{path}: ok")
    return 1 if failed else 0
