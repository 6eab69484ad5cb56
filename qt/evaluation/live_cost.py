"""What live cost: a live run's NAV against the backtest of the same config over the same bars, explained.

Both runs are read from their result files only (fills, orders, decisions, events, equity). At
the last bar T both share, each run's NAV is exactly

    NAV_T = capital + sum over fills of (q * (P_T - p) - fee)

(q signed shares, p fill price, P_T the symbol's mark at T), so the difference live - backtest
splits, order by order, into lines that add up to it. Orders are matched on (decision time,
symbol), several fills of one order summed (q, q * p, fees):

- **slippage**: both filled, on the same bar: ``q_live * (p_backtest - p_live)``;
- **timing**: both filled, on different bars (a late fill), or a backtest order live decided late (a
  decision due while qt was down, made at the restart): the same formula;
- **fees**: ``fees_backtest - fees_live`` over every fill;
- **rejected / denied / lost / not filled**: the backtest's fill had no live fill, and the live order
  ended so: ``-(q * (P_T - p))`` of the backtest's fill;
- **halts**: the same, where live was halted (an order refused or cancelled ``halted: ...`` or on stale data, or a
  backtest decision while a live stop's halt lasted or after live's last decision in a run that
  ended halted);
- **missed decisions**: a backtest decision with no live decision at that bar (and no halt);
- **quantities**: both traded but different shares (the knock-on of an earlier difference):
  ``(q_live - q_backtest) * (P_T - p_backtest)``, and a backtest order live's decision did not make;
- **orders only live made** (a flatten, a stop that fired only live);
- **residual**: whatever the lines do not explain (cash moved outside fills, adopted positions).

Every line is in the account's currency; negative means live made less than the backtest.

Examples
--------
>>> LINES[0], LINES[-1]
('slippage', 'residual')
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qt.evaluation.run_data import RunData, RunDirError, naive_utc

if TYPE_CHECKING:
    import pandas as pd

FILE = "live_cost.json"
LINES = (
    "slippage",
    "timing",
    "fees",
    "rejected",
    "denied",
    "lost",
    "not_filled",
    "halts",
    "missed_decisions",
    "quantities",
    "live_only",
    "residual",
)
LABELS = {
    "slippage": "slippage (fill price vs the backtest's, same bar)",
    "timing": "timing (filled on another bar)",
    "fees": "fees",
    "rejected": "orders rejected by the broker",
    "denied": "orders denied by qt's guard",
    "lost": "orders lost or never sent",
    "not_filled": "orders cancelled or still working",
    "halts": "halts (decisions and orders while halted)",
    "missed_decisions": "missed decisions",
    "quantities": "different quantities (knock-on of earlier differences)",
    "live_only": "orders only live made",
    "residual": "residual (not explained by fills)",
}
HALTED = "halted"


@dataclass(frozen=True)
class CostLine:
    """One line of the attribution: its key, label, contribution to live - backtest NAV, and orders involved."""

    key: str
    label: str
    value: float
    orders: int


@dataclass(frozen=True)
class LiveCost:
    """Live NAV minus the backtest's at their last common bar, split into ``lines`` (residual last)."""

    at: str
    live_nav: float
    backtest_nav: float
    capital: float
    lines: tuple[CostLine, ...]
    stamps: np.ndarray  # the common bars
    live_curve: np.ndarray
    backtest_curve: np.ndarray

    @property
    def total(self) -> float:
        """Live NAV - backtest NAV at ``at``."""
        return self.live_nav - self.backtest_nav

    def line(self, key: str) -> float:
        """One line's value (0.0 for a line that is not there)."""
        return next((x.value for x in self.lines if x.key == key), 0.0)

    def as_dict(self) -> dict[str, Any]:
        """The numbers as JSON-ready data (what ``live_cost.json`` holds)."""
        return {
            "at": self.at,
            "live_nav": self.live_nav,
            "backtest_nav": self.backtest_nav,
            "difference": self.total,
            "difference_bps_of_capital": self.total / self.capital * 1e4 if self.capital else None,
            "lines": [
                {
                    "key": x.key,
                    "label": x.label,
                    "value": x.value,
                    "orders": x.orders,
                    "bps_of_capital": x.value / self.capital * 1e4 if self.capital else None,
                }
                for x in self.lines
            ],
        }


def attribute(live: RunData, backtest: RunData) -> LiveCost:
    """Explain ``live.nav - backtest.nav`` at their last common bar; RunDirError when they share no bar."""
    common = np.intersect1d(live.timestamps, backtest.timestamps)
    if common.size == 0:
        raise RunDirError(
            f"{live.run_dir} and {backtest.run_dir} share no bar: compare a live run with the backtest of its own bars"
        )
    end = common[-1]
    marks = _marks_at(end, live, backtest)
    lv, bt = _orders(live, end), _orders(backtest, end)
    live_decided = set(_decision_times(live))
    halted = _halted(live, end)
    values = dict.fromkeys(LINES, 0.0)
    counts = dict.fromkeys(LINES, 0)

    def add(key: str, value: float, n: int = 1) -> None:
        values[key] += value
        counts[key] += n

    b_fills, l_fills = bt["fills"], lv["fills"]
    late = _late(b_fills, l_fills, lv["status"], live_decided, _decision_times(backtest), halted)
    for key, (qb, cb, _fb, barb) in b_fills.items():
        mark = marks.get(key[1], math.nan)
        if key in l_fills or key in late:
            ql, cl, _fl, barl = l_fills[late.get(key, key)]
            if qb != 0.0:
                price = (cb - cl) + (ql - qb) * cb / qb  # = q_live * (p_backtest - p_live); exactly 0 when equal
                add("slippage" if barl == barb and key not in late else "timing", price)
                add("quantities", (ql - qb) * (mark - cb / qb), 0 if ql == qb else 1)
            else:
                add("quantities", (ql * mark - cl) - (qb * mark - cb))
            continue
        add(_why_missing(key, lv["status"], live_decided, halted), -(qb * mark - cb))
    paired = set(late.values())
    for key, (ql, cl, _fl, _bar) in l_fills.items():
        if key not in b_fills and key not in paired:
            add("live_only", ql * marks.get(key[1], math.nan) - cl)
    fees_b = sum(f for _, _, f, _ in b_fills.values())
    fees_l = sum(f for _, _, f, _ in l_fills.values())
    values["fees"], counts["fees"] = fees_b - fees_l, len(l_fills)
    live_nav, bt_nav = _nav_at(live, end), _nav_at(backtest, end)
    explained = sum(v for k, v in values.items() if k != "residual")
    values["residual"] = (live_nav - bt_nav) - explained
    lines = tuple(CostLine(k, LABELS[k], float(values[k]), counts[k]) for k in LINES)
    lc, bc = _curve(live, common), _curve(backtest, common)
    return LiveCost(str(end)[:19].replace("T", " "), live_nav, bt_nav, backtest.capital, lines, common, lc, bc)


def write_json(cost: LiveCost, path: Path) -> None:
    """``live_cost.json``: the numbers of :func:`attribute` (NaN as null)."""
    from qt.config.jsonsafe import dumps

    path.write_text(dumps(cost.as_dict()))


def read_json(path: Path) -> dict[str, Any]:
    """A saved ``live_cost.json``."""
    return dict(json.loads(path.read_text()))


# -- reading the result files ------------------------------------------------------------------------------------
def _orders(run: RunData, end: np.datetime64) -> dict[str, Any]:
    """Per (decision time, symbol) up to ``end``: summed fills (q, q*p, fees, first fill bar), and order statuses."""
    orders = _orders_frame(run)
    fills = run.fills
    decided = dict(zip(orders["order_id"].to_numpy(), naive_utc(orders["decided_at"]), strict=True))
    out: dict[tuple[np.datetime64, str], list[Any]] = {}
    if len(fills):
        stamps = naive_utc(fills["timestamp"])
        sign = np.where(fills["side"].to_numpy() == "buy", 1.0, -1.0)
        q = sign * fills["quantity"].to_numpy(np.float64)
        p = fills["price"].to_numpy(np.float64)
        f = fills["fees"].to_numpy(np.float64)
        for i, (oid, sym) in enumerate(zip(fills["order_id"].to_numpy(), fills["symbol"].astype(str), strict=True)):
            if stamps[i] > end or oid not in decided:
                continue
            row = out.setdefault((decided[oid], sym), [0.0, 0.0, 0.0, stamps[i]])
            row[0] += q[i]
            row[1] += q[i] * p[i]
            row[2] += f[i]
            row[3] = min(row[3], stamps[i])
    status: dict[tuple[np.datetime64, str], list[tuple[str, str]]] = {}
    for t, sym, st, reason in zip(
        naive_utc(orders["decided_at"]), orders["symbol"].astype(str), orders["status"].astype(str),
        orders["reason"].astype(str), strict=True,
    ):  # fmt: skip
        if t <= end:
            status.setdefault((t, sym), []).append((st, reason))
    return {"fills": {k: tuple(v) for k, v in out.items()}, "status": status}


def _orders_frame(run: RunData) -> pd.DataFrame:
    import pandas as pd

    path = run.run_dir / "orders.parquet"
    if not path.is_file():
        raise RunDirError(f"{run.run_dir}: no orders.parquet; the attribution needs every order's outcome")
    return pd.read_parquet(path)


def _decision_times(run: RunData) -> np.ndarray:
    if run.decisions is not None and len(run.decisions):
        return naive_utc(run.decisions["timestamp"])
    if len(run.weights):
        return np.unique(naive_utc(run.weights["timestamp"]))
    return np.zeros(0, dtype="datetime64[us]")


def _why_missing(
    key: tuple[np.datetime64, str],
    status: dict[tuple[np.datetime64, str], list[tuple[str, str]]],
    live_decided: set[Any],
    halted: Any,
) -> str:
    """The line a backtest fill that live never made belongs to."""
    outcomes = status.get(key)
    if outcomes:
        st, reason = outcomes[-1]
        if reason.startswith((HALTED, "trading is halted", "stale data")):  # the guard's refusals while halted
            return "halts"
        if st == "rejected":
            return "rejected"
        if st == "denied":
            return "denied"
        if st in ("lost", "not_sent"):
            return "lost"
        return "not_filled"
    if key[0] in live_decided:
        return "quantities"
    return "halts" if halted(key[0]) else "missed_decisions"


def _late(
    b_fills: dict[Any, Any],
    l_fills: dict[Any, Any],
    status: dict[Any, Any],
    live_decided: set[Any],
    bt_decided: np.ndarray,
    halted: Any,
) -> dict[tuple[np.datetime64, str], tuple[np.datetime64, str]]:
    """Backtest orders live placed late (a decision made at a restart after its bar passed while qt was down).

    A backtest fill with no live order and no live decision at its bar is paired with live's first fill
    of the same symbol decided after it and before the backtest's next decision (at a bar where the
    backtest did not decide); the pair counts as timing (price) and quantities (size).
    """
    bt_times = np.unique(bt_decided)
    taken: set[tuple[np.datetime64, str]] = set()
    out = {}
    for key in sorted(k for k in b_fills if k not in l_fills):
        t, sym = key
        if key in status or t in live_decided or halted(t):
            continue
        after = bt_times[bt_times > t]
        until = after[0] if after.size else None
        options = sorted(
            k for k in l_fills
            if k[1] == sym and k not in b_fills and k not in taken and k[0] > t and (until is None or k[0] < until)
        )  # fmt: skip
        if options:
            out[key] = options[0]
            taken.add(options[0])
    return out


def _halted(live: RunData, end: np.datetime64) -> Any:
    """Whether live was halted at a bar (a predicate).

    Halted: within a stop's halt (until its resume), or after live's last decision in a run that ended halted.
    """
    spans: list[tuple[np.datetime64, np.datetime64]] = []
    ev = live.events
    if ev is not None and len(ev):
        stamps, kinds, halts = naive_utc(ev["timestamp"]), ev["kind"].astype(str).to_numpy(), ev["halt"].to_numpy()
        since = None
        for t, k, h in zip(stamps, kinds, halts, strict=True):
            if bool(h) and since is None:
                since = t
            elif k == "resume" and since is not None:
                spans.append((since, t))
                since = None
        if since is not None:
            spans.append((since, end))
    if str(live.metrics.get("trading_state", "")).lower() == HALTED:
        decided = _decision_times(live)
        after = decided.max() if decided.size else live.timestamps[0]
        spans.append((after + np.timedelta64(1, "us"), end))

    def halted(t: np.datetime64) -> bool:
        return any(a <= t <= b for a, b in spans)

    return halted


def _marks_at(end: np.datetime64, live: RunData, backtest: RunData) -> dict[str, float]:
    """Each symbol's mark at ``end``: the final marks of a run whose last bar is ``end``."""
    for run in (live, backtest):
        if run.timestamps[-1] == end and run.final_marks:
            return run.final_marks
    raise RunDirError(
        f"no final prices at {end} in {live.run_dir} or {backtest.run_dir} (performance.json): "
        "run `qt tearsheet` on each run first, or compare runs that end on the same bar"
    )


def _nav_at(run: RunData, end: np.datetime64) -> float:
    i = int(np.searchsorted(run.timestamps, end))
    return float(run.nav[i])


def _curve(run: RunData, stamps: np.ndarray) -> np.ndarray:
    return np.asarray(run.nav[np.searchsorted(run.timestamps, stamps)], dtype=np.float64)
