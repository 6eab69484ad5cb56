"""Hydra's sweep syntax as Optuna distributions.

``interval(a,b)`` is a float range, ``int(interval(a,b))`` an integer range, ``tag(log,
interval(a,b))`` a log-uniform one; ``range(start,stop,step)`` is a stepped integer (or
float) range with ``stop`` excluded, as in Hydra; ``a,b,c`` and ``choice(a,b,c)`` are
categorical. Anything that is not a sweep is a fixed override applied to every trial.

Examples
--------
>>> space, fixed = parse_search_space(["x=int(interval(21,252))", "p=equal,meanvar", "data=synthetic"])
>>> space["x"]
IntDistribution(high=252, log=False, low=21, step=1)
>>> space["p"].choices, fixed
(('equal', 'meanvar'), ['data=synthetic'])
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from qt.errors import ConfigError


def parse_search_space(arguments: Iterable[str]) -> tuple[dict[str, Any], list[str]]:
    """``(distributions by key, fixed overrides)`` from command-line overrides in Hydra's syntax."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    space: dict[str, Any] = {}
    fixed: list[str] = []
    for override in OverridesParser.create().parse_overrides(list(arguments)):
        if override.is_sweep_override():
            space[override.get_key_element()] = distribution(override)
        else:
            fixed.append(str(override.input_line))
    return space, fixed


def distribution(override: Any) -> Any:
    """The Optuna distribution of one sweep override (a ``hydra.core.override_parser.types.Override``)."""
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep, Transformer
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    key = override.get_key_element()
    value = override.value()
    if isinstance(value, ChoiceSweep) or (isinstance(value, RangeSweep) and value.shuffle):
        choices = list(override.sweep_iterator(transformer=Transformer.encode))
        return CategoricalDistribution(choices)
    if isinstance(value, RangeSweep):
        start, stop, step = value.start, value.stop, value.step
        assert start is not None and stop is not None
        if step <= 0 or stop <= start:
            raise ConfigError(key, f"range({start},{stop},{step}) is empty; use range(start,stop,step) with start<stop")
        if all(isinstance(v, int) for v in (start, stop, step)):
            high = start + (stop - 1 - start) // step * step  # Hydra's range excludes stop
            return IntDistribution(int(start), int(high), step=int(step))
        n = math.ceil((stop - start) / step - 1e-12)
        return FloatDistribution(float(start), round(float(start + (n - 1) * step), 12), step=float(step))
    if isinstance(value, IntervalSweep):
        start, end = value.start, value.end
        assert start is not None and end is not None
        if not start < end:
            raise ConfigError(key, f"interval({start:g},{end:g}) is empty; the lower bound must be below the upper")
        log = "log" in value.tags
        if log and start <= 0:
            raise ConfigError(key, f"tag(log, interval({start},{end})) needs a positive lower bound")
        if isinstance(start, int) and isinstance(end, int):
            return IntDistribution(start, end, log=log)
        return FloatDistribution(float(start), float(end), log=log)
    raise ConfigError(key, f"'{override.input_line}' is not a sweep Optuna can search; use interval, range or choice")


def grid(space: dict[str, Any]) -> dict[str, list[Any]]:
    """Every value of each distribution, for ``sampler=grid`` (choices and stepped ranges only)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, list[Any]] = {}
    for key, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            out[key] = list(dist.choices)
        elif isinstance(dist, IntDistribution) and not dist.log:
            out[key] = list(range(dist.low, dist.high + 1, dist.step))
        elif isinstance(dist, FloatDistribution) and dist.step is not None:
            n = round((dist.high - dist.low) / dist.step) + 1
            out[key] = [dist.low + i * dist.step for i in range(n)]
        else:
            raise ConfigError(key, "sampler=grid needs a choice or a range(start,stop,step), not an interval")
    return out


def override_value(value: Any) -> str:
    """A trial's parameter value as a Hydra override value (strings quoted when Hydra would misread them)."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if text and all(c.isalnum() or c in "_-./:" for c in text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
