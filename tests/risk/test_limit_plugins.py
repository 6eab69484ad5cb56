"""A pre-trade limit and a post-trade stop written as plugins (one file each in a strategies/ folder, one YAML
entry each) bind in a backtest run by the CLI, with their reasons in orders.parquet and events.parquet."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

LIMIT = '''
"""Cap every order at max_shares shares (a plugin limit: one file)."""
import numpy as np
from pydantic import PositiveFloat
from qt.risk.limits import PreTradeLimit, Proposal


class MaxShares(PreTradeLimit):
    max_shares: PositiveFloat

    def apply(self, proposal: Proposal) -> None:
        q = proposal.quantities
        text = np.array([f"{abs(x):.0f} shares > max_shares {self.max_shares:g}" for x in q], dtype=object)
        proposal.breach(self.action, np.abs(q) > self.max_shares, text, np.sign(q) * self.max_shares)
'''

STOP = '''
"""Flatten and halt once NAV falls below a floor (a plugin stop: one file)."""
from qt.risk.stops import BookMarks, PostTradeStop, RiskEvent


class NavFloor(PostTradeStop):
    floor: float

    def check(self, marks: BookMarks) -> RiskEvent | None:
        if marks.nav >= self.floor:
            return None
        return RiskEvent(marks.t, "nav_floor", f"NAV {marks.nav:.0f} < floor {self.floor:g}", 0.0, True)
'''

RISK = """
# A user's risk config: the default sizing, plus the two plugins.
sizing: {_target_: qt.risk.sizing.Sizer}
limits:
  - {_target_: strategies.max_shares.MaxShares, max_shares: 200}
post_trade:
  - {_target_: strategies.nav_floor.NavFloor, floor: FLOOR}
var: null
stress: null
"""


def test_plugin_limit_and_stop_bind_with_their_reasons(qt_cli, tmp_path):
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "max_shares.py").write_text(textwrap.dedent(LIMIT))
    (tmp_path / "strategies" / "nav_floor.py").write_text(textwrap.dedent(STOP))
    (tmp_path / "conf" / "risk").mkdir(parents=True)
    out = tmp_path / "run"
    args = (
        "strategy=equal_weight",
        "data=synthetic",
        "data.n_assets=4",
        "data.n_days=300",
        "data.seed=1",
        "capital=100000",
    )
    # first a run without the stop's floor biting, to find a floor that NAV does cross
    (tmp_path / "conf" / "risk" / "plugins.yaml").write_text(RISK.replace("FLOOR", "0"))
    common = (*args, f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "risk=plugins")
    first = qt_cli("run", *common, f"hydra.run.dir={tmp_path / 'free'}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    equity = pd.read_parquet(tmp_path / "free" / "equity.parquet")
    orders = pd.read_parquet(tmp_path / "free" / "orders.parquet")
    clipped = orders[orders.reason.str.contains("max_shares 200")]
    assert len(clipped) > 0 and (orders.quantity.abs() <= 200 + 1e-9).all()
    assert (clipped.quantity.abs() == 200).all()
    assert clipped.reason.str.match(r"^clipped: \d+ shares > max_shares 200$").all()

    assert equity.nav.min() < 100_000, "the synthetic path must dip below the starting capital"
    floor = 100_000 - (100_000 - float(equity.nav.min())) / 2
    crossed = equity.index[equity.nav.to_numpy() < floor]
    assert len(crossed) and crossed[0] > 0
    (tmp_path / "conf" / "risk" / "plugins.yaml").write_text(RISK.replace("FLOOR", repr(floor)))
    second = qt_cli("run", *common, f"hydra.run.dir={out}", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    events = pd.read_parquet(out / "events.parquet")
    assert events.kind.tolist() == ["nav_floor"]
    assert f"< floor {floor:g}" in " ".join(map(str, events.iloc[0].tolist()))
    halted_at = pd.Timestamp(events.timestamp.iloc[0])
    eq = pd.read_parquet(out / "equity.parquet").set_index("timestamp")
    # the book is identical to the free run up to the stop bar, flat (all cash) after it
    free = equity.set_index("timestamp")
    before = eq.index < halted_at
    np.testing.assert_array_equal(eq.nav[before], free.nav[before])
    assert (eq.gross_exposure[eq.index > halted_at] == 0).all()
    assert eq.nav[eq.index >= halted_at].nunique() == 1
