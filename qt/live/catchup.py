"""Bars that passed while no qt process ran: one policy for every broker adapter.

After a restart the adapter fetches the bars that passed while qt was down from its feed's
history (IB: historical daily bars; a replay has none: it resumes at the first unrecorded bar)
and hands them to the driver before any live bar, flagged ``Arrival.MISSED`` and the last one
``Arrival.RESTART``. Each is stepped like a live bar: the broker's news is booked, the book is
marked at the bar's true prices, stops are checked and the bar is recorded, so the equity series
has every bar (never a NAV 0 row). No decision is made at a missed bar. When decisions were due
at missed bars, ONE decision is made late at the restart bar (with the data up to it), and an
alert names the bars that were missed; a decision due at the restart bar itself is made there as
usual (an uninterrupted run makes the same one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qt.live.history import Arrival, BarRow


@dataclass
class CatchUp:
    """Applies the policy bar by bar: ``schedule`` turns the rebalance rule's answer into what the driver does."""

    missed: list[np.datetime64] = field(default_factory=list)  # missed bars at which a decision was due
    _forced: bool = False

    def schedule(self, bar: BarRow, scheduled: bool, forced: bool) -> tuple[bool, bool, str | None]:
        """(scheduled, forced, alert) for ``bar``: no decision at a missed bar, one late at the restart bar.

        Examples
        --------
        >>> c = CatchUp()
        >>> day = lambda d, a: BarRow(np.datetime64(d, "us"), {}, a)
        >>> c.schedule(day("2024-01-31", Arrival.MISSED), True, True)
        (False, False, None)
        >>> c.schedule(day("2024-02-01", Arrival.MISSED), False, False)
        (False, False, None)
        >>> s, f, note = c.schedule(day("2024-02-02", Arrival.RESTART), False, False)
        >>> s, f, note.startswith("a decision due at 2024-01-31 was missed")
        (True, True, True)
        >>> c.schedule(day("2024-02-05", Arrival.LIVE), False, False)
        (False, False, None)
        """
        if bar.arrival is Arrival.LIVE:
            return scheduled, forced, None
        if bar.arrival is Arrival.MISSED:
            if scheduled:
                self.missed.append(bar.timestamp)
                self._forced = self._forced or forced
            return False, False, None
        if not self.missed:
            return scheduled, forced, None
        days = ", ".join(str(t)[:10] for t in self.missed)
        n = len(self.missed)
        note = (
            f"a decision due at {days} was missed while qt was down; " if n == 1
            else f"{n} decisions due at {days} were missed while qt was down; "
        ) + f"one decision is made late, at the restart bar {str(bar.timestamp)[:10]}"  # fmt: skip
        forced = forced or self._forced
        self.missed, self._forced = [], False
        return True, forced, note
