"""Where live bars come from: a feed yields bars as they arrive and says when the next one is due.

``ReplayFeed`` replays a data source's bars from ``live.start`` at ``live.speed`` (``max`` or a
multiple of real time): a rehearsal of live trading on history. The IB feed lives in ``qt/live/ib``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

import numpy as np

from qt.data.panel import BarPanel
from qt.live.history import BarRow


@runtime_checkable
class Feed(Protocol):
    """Bars in time order, and when the bar after a given one is due."""

    def bars(self) -> AsyncIterator[BarRow]:
        """The bars, as they arrive."""
        ...

    def next_due(self, after: np.datetime64) -> np.datetime64 | None:
        """The time of the bar expected after ``after`` (None: no more bars are expected)."""
        ...


class ReplayFeed:
    """Bars ``start`` .. end of ``panel``, at ``speed`` x real time (``None``: as fast as possible).

    ``stall_after`` (tests and rehearsals) stops delivering after that many bars, as a feed that
    went silent would.
    """

    def __init__(
        self, panel: BarPanel, *, start: int, speed: float | None = None, stall_after: int | None = None
    ) -> None:
        self.panel = panel
        self.start = start
        self.speed = speed
        self.stall_after = stall_after
        self._times = panel.timestamps

    async def bars(self) -> AsyncIterator[BarRow]:
        """Each bar from ``start`` on; sleeps the scaled market time between bars unless speed is max."""
        fields = self.panel.fields
        for k, t in enumerate(range(self.start, self.panel.n_bars)):
            if self.stall_after is not None and k >= self.stall_after:
                await asyncio.Event().wait()  # silent forever: the driver's stale-data watchdog must notice
            if self.speed is not None and t > self.start:
                gap = (self._times[t] - self._times[t - 1]) / np.timedelta64(1, "s")
                await asyncio.sleep(float(gap) / self.speed)
            else:
                await asyncio.sleep(0)
            yield BarRow(self._times[t], {f: a[t] for f, a in fields.items()})

    def next_due(self, after: np.datetime64) -> np.datetime64 | None:
        """The data's next bar time after ``after`` (the rehearsal follows the data's own calendar)."""
        i = int(np.searchsorted(self._times, after, side="right"))
        return self._times[i] if i < len(self._times) else None
