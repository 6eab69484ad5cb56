"""A maximum-drawdown stop: flatten (or de-risk) and halt when NAV falls too far below its peak."""

from __future__ import annotations

from pydantic import Field, PositiveInt

from qt.risk.stops.base import BookMarks, PostTradeStop, RiskEvent, StopAction


class DrawdownStop(PostTradeStop):
    """Stop when NAV falls ``max_drawdown`` below its running peak; trading halts.

    ``resume_after`` (bars) lets trading resume that many bars after the halt, measuring the
    next drawdown from the NAV at resumption; by default the halt lasts to the end of the run.

    Examples
    --------
    >>> DrawdownStop(max_drawdown=0.1).check(BookMarks(5, nav=85.0, peak=100.0, previous=90.0)).detail
    'drawdown 15.00% >= max_drawdown 10.00%'
    """

    max_drawdown: float = Field(..., gt=0, lt=1)
    action: StopAction = StopAction.FLATTEN
    derisk_to: float = Field(0.5, ge=0, lt=1)
    resume_after: PositiveInt | None = None

    def check(self, marks: BookMarks) -> RiskEvent | None:
        """A halting event when the drawdown from the peak reaches ``max_drawdown``."""
        if marks.peak <= 0 or 1.0 - marks.nav / marks.peak < self.max_drawdown:
            return None
        scale = 0.0 if self.action is StopAction.FLATTEN else self.derisk_to
        detail = f"drawdown {1.0 - marks.nav / marks.peak:.2%} >= max_drawdown {self.max_drawdown:.2%}"
        return RiskEvent(marks.t, "drawdown_stop", detail, scale, True, self.resume_after)
