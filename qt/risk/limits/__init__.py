"""Pre-trade limits: one small component per limit, applied in the configured order.

``risk.limits`` is a list; a new limit is one file (a ``PreTradeLimit`` subclass) plus a
YAML entry naming it. The same objects run in the backtest's decision pipeline and in
live's risk guard.
"""

from qt.risk.limits.base import Checked, LimitAction, PreTradeLimit, Proposal, check_limits
from qt.risk.limits.exposure import MaxGross, MaxNet
from qt.risk.limits.notional import MaxOrderNotional
from qt.risk.limits.participation import MaxParticipation
from qt.risk.limits.position import MaxPositionWeight
from qt.risk.limits.restricted import RestrictedList

__all__ = [
    "Checked",
    "LimitAction",
    "MaxGross",
    "MaxNet",
    "MaxOrderNotional",
    "MaxParticipation",
    "MaxPositionWeight",
    "PreTradeLimit",
    "Proposal",
    "RestrictedList",
    "check_limits",
]
