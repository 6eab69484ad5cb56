"""Portfolio constraints as data: bounds, leverage, group caps, turnover, names, target volatility.

Group caps are readable linear expressions over group labels, e.g. ``"tech <= 0.3"`` or
``"energy + materials <= 0.25"``; ``groups`` maps each label to its symbols.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

_TERM = re.compile(r"\s*([+-]?)\s*(?:(\d+(?:\.\d*)?|\.\d+)\s*\*?\s*)?([A-Za-z_][\w.]*)\s*")
_RELATION = re.compile(r"^(.*?)(<=|>=|==)\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*$")


class InfeasibleConstraintsError(ValueError):
    """Constraints that cannot hold together; the message names each of them."""


@dataclass(frozen=True)
class GroupLimit:
    """``sum(coef[label] * weight of the label's assets) <relation> bound``."""

    text: str
    coefs: dict[str, float]
    relation: str
    bound: float

    def row(self, symbols: tuple[str, ...], groups: dict[str, list[str]]) -> np.ndarray:
        """The linear row over ``symbols`` (coefficient of each asset's weight)."""
        index = {s: i for i, s in enumerate(symbols)}
        row = np.zeros(len(symbols))
        for label, coef in self.coefs.items():
            for sym in groups[label]:
                if sym in index:
                    row[index[sym]] += coef
        return row


def parse_group_limit(text: str) -> GroupLimit:
    """Parse ``"a + 0.5*b <= 0.3"`` into a GroupLimit.

    Examples
    --------
    >>> parse_group_limit("energy + materials <= 0.25").coefs
    {'energy': 1.0, 'materials': 1.0}
    """
    match = _RELATION.match(text.strip())
    if not match:
        raise ValueError(f"'{text}' is not 'LABEL [+ LABEL ...] <= NUMBER' (or >=, ==)")
    lhs, relation, bound = match.groups()
    coefs: dict[str, float] = {}
    pos = 0
    lhs = lhs.strip()
    while pos < len(lhs):
        term = _TERM.match(lhs, pos)
        if not term or term.end() == pos:
            raise ValueError(f"'{text}': cannot read '{lhs[pos:]}'; write terms like 'tech' or '0.5*tech'")
        sign, coef, label = term.groups()
        value = float(coef) if coef else 1.0
        coefs[label] = coefs.get(label, 0.0) + (-value if sign == "-" else value)
        pos = term.end()
    if not coefs:
        raise ValueError(f"'{text}' has no group label on the left")
    return GroupLimit(text, coefs, relation, float(bound))


class Constraints(BaseModel):
    """Constraints on the weights of NAV an optimizer may choose.

    ``net`` is the required sum of weights (1 = fully invested); ``max_gross`` caps sum(|w|);
    ``max_turnover`` caps sum(|w - w_before|); ``target_vol`` caps annualized volatility;
    ``max_names`` keeps the largest names and re-solves (a heuristic: the exact problem is non-convex).

    Examples
    --------
    >>> Constraints(max_weight=0.1).upper(3).tolist()
    [0.1, 0.1, 0.1]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    long_only: bool = True
    min_weight: float | None = None
    max_weight: PositiveFloat | None = None
    bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)
    net: float = 1.0
    max_gross: PositiveFloat | None = None
    groups: dict[str, list[str]] = Field(default_factory=dict)
    group_limits: list[str] = Field(default_factory=list)
    max_turnover: PositiveFloat | None = None
    max_names: PositiveInt | None = None
    target_vol: PositiveFloat | None = None

    @model_validator(mode="after")
    def _check(self) -> Constraints:
        for text in self.group_limits:
            for label in parse_group_limit(text).coefs:
                if label not in self.groups:
                    known = ", ".join(sorted(self.groups)) or "none defined"
                    raise ValueError(f"group_limits '{text}': unknown group '{label}' (groups: {known})")
        conflicts = self.conflicts()
        if conflicts:
            raise InfeasibleConstraintsError("constraints cannot hold together: " + "; ".join(conflicts))
        return self

    @property
    def limits(self) -> list[GroupLimit]:
        """The parsed group limits."""
        return [parse_group_limit(t) for t in self.group_limits]

    def lower(self, n: int) -> np.ndarray:
        """Per-asset lower bounds before symbol-specific ``bounds``."""
        lo = 0.0 if self.long_only else -np.inf
        if self.min_weight is not None:
            lo = max(lo, self.min_weight) if self.long_only else self.min_weight
        if not self.long_only and self.min_weight is None and self.max_weight is not None:
            lo = -self.max_weight
        return np.full(n, lo)

    def upper(self, n: int) -> np.ndarray:
        """Per-asset upper bounds before symbol-specific ``bounds``."""
        return np.full(n, np.inf if self.max_weight is None else self.max_weight)

    def conflicts(self, n_assets: int | None = None) -> list[str]:
        """Human-readable descriptions of constraints that cannot all hold (empty if none found)."""
        out: list[str] = []
        lo, hi = float(self.lower(1)[0]), float(self.upper(1)[0])
        if lo > hi:
            out.append(f"min_weight {lo} > max_weight {hi}")
        if self.long_only and self.net < 0:
            out.append(f"long_only with net {self.net} < 0")
        if self.long_only and self.min_weight is not None and self.min_weight < 0:
            out.append(f"long_only with min_weight {self.min_weight} < 0")
        if self.max_gross is not None and abs(self.net) > self.max_gross:
            out.append(f"net {self.net} exceeds max_gross {self.max_gross}")
        if self.max_names is not None and self.max_weight is not None and self.max_names * self.max_weight < self.net:
            out.append(f"max_names {self.max_names} x max_weight {self.max_weight} < net {self.net}")
        for sym, (b_lo, b_hi) in self.bounds.items():
            if b_lo > b_hi:
                out.append(f"bounds.{sym} ({b_lo}, {b_hi}) has lower > upper")
        out.extend(self._group_conflicts())
        if n_assets is not None and n_assets * hi < self.net - 1e-12:
            out.append(f"max_weight {hi} x {n_assets} assets in the universe < net {self.net}")
        if n_assets is not None and self.long_only and n_assets * max(lo, 0.0) > self.net + 1e-12:
            out.append(f"min_weight {lo} x {n_assets} assets in the universe > net {self.net}")
        if n_assets == 0 and self.net != 0:
            out.append(f"no asset in the universe but net {self.net}")
        return out

    def turnover_conflict(self, before: np.ndarray, universe: np.ndarray) -> str | None:
        """``max_turnover`` below the least turnover any book meeting ``net`` needs from ``before``.

        Assets outside ``universe`` (bool [N]) must be sold; the rest must move the sum to ``net``.
        """
        if self.max_turnover is None:
            return None
        held = np.nan_to_num(before)
        needed = abs(self.net - float(held[universe].sum())) + float(np.abs(held[~universe]).sum())
        if needed <= self.max_turnover + 1e-9:
            return None
        return (
            f"max_turnover {self.max_turnover:g} < {needed:.4g} needed to reach net {self.net:g} from the current book"
        )

    def _group_conflicts(self) -> list[str]:
        """Group minimums (on disjoint single-label limits) summing above ``net``, and signs vs long_only."""
        out: list[str] = []
        minimums: list[tuple[str, float]] = []
        for lim in self.limits:
            single = len(lim.coefs) == 1 and next(iter(lim.coefs.values())) > 0
            if not single:
                continue
            ((label, coef),) = lim.coefs.items()
            if lim.relation in (">=", "==") and lim.bound > 0:
                minimums.append((lim.text, lim.bound / coef))
            if self.long_only and lim.relation in ("<=", "==") and lim.bound < 0:
                out.append(f"'{lim.text}' needs a short position but long_only is set")
            if self.max_weight is not None and lim.relation in (">=", "==") and self.long_only:
                cap = self.max_weight * len(self.groups[label])
                if lim.bound / coef > cap + 1e-12:
                    out.append(f"'{lim.text}' above max_weight {self.max_weight} x {len(self.groups[label])} names")
        total = sum(v for _, v in minimums)
        if self.long_only and minimums and total > self.net + 1e-12 and _disjoint(self.groups, minimums):
            names = " + ".join(f"'{t}'" for t, _ in minimums)
            out.append(f"group minimums {names} sum to {total:g} > net {self.net}")
        return out


def _disjoint(groups: dict[str, list[str]], minimums: list[tuple[str, float]]) -> bool:
    seen: set[str] = set()
    for text, _ in minimums:
        label = next(iter(parse_group_limit(text).coefs))
        members = set(groups[label])
        if seen & members:
            return False
        seen |= members
    return True
