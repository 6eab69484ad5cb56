"""Post-trade limits: a maximum-drawdown stop and a daily-loss limit, checked on every bar's NAV.

A breach flattens the book (``flatten``) or scales every position to ``derisk_to`` of its size
(``derisk``); it is recorded as an event. A drawdown stop also halts trading for the rest of the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class StopAction(StrEnum):
    """What a post-trade breach does to the book."""

    FLATTEN = "flatten"
    DERISK = "derisk"


@dataclass(frozen=True)
class RiskEvent:
    """A post-trade breach at bar ``t``: which limit, what was seen, the scale applied to positions."""

    t: int
    kind: str
    detail: str
    scale: float
    halt: bool


class DrawdownStop(BaseModel):
    """Stop when NAV falls ``max_drawdown`` below its running peak."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_drawdown: float = Field(..., gt=0, lt=1)
    action: StopAction = StopAction.FLATTEN
    derisk_to: float = Field(0.5, ge=0, lt=1)


class DailyLossLimit(BaseModel):
    """Act when one bar's return is a loss of ``max_loss`` or more."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_loss: float = Field(..., gt=0, lt=1)
    action: StopAction = StopAction.DERISK
    derisk_to: float = Field(0.5, ge=0, lt=1)


class PostTradeLimits(BaseModel):
    """The post-trade limits of a run; each may be null.

    Examples
    --------
    >>> limits = PostTradeLimits(drawdown=DrawdownStop(max_drawdown=0.1))
    >>> limits.check(5, nav=85.0, peak=100.0, previous=90.0)[0].detail
    'drawdown 15.00% >= max_drawdown 10.00%'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    drawdown: DrawdownStop | None = None
    daily_loss: DailyLossLimit | None = None

    def check(self, t: int, *, nav: float, peak: float, previous: float) -> list[RiskEvent]:
        """Events triggered at bar ``t`` (the drawdown stop first)."""
        events = []
        dd = self.drawdown
        if dd is not None and peak > 0 and 1.0 - nav / peak >= dd.max_drawdown:
            scale = 0.0 if dd.action is StopAction.FLATTEN else dd.derisk_to
            detail = f"drawdown {1.0 - nav / peak:.2%} >= max_drawdown {dd.max_drawdown:.2%}"
            events.append(RiskEvent(t, "drawdown_stop", detail, scale, True))
        dl = self.daily_loss
        if dl is not None and previous > 0 and nav / previous - 1.0 <= -dl.max_loss:
            scale = 0.0 if dl.action is StopAction.FLATTEN else dl.derisk_to
            detail = f"daily loss {1.0 - nav / previous:.2%} >= max_loss {dl.max_loss:.2%}"
            events.append(RiskEvent(t, "daily_loss", detail, scale, False))
        return events
