"""Stress tests of a book: replay of historical windows in the data, and hypothetical shocks.

Historical: the ``n_worst`` non-overlapping worst windows of ``days`` bars for the
equal-weighted market of the panel, plus named date ranges; a book's P&L there is
``Σ w_i r_i`` with ``r_i`` each asset's return over the window (assets without prices
across the window are left out and counted in ``coverage``). Hypothetical: every asset
(``market``) or a group's assets move by the shock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from qt.data.panel import BarPanel


class NamedWindow(BaseModel):
    """A date range to replay, e.g. ``{name: covid, start: 2020-02-19, end: 2020-03-23}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    start: str
    end: str


class Shock(BaseModel):
    """A hypothetical move: ``market`` (every asset) or one of ``groups`` by ``shock`` (e.g. -0.3)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    shock: float = Field(..., gt=-1)
    group: str | None = None


@dataclass(frozen=True)
class Scenario:
    """One scenario: its name, kind, and per-asset return [N] (NaN = not covered)."""

    name: str
    kind: str
    returns: np.ndarray
    start: str = ""
    end: str = ""


class StressTests(BaseModel):
    """Scenarios applied to each decision's book and to the final book.

    Examples
    --------
    >>> StressTests(shocks=[Shock(name="market -20%", shock=-0.2)]).shocks[0].shock
    -0.2
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: list[PositiveInt] = Field(default_factory=lambda: [5, 20])
    n_worst: PositiveInt = 3
    windows: list[NamedWindow] = Field(default_factory=list)
    shocks: list[Shock] = Field(default_factory=list)
    groups: dict[str, list[str]] = Field(default_factory=dict)

    def scenarios(self, panel: BarPanel) -> list[Scenario]:
        """Every scenario over ``panel``'s assets."""
        close = panel.close
        out: list[Scenario] = []
        for days in self.days:
            for rank, (a, b) in enumerate(worst_windows(close, days, self.n_worst), start=1):
                out.append(self._window(panel, f"worst {days}-bar #{rank}", a, b))
        for w in self.windows:
            stamps = panel.timestamps
            lo = int(np.searchsorted(stamps, np.datetime64(w.start, "us")))
            hi = int(np.searchsorted(stamps, np.datetime64(w.end, "us"), side="right")) - 1
            if 0 < lo <= hi:
                out.append(self._window(panel, w.name, lo, hi))
        for s in self.shocks:
            r = np.full(panel.n_assets, s.shock)
            if s.group is not None:
                if s.group not in self.groups:
                    raise ValueError(f"shock '{s.name}': unknown group '{s.group}' (groups: {sorted(self.groups)})")
                r = np.where(np.isin(np.asarray(panel.symbols, dtype=object), self.groups[s.group]), s.shock, 0.0)
            out.append(Scenario(s.name, "hypothetical", r))
        return out

    def _window(self, panel: BarPanel, name: str, a: int, b: int) -> Scenario:
        """Returns from the close before bar ``a`` to the close of bar ``b``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            r = panel.close[b] / panel.close[a - 1] - 1.0
        day = lambda i: str(panel.timestamps[i])[:10]  # noqa: E731
        return Scenario(name, "historical", r, day(a), day(b))


def book_pnl(weights: np.ndarray, scenario: Scenario) -> tuple[float, float]:
    """P&L as a fraction of NAV, and the fraction of gross exposure the scenario covers."""
    ok = np.isfinite(scenario.returns)
    gross = float(np.abs(weights).sum())
    covered = float(np.abs(weights[ok]).sum()) / gross if gross > 0 else 1.0
    return float(weights[ok] @ scenario.returns[ok]), covered


def worst_windows(close: np.ndarray, days: int, n: int) -> list[tuple[int, int]]:
    """``n`` non-overlapping (first bar, last bar) windows of ``days`` bars with the worst market return."""
    with np.errstate(divide="ignore", invalid="ignore"):
        daily = close[1:] / close[:-1] - 1.0
    valid = np.isfinite(daily).any(axis=1)
    market = np.where(valid, np.nanmean(np.where(np.isfinite(daily), daily, np.nan), axis=1), 0.0)
    if market.size < days:
        return []
    growth = np.log1p(market)
    csum = np.r_[0.0, np.cumsum(growth)]
    rolling = csum[days:] - csum[:-days]  # window over daily[i : i + days] = bars i+1 .. i+days
    order = np.argsort(rolling, kind="stable")
    taken = np.zeros(rolling.size, bool)
    out: list[tuple[int, int]] = []
    for i in order:
        if len(out) == n:
            break
        if taken[max(0, i - days + 1) : i + days].any():
            continue
        taken[i] = True
        out.append((int(i) + 1, int(i) + days))
    return out


def stress_report(
    tests: StressTests, panel: BarPanel, books: list[tuple[int, np.ndarray]], final: np.ndarray
) -> dict[str, Any]:
    """Per scenario: P&L of the final book, the worst over decisions' books, and each decision's P&L."""
    scenarios = _scenarios(tests, panel)
    rows = []
    for s in scenarios:
        ok = np.isfinite(s.returns)
        covered = s.returns[ok]
        pnls = [float(w[ok] @ covered) for _, w in books]  # book_pnl's P&L, the scenario's mask taken once
        final_pnl, coverage = book_pnl(final, s)
        rows.append(
            {
                "scenario": s.name,
                "kind": s.kind,
                "start": s.start,
                "end": s.end,
                "final_book_pnl": final_pnl,
                "final_book_coverage": coverage,
                "worst_decision_pnl": min(pnls) if pnls else 0.0,
                "decision_pnl": pnls,
            }
        )
    return {
        "scenarios": rows,
        "decisions": [str(panel.timestamps[t])[:10] for t, _ in books],
    }


_SCENARIOS: dict[tuple[str, str], list[Scenario]] = {}  # (panel fingerprint, tests) -> scenarios, a few kept


def _scenarios(tests: StressTests, panel: BarPanel) -> list[Scenario]:
    """``tests.scenarios(panel)``, once per panel content and tests in this process (a sweep's runs share them)."""
    key = (panel.fingerprint(), tests.model_dump_json())
    found = _SCENARIOS.get(key)
    if found is None:
        found = tests.scenarios(panel)
        for s in found:
            s.returns.flags.writeable = False  # shared between runs: read only
        if len(_SCENARIOS) >= 4:
            _SCENARIOS.pop(next(iter(_SCENARIOS)))
        _SCENARIOS[key] = found
    return found
