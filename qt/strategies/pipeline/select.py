"""Selection rules (which assets, long or short) and weighting schemes (how much of each).

``select: {rule: top_quantile, quantile: 0.2}``, ``weight: {scheme: inverse_vol}``;
plugins register more rules with ``@register_selection`` / ``@register_weighting``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from qt.config.names import NameRegistry
from qt.config.problems import Problem, from_validation_error, to_validation_error
from qt.context import DecisionContext
from qt.enums import Field as BarField

_P = "qt.strategies.pipeline.select"
SELECTIONS = NameRegistry(
    "selection rule",
    {"top_quantile": f"{_P}.SelectTopQuantile", "top_k": f"{_P}.SelectTopK", "threshold": f"{_P}.SelectThreshold"},
)
WEIGHTINGS = NameRegistry(
    "weighting scheme",
    {"equal": f"{_P}.WeighEqual", "score": f"{_P}.WeighByScore", "inverse_vol": f"{_P}.WeighInverseVol"},
)
register_selection = SELECTIONS.register
register_weighting = WEIGHTINGS.register


class Selector(BaseModel, ABC):
    """Chooses a side per asset at one decision: +1 long, -1 short, 0 not held."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @abstractmethod
    def select(self, scores: np.ndarray, eligible: np.ndarray) -> np.ndarray:
        """Float [N] of -1 / 0 / +1; only ``eligible`` assets may be chosen."""


def ranked(scores: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Indices of eligible assets, best score first, ties broken by symbol order."""
    idx = np.flatnonzero(eligible)
    return idx[np.lexsort((idx, -scores[idx]))]


class _TopBottom(Selector):
    long_short: bool = False

    def _sides(self, order: np.ndarray, k: int, n: int) -> np.ndarray:
        side = np.zeros(n)
        side[order[:k]] = 1.0
        if self.long_short:
            side[order[max(k, order.size - k) :]] = -1.0
        return side


class SelectTopQuantile(_TopBottom):
    """The top max(1, floor(quantile x n_eligible)) assets; with ``long_short`` the bottom group of that size short.

    Examples
    --------
    >>> SelectTopQuantile(quantile=0.5).select(np.array([3.0, 1.0, 2.0, np.nan]), np.array([1, 1, 1, 0], bool)).tolist()
    [1.0, 0.0, 0.0, 0.0]
    """

    rule: Literal["top_quantile"] = "top_quantile"
    quantile: float = Field(0.2, gt=0.0, le=1.0)

    def select(self, scores: np.ndarray, eligible: np.ndarray) -> np.ndarray:
        """Sides [N]."""
        order = ranked(scores, eligible)
        if order.size == 0:
            return np.zeros(scores.shape[0])
        return self._sides(order, max(1, math.floor(self.quantile * order.size)), scores.shape[0])


class SelectTopK(_TopBottom):
    """The ``k`` best assets (all of them if fewer); with ``long_short`` the ``k`` worst short."""

    rule: Literal["top_k"] = "top_k"
    k: PositiveInt = 10

    def select(self, scores: np.ndarray, eligible: np.ndarray) -> np.ndarray:
        """Sides [N]."""
        order = ranked(scores, eligible)
        return self._sides(order, min(self.k, order.size), scores.shape[0])


class SelectThreshold(Selector):
    """Per asset, on its own signal: long where score > ``long_above``, short where score < ``short_below``."""

    rule: Literal["threshold"] = "threshold"
    long_above: float = 0.0
    short_below: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> SelectThreshold:
        if self.short_below is not None and self.short_below > self.long_above:
            raise ValueError(f"short_below ({self.short_below}) must be <= long_above ({self.long_above})")
        return self

    def select(self, scores: np.ndarray, eligible: np.ndarray) -> np.ndarray:
        """Sides [N]."""
        side = np.where(eligible & (scores > self.long_above), 1.0, 0.0)
        if self.short_below is not None:
            side = np.where(eligible & (scores < self.short_below), -1.0, side)
        return side


class Weigher(BaseModel, ABC):
    """Turns sides into raw weights: each side sums to 1 in absolute value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @abstractmethod
    def weigh(self, side: np.ndarray, scores: np.ndarray, ctx: DecisionContext) -> np.ndarray:
        """Raw weights [N]."""


def spread(side: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """Weights proportional to ``strength`` within the long and the short side; each side sums to ±1."""
    out = np.zeros(side.shape[0])
    for sign in (1.0, -1.0):
        members = side == sign
        if members.any():
            s = np.where(members, strength, 0.0)
            total = s.sum()
            out[members] = sign * (s[members] / total if total > 0 else 1.0 / int(members.sum()))
    return out


class WeighEqual(Weigher):
    """1/n_long on each long, -1/n_short on each short."""

    scheme: Literal["equal"] = "equal"

    def weigh(self, side: np.ndarray, scores: np.ndarray, ctx: DecisionContext) -> np.ndarray:
        """Equal weights per side."""
        out = np.zeros(side.shape[0])
        for sign in (1.0, -1.0):
            members = side == sign
            if members.any():
                out[members] = sign / int(members.sum())
        return out


class WeighByScore(Weigher):
    """Proportional to |score| within each side."""

    scheme: Literal["score"] = "score"

    def weigh(self, side: np.ndarray, scores: np.ndarray, ctx: DecisionContext) -> np.ndarray:
        """Score-proportional weights per side."""
        return spread(side, np.nan_to_num(np.abs(scores)))


class WeighInverseVol(Weigher):
    """Proportional to 1 / (std of daily returns over ``window`` bars) within each side."""

    scheme: Literal["inverse_vol"] = "inverse_vol"
    window: int = Field(63, ge=2)

    def weigh(self, side: np.ndarray, scores: np.ndarray, ctx: DecisionContext) -> np.ndarray:
        """Inverse-volatility weights per side (assets without a volatility get none)."""
        close = ctx.history(BarField.CLOSE, self.window + 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            vol = (
                np.std(close[1:] / close[:-1] - 1.0, axis=0, ddof=1)
                if close.shape[0] > 2
                else np.full(side.shape, np.nan)
            )
            inv = np.where(np.isfinite(vol) & (vol > 0), 1.0 / vol, 0.0)
        return spread(np.where(inv > 0, side, 0.0), inv)


def parse_component(data: Any, registry: NameRegistry, tag: str, default: str, base: type) -> Any:
    """A Selector/Weigher from its YAML mapping (dispatching on ``tag``), or an instance passed through."""
    if isinstance(data, base):
        return data
    if not isinstance(data, dict):
        raise to_validation_error(base.__name__, [Problem((), f"must be a mapping with `{tag}:`, got {data!r}", data)])
    name = str(data.get(tag, default))
    if not registry.has(name):
        from qt.config.plugins import load_plugins

        load_plugins()
    if not registry.has(name):
        hint = registry.suggest(name)
        message = (
            f"unknown {registry.kind} '{name}'; "
            + (hint + " " if hint else "")
            + f"known: {', '.join(registry.names())}"
        )
        raise to_validation_error(base.__name__, [Problem((tag,), message, name)])
    cls = registry.get(name)
    body = {**data, tag: name} if tag in cls.model_fields else {k: v for k, v in data.items() if k != tag}
    try:
        return cls.model_validate(body)
    except ValidationError as exc:
        raise to_validation_error(base.__name__, from_validation_error(exc, fields=list(cls.model_fields))) from None
