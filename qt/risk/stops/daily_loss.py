"""A daily-loss limit: de-risk (or flatten) after one bar's loss of ``max_loss`` or more."""

from __future__ import annotations

from pydantic import Field

from qt.risk.stops.base import BookMarks, PostTradeStop, RiskEvent, StopAction


class DailyLossLimit(PostTradeStop):
    """Act when one bar's return is a loss of ``max_loss`` or more; trading goes on.

    Examples
    --------
    >>> DailyLossLimit(max_loss=0.05).check(BookMarks(3, nav=90.0, peak=100.0, previous=100.0)).scale
    0.5
    """

    max_loss: float = Field(..., gt=0, lt=1)
    action: StopAction = StopAction.DERISK
    derisk_to: float = Field(0.5, ge=0, lt=1)

    def check(self, marks: BookMarks) -> RiskEvent | None:
        """A de-risking event when this bar's loss reaches ``max_loss``."""
        if marks.previous <= 0 or marks.nav / marks.previous - 1.0 > -self.max_loss:
            return None
        scale = 0.0 if self.action is StopAction.FLATTEN else self.derisk_to
        detail = f"daily loss {1.0 - marks.nav / marks.previous:.2%} >= max_loss {self.max_loss:.2%}"
        return RiskEvent(marks.t, "daily_loss", detail, scale, False)
