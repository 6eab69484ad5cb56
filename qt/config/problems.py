"""Spec problems: a relative YAML path plus a message, collected so validation can report all of them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec, at ``path`` (relative to the component being checked)."""

    path: Path
    message: str
    value: Any = None

    def dotted(self, prefix: str = "") -> str:
        """The dotted key, e.g. ``strategy.signals.mom.lookback``."""
        return dotted(prefix, self.path)


def dotted(prefix: str, path: Sequence[str | int]) -> str:
    """Join a prefix and a path into a dotted key (list indices as ``[i]``).

    Examples
    --------
    >>> dotted("strategy", ("signals", "mom", "inputs", 0))
    'strategy.signals.mom.inputs[0]'
    """
    out = prefix
    for part in path:
        out = f"{out}[{part}]" if isinstance(part, int) else (f"{out}.{part}" if out else str(part))
    return out


def from_validation_error(exc: Any, prefix: Path = (), fields: Iterable[str] = ()) -> list[Problem]:
    """Problems from a pydantic ValidationError, each with ``got <value>`` where a value was given.

    ``fields`` (the model's own) lets an unknown top-level key suggest the closest allowed name.
    """
    import difflib

    fields = list(fields)
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "spec":
            pass  # already a finished message (from a nested spec check)
        elif err["type"] == "extra_forbidden":
            msg = "unknown key"
            if fields and len(loc) == 1:
                close = difflib.get_close_matches(str(loc[0]), fields, n=1)
                msg += (f"; did you mean '{close[0]}'?" if close else "") + f"; allowed: {', '.join(fields)}"
        elif err["type"] != "missing" and loc:
            msg = f"{msg}, got {err['input']!r}"
        problems.append(Problem((*prefix, *loc), msg, err.get("input")))
    return problems


def to_validation_error(title: str, problems: Sequence[Problem]) -> Exception:
    """A pydantic ValidationError carrying each problem at its own location (raise it from a validator)."""
    from pydantic import ValidationError
    from pydantic_core import InitErrorDetails, PydanticCustomError

    details = [
        InitErrorDetails(
            type=PydanticCustomError("spec", "{message}", {"message": p.message}),
            loc=tuple(p.path),
            input=p.value,
        )
        for p in problems
    ]
    return ValidationError.from_exception_data(title, details)


_UNION_TAG = re.compile(
    r"^(literal\[|function-|constrained-|json-or-python\[|is-instance\[|union\[|tagged-union\[)"
)  # pydantic names union members in loc


def settings_error(exc: Any, prefix: str, fields: Iterable[str] = ()) -> Any:
    """The first problem of a settings block's pydantic ValidationError as one ConfigError naming the key.

    One conversion for every settings block (run, live, broker, store, report, validation): the
    dotted key under ``prefix``, pydantic's union tags dropped (``literal['max']``, ``function-after``),
    ``got <value>`` where a value was given, and for an unknown key the closest of ``fields``.

    Examples
    --------
    >>> from pydantic import BaseModel, PositiveInt, ValidationError
    >>> class Guard(BaseModel):
    ...     max_orders: PositiveInt = 1
    >>> try:
    ...     Guard(max_orders=0)
    ... except ValidationError as exc:
    ...     print(settings_error(exc, "live.guard"))
    live.guard.max_orders: Input should be greater than 0, got 0
    """
    from qt.errors import ConfigError

    problem = from_validation_error(exc, fields=fields)[0]
    path = tuple(p for p in problem.path if not (isinstance(p, str) and _UNION_TAG.match(p)))
    return ConfigError(dotted(prefix, path), problem.message)
