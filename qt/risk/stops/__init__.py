"""Post-trade stops: one small component per stop, checked on every bar's NAV in the configured order.

``risk.post_trade`` is a list; a new stop is one file (a ``PostTradeStop`` subclass) plus a YAML entry.
"""

from qt.risk.stops.base import BookMarks, PostTradeStop, RiskEvent, StopAction
from qt.risk.stops.daily_loss import DailyLossLimit
from qt.risk.stops.drawdown import DrawdownStop

__all__ = ["BookMarks", "DailyLossLimit", "DrawdownStop", "PostTradeStop", "RiskEvent", "StopAction"]
