"""The post-trade stop contract: a stop watches every bar's NAV and may scale the book down.

A stop is a small frozen component with one verb, ``check``, returning a ``RiskEvent`` (or
None). The session acts on the events: it scales every position to the smallest ``scale``
and, when an event ``halt``s, stops deciding (trading state HALTED) until the event's
``resume_after`` bars have passed, if set.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class StopAction(StrEnum):
    """What a post-trade breach does to the book."""

    FLATTEN = "flatten"
    DERISK = "derisk"


@dataclass(frozen=True)
class RiskEvent:
    """A post-trade breach at bar ``t``: which stop, what was seen, the scale applied to positions, whether it halts."""

    t: int
    kind: str
    detail: str
    scale: float
    halt: bool
    resume_after: int | None = None  # for a halt: bars until trading resumes (None: to the end of the run)


@dataclass(frozen=True)
class BookMarks:
    """What a stop sees at a bar: NAV now, its running peak, and NAV at the previous bar."""

    t: int
    nav: float
    peak: float
    previous: float


class PostTradeStop(BaseModel, ABC):
    """Base of every post-trade stop."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @abstractmethod
    def check(self, marks: BookMarks) -> RiskEvent | None:
        """The event this stop raises at this bar, or None."""
