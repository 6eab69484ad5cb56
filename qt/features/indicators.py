"""Every TA-Lib function as a signal node: ``indicator: RSI``, ``params: {timeperiod: 14}``.

The parameter schema of each function is generated from TA-Lib's own function info, so
a misspelt parameter is a validation error naming the allowed ones. A function runs once
per asset over the whole history (on the rows where all its inputs are present).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model, model_validator

from qt.config.problems import Problem, from_validation_error, to_validation_error
from qt.data.panel import BarPanel
from qt.enums import Field as BarField
from qt.features.signals.base import Signal

PRICE_FIELDS = {f.value for f in BarField}


class MAType(IntEnum):
    """TA-Lib's moving-average types (``matype``); YAML may give the number or the name."""

    SMA = 0
    EMA = 1
    WMA = 2
    DEMA = 3
    TEMA = 4
    TRIMA = 5
    KAMA = 6
    MAMA = 7
    T3 = 8


@dataclass(frozen=True)
class IndicatorInfo:
    """What TA-Lib says about one function: inputs (in call order), parameters, outputs."""

    name: str
    group: str
    description: str
    inputs: tuple[str, ...]
    params: dict[str, Any]
    param_help: dict[str, str]
    outputs: tuple[str, ...]
    schema: type[BaseModel]


def indicator_names() -> list[str]:
    """Every TA-Lib function name."""
    import talib

    return sorted(talib.get_functions())


@cache
def indicator_info(name: str) -> IndicatorInfo:
    """TA-Lib's info for ``name`` and the pydantic schema of its parameters (cached)."""
    import importlib

    abstract: Any = importlib.import_module("talib.abstract")
    lib: Any = importlib.import_module("talib._ta_lib")
    info = abstract.Function(name).info
    inputs: list[str] = []
    for value in info["input_names"].values():
        inputs.extend(value if isinstance(value, list) else [value])
    fields: dict[str, Any] = {}
    helps: dict[str, str] = {}
    for i, (pname, default) in enumerate(info["parameters"].items()):
        meta = lib._ta_getOptInputParameterInfo(name.encode(), i)
        helps[pname] = str(meta.get("help") or meta.get("display_name") or "")
        fields[pname] = _param_field(pname, default, int(meta.get("type", 0)))
    schema = create_model(f"{name}Params", __config__=ConfigDict(frozen=True, extra="forbid"), **fields)
    return IndicatorInfo(
        name,
        info["group"],
        info["display_name"],
        tuple(inputs),
        dict(info["parameters"]),
        helps,
        tuple(info["output_names"]),
        schema,
    )


def _ma_type(value: Any) -> Any:
    """An MA type given by name (``EMA``) becomes its number."""
    if isinstance(value, str) and value.upper() in MAType.__members__:
        return int(MAType[value.upper()])
    return value


MATypeParam = Annotated[int, BeforeValidator(_ma_type), Field(ge=0)]


def _param_field(name: str, default: Any, kind: int) -> tuple[Any, Any]:
    """(type, Field) of one TA-Lib parameter: 0/1 real, 2 integer range, 3 integer list (MA type)."""
    if kind == 3 or "matype" in name:
        return (MATypeParam, int(default))
    if kind == 2 or isinstance(default, int):
        return (int, Field(int(default), ge=1 if "period" in name else None))
    return (float, Field(float(default)))


class Indicator(Signal):
    """One TA-Lib function applied per asset; ``output`` picks one of several outputs (default: the first).

    ``inputs`` maps a TA-Lib input name to another node (e.g. ``{close: spread}``); other
    inputs come from the panel's bar fields of the same name.

    Examples
    --------
    >>> Indicator(indicator="RSI", params={"timeperiod": 14}).output_name
    'real'
    >>> Indicator(indicator="BBANDS", output="lowerband").references()
    ()
    """

    indicator: str
    params: dict[str, Any] = Field(default_factory=dict)
    output: str | None = None
    inputs: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("indicator"), str):
            return data
        problems = indicator_problems(data)
        if problems:
            raise to_validation_error("Indicator", problems)
        info = indicator_info(str(data["indicator"]).upper())
        params = info.schema.model_validate(data.get("params") or {}).model_dump()
        return {**data, "indicator": info.name, "params": params}

    @property
    def output_name(self) -> str:
        """The chosen output."""
        return self.output or indicator_info(self.indicator).outputs[0]

    def references(self) -> tuple[str, ...]:
        """Nodes given as inputs."""
        return tuple(self.inputs.values())

    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """The chosen output [T x N], one TA-Lib call per asset."""
        import talib

        info = indicator_info(self.indicator)
        series = []
        for name in info.inputs:
            if name in self.inputs:
                series.append(np.asarray(nodes[self.inputs[name]], dtype=np.float64))
            else:
                series.append(panel.require(BarField(name), needed_by=f"indicator {info.name}"))
        func = getattr(talib, info.name)
        pick = info.outputs.index(self.output_name)
        return apply_per_asset(func, series, self.params, pick, len(info.outputs))


def apply_per_asset(
    func: Any, series: list[np.ndarray], params: Mapping[str, Any], pick: int, n_out: int
) -> np.ndarray:
    """Call ``func`` once per column on the rows where every input is finite; scatter the result back."""
    n_bars, n_assets = series[0].shape
    out = np.full((n_bars, n_assets), np.nan)
    columns = [np.ascontiguousarray(s.T, dtype=np.float64) for s in series]
    valid = np.logical_and.reduce([np.isfinite(s) for s in series]).T
    for j in range(n_assets):
        rows = np.flatnonzero(valid[j])
        if rows.size == 0:
            continue
        lo, hi = rows[0], rows[-1] + 1
        contiguous = rows.size == hi - lo
        args = [c[j, lo:hi] if contiguous else c[j, rows] for c in columns]
        try:
            result = func(*args, **params)
        except Exception as exc:
            raise ValueError(f"TA-Lib {getattr(func, '__name__', func)} failed with {dict(params)}: {exc}") from None
        value = np.asarray(result[pick] if n_out > 1 else result, dtype=np.float64)
        if contiguous:
            out[lo:hi, j] = value
        else:
            out[rows, j] = value
    return out


def _trial_call(info: IndicatorInfo, checked: Mapping[str, Any], given: Mapping[str, Any]) -> list[Problem]:
    """TA-Lib's own range checks (e.g. RSI needs timeperiod >= 2): call it once on 64 dummy bars."""
    import talib

    rng = np.random.default_rng(0)
    close = 100.0 * np.cumprod(1.0 + rng.normal(0.0, 0.01, 64))
    dummy = {"open": close, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": np.full(64, 1e6)}
    args = [dummy.get(name, np.full(64, 5.0)) for name in info.inputs]
    try:
        getattr(talib, info.name)(*args, **checked)
    except Exception as exc:
        shown = {k: checked[k] for k in given} or dict(checked)
        path: tuple[str, ...] = ("params", *given) if len(given) == 1 else ("params",)
        value = next(iter(given.values())) if len(given) == 1 else dict(given)
        return [Problem(path, f"TA-Lib rejects {info.name} with {shown}: {exc}", value)]
    return []


def indicator_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Every problem of an indicator node's ``indicator``/``params``/``output``/``inputs`` (relative paths)."""
    name = str(data.get("indicator"))
    known = indicator_names()
    if name.upper() not in known:
        close = difflib.get_close_matches(name.upper(), known, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else "; `qt signals` lists them"
        return [Problem(("indicator",), f"unknown TA-Lib indicator '{name}'{hint}", name)]
    info = indicator_info(name.upper())
    problems: list[Problem] = []
    params = data.get("params") or {}
    if not isinstance(params, Mapping):
        return [Problem(("params",), f"must be a mapping of {info.name}'s parameters, got {params!r}", params)]
    for key in params:
        if key not in info.params:
            close = difflib.get_close_matches(str(key), list(info.params), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            allowed = ", ".join(info.params) or "none"
            problems.append(
                Problem(("params", key), f"unknown parameter of {info.name}; {hint}allowed: {allowed}", key)
            )
    if not problems:
        try:
            checked = info.schema.model_validate(params).model_dump()
        except ValidationError as exc:
            problems.extend(from_validation_error(exc, ("params",)))
        else:
            problems.extend(_trial_call(info, checked, params))
    output = data.get("output")
    if output is not None and output not in info.outputs:
        problems.append(
            Problem(("output",), f"{info.name} has outputs {', '.join(info.outputs)}, got {output!r}", output)
        )
    inputs = data.get("inputs") or {}
    if isinstance(inputs, Mapping):
        for key in inputs:
            if key not in info.inputs:
                problems.append(Problem(("inputs", key), f"{info.name} takes inputs {', '.join(info.inputs)}", key))
        for need in info.inputs:
            if need not in PRICE_FIELDS and need not in inputs:
                problems.append(
                    Problem(("inputs",), f"{info.name} needs input '{need}' from a node: inputs: {{{need}: NODE}}")
                )
    return problems
