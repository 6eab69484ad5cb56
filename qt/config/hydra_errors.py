"""Hydra's and OmegaConf's composition errors, said once in qt's voice: the key, what exists, what to change.

``qt run`` asks Hydra to raise (``HYDRA_FULL_ERROR=1``) instead of printing its own
multi-line report, and hands the exception to ``explain``. Unknown group options list the
options that exist, closest first; unknown keys the closest real keys (never Hydra's advice
to add ``+``, which would hide the typo); unresolvable interpolations the key and the name.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from qt.errors import ConfigError, QtError

_FIRST_QUOTED = re.compile(r"'([^']*)'")


def closest_first(name: str, candidates: Iterable[str]) -> list[str]:
    """``candidates`` ordered by similarity to ``name`` (most similar first, ties alphabetical).

    Examples
    --------
    >>> closest_first("meanvr", ["equal", "hrp", "meanvar", "minvar"])[:2]
    ['meanvar', 'minvar']
    """
    unique = sorted({str(c) for c in candidates})
    return sorted(unique, key=lambda c: -difflib.SequenceMatcher(None, name.lower(), c.lower()).ratio())


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the closest candidate when one is close enough, else ``''``.

    Examples
    --------
    >>> did_you_mean("capitl", ["capital", "start"])
    "; did you mean 'capital'?"
    """
    close = difflib.get_close_matches(name, sorted({str(c) for c in candidates}), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def explain(exc: BaseException) -> QtError | None:
    """The qt error for ``exc`` (raised while composing or resolving the config), or None if it is not one."""
    for link in _chain(exc):
        if isinstance(link, QtError):
            return link
    from hydra.errors import HydraException, MissingConfigException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(exc, MissingConfigException):
        return _missing_option(exc)
    if isinstance(exc, OverrideParseException):
        return _unparsable(exc)
    if isinstance(exc, HydraException):
        cause = exc.__cause__
        if isinstance(cause, OmegaConfBaseException) and getattr(cause, "full_key", None):
            return _omegaconf(cause)
        return _hydra_message(exc)
    if isinstance(exc, OmegaConfBaseException):
        return _omegaconf(exc)
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in out:
        out.append(link)
        link = link.__cause__ or link.__context__
    return out


def _missing_option(exc: Any) -> ConfigError:
    """``portfolio=meanvr`` -> the options of ``portfolio``, closest first."""
    missing = str(getattr(exc, "missing_cfg_file", "") or "")
    options = list(getattr(exc, "options", None) or [])
    group, _, name = missing.rpartition("/")
    if not group or not options:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "a config file is missing"
        return ConfigError("", first.removeprefix("In 'config': "))
    ordered = closest_first(name, options)
    extra = " (strategies/NAME.yaml in ./strategies, $QT_STRATEGIES or qt's examples)" if group == "strategy" else ""
    return ConfigError(group, f"no option '{name}'{extra}; choose one of: {', '.join(ordered)}")


def _unparsable(exc: Any) -> ConfigError:
    text = str(exc).strip().splitlines()
    quoted = _FIRST_QUOTED.search(text[0]) if text else None
    if quoted and quoted.group(1) == "<EOF>":
        split = _split_list()
        if split is not None:
            return split
    lexer = re.match(r"LexerNoViableAltException: (.*)", text[0]) if text else None
    if lexer and "=" not in lexer.group(1):
        bare = lexer.group(1).strip()
        return ConfigError(
            "",
            f"'{bare}' is not an override (KEY=VALUE or GROUP=OPTION); if it is the value of the argument before "
            "it, remove the space after '=' (or quote the value)",
        )
    what = f"'{quoted.group(1)}'" if quoted else "an argument"
    detail = text[1] if len(text) > 1 else ""
    return ConfigError(
        "",
        f"cannot read the override {what}: {detail}; write KEY=VALUE, GROUP=OPTION or +KEY=VALUE".replace(": ;", ";"),
    )


def _split_list() -> ConfigError | None:
    """``lookback=63, 126`` (a space after a comma): the shell made two arguments; say how to write the list."""
    import sys

    args = sys.argv[1:]
    for i, arg in enumerate(args):
        if "=" in arg and arg.endswith((",", "=")):
            key = arg.split("=", 1)[0]
            rest = args[i + 1] if i + 1 < len(args) else ""
            joined = arg + rest if rest and "=" not in rest else arg.rstrip(",") if arg.endswith(",") else arg
            return ConfigError(
                key,
                f"the override '{arg}' ends with '{arg[-1]}' (a space in a sweep list splits it into two arguments); "
                f"write {joined} with no spaces, or quote the whole override",
            )
    return None


def _hydra_message(exc: BaseException) -> ConfigError:
    """Other Hydra errors: their first lines, joined, without Hydra's pointers to its own docs."""
    text = str(exc).strip()
    already = re.match(r"Could not append to config\. An item is already at '([^']+)'", text)
    if already:
        key = already.group(1)
        return ConfigError(key, f"already in the config; drop the '+' to change it ({key}=VALUE)")
    twice = re.match(r"(\S+) appears more than once in the final defaults list", text)
    if twice:
        group = twice.group(1)
        return ConfigError(group, f"chosen twice; write {group}=OPTION (without '+') to replace the default")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("See https://")]
    return ConfigError("", "; ".join(lines[:3]) or type(exc).__name__)


def _omegaconf(exc: Any) -> ConfigError:
    """An unknown key (closest real keys) or an interpolation that does not resolve (the missing name)."""
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, InterpolationResolutionError

    key = str(getattr(exc, "full_key", "") or "")
    message = str(getattr(exc, "msg", exc)).strip().splitlines()[0]
    if isinstance(exc, InterpolationResolutionError):
        return ConfigError(key, f"cannot resolve: {_interpolation_problem(message)}")
    if isinstance(exc, (ConfigAttributeError, ConfigKeyError)):
        name = str(getattr(exc, "key", "") or key.rsplit(".", 1)[-1])
        parent: Any = getattr(exc, "parent_node", None)
        keys = [str(k) for k in parent.keys() if str(k) != "hydra"] if hasattr(parent, "keys") else []
        ordered = closest_first(name, keys)
        where = f"under '{key.rpartition('.')[0]}'" if "." in key else "at the top level"
        known = f" (keys {where}: {', '.join(ordered)})" if ordered else ""
        return ConfigError(key, f"unknown key{did_you_mean(name, keys)}{known}")
    return ConfigError(key, message)


def _interpolation_problem(message: str) -> str:
    """``Interpolation key 'nope' not found`` -> ``${nope} names no key of the config``."""
    missing = re.match(r"Interpolation key '([^']+)' not found", message)
    if missing:
        return f"${{{missing.group(1)}}} names no key of the config"
    env = re.search(r"Environment variable '([^']+)' not found", message)
    if env:
        return f"the environment variable {env.group(1)} is not set (export it, or give a default: ${{oc.env:NAME,default}})"
    return message
