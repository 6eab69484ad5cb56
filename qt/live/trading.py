"""The one owner of a live run's trading state: ACTIVE / REDUCING / HALTED, its typed cause and its resume rule.

The store holds the state; this object is the only code of the live node that changes it, and
every change is one recorded ``trading_state`` event with its :class:`~qt.enums.HaltCause`. The
driver, the router, the guard, recovery and ``qt live`` read it here (or from the store), never
keep a copy. Each cause ends by its own rule:

- ``drawdown_stop``: after the stop's ``resume_after`` bars (the session says when);
- ``stale_data``: as soon as bars arrive again;
- ``daily_loss``, ``broker_rejects``, ``reconciliation``, ``operator``: by the operator (``qt live resume``).
"""

from __future__ import annotations

import datetime as dt
import logging
from enum import StrEnum

import numpy as np

from qt.engine.ledger import Ledger
from qt.engine.session import SessionState
from qt.enums import HaltCause, TradingState
from qt.live.store import LiveStore, TradingStatus

log = logging.getLogger("qt")


class ResumeRule(StrEnum):
    """How a halt of a given cause ends."""

    AFTER_BARS = "after_bars"  # the stop's resume_after bars (the session's resume_at)
    FRESH_DATA = "fresh_data"  # the next bar that arrives
    OPERATOR = "operator"  # qt live resume


RESUME_RULES: dict[HaltCause, ResumeRule] = {
    HaltCause.NONE: ResumeRule.OPERATOR,
    HaltCause.DRAWDOWN_STOP: ResumeRule.AFTER_BARS,
    HaltCause.DAILY_LOSS: ResumeRule.OPERATOR,
    HaltCause.STALE_DATA: ResumeRule.FRESH_DATA,
    HaltCause.BROKER_REJECTS: ResumeRule.OPERATOR,
    HaltCause.RECONCILIATION: ResumeRule.OPERATOR,
    HaltCause.OPERATOR: ResumeRule.OPERATOR,
}
STOP_CAUSES = frozenset({HaltCause.DRAWDOWN_STOP, HaltCause.DAILY_LOSS})  # their own stop orders stay working
STOP_KINDS = {"drawdown_stop": HaltCause.DRAWDOWN_STOP, "daily_loss": HaltCause.DAILY_LOSS}  # RiskEvent.kind -> cause


def stop_cause(kind: str) -> HaltCause:
    """The cause of a halt a post-trade stop's event ``kind`` makes (a custom stop counts as a drawdown stop)."""
    return STOP_KINDS.get(kind, HaltCause.DRAWDOWN_STOP)


class TradingControl:
    """Reads and changes the trading state of ``store``; every change is one event with its cause.

    Examples
    --------
    >>> import tempfile
    >>> from qt.live.store import open_store
    >>> with tempfile.TemporaryDirectory() as folder, open_store(state_dir=folder, run_name="demo") as store:
    ...     control = TradingControl(store)
    ...     _ = control.halt(HaltCause.STALE_DATA, "stale data: no bar for 60 s")
    ...     halted = control.state.value, control.cause.value, control.rule.value
    ...     _ = control.fresh_data()
    ...     halted, control.state.value, control.cause.value
    (('halted', 'stale_data', 'fresh_data'), 'active', 'stale_data')
    """

    def __init__(self, store: LiveStore) -> None:
        self.store = store
        self._status = store.trading_state()
        self._proposed: TradingState | None = None  # what the session set within the bar being stepped

    # -- reading -----------------------------------------------------------------------
    @property
    def status(self) -> TradingStatus:
        """State, reason, since when and cause, as last read or written."""
        return self._status

    @property
    def state(self) -> TradingState:
        """The recorded trading state: what the guard enforces (a stop's own orders still pass in its bar)."""
        return self._status.state

    @property
    def session_state(self) -> TradingState:
        """What the session sees: within a bar, what its stops just set, until the driver records it."""
        return self._proposed if self._proposed is not None else self._status.state

    @property
    def cause(self) -> HaltCause:
        """The typed cause of the last change."""
        return self._status.cause

    @property
    def reason(self) -> str:
        """Why, in words (shown by ``qt live status``)."""
        return self._status.reason

    @property
    def rule(self) -> ResumeRule:
        """How the current halt ends."""
        return RESUME_RULES[self.cause]

    @property
    def keeps_stop_orders(self) -> bool:
        """A halt a post-trade stop made: its own flatten or de-risk orders stay working (as in a backtest)."""
        return self._status.state is TradingState.HALTED and self.cause in STOP_CAUSES

    def refresh(self) -> bool:
        """Read the store again (``qt live halt/resume/flatten`` from another process); whether the state changed."""
        before = self._status.state
        self._status = self.store.trading_state()
        return self._status.state is not before

    # -- changing ------------------------------------------------------------------------
    def propose(self, state: TradingState) -> None:
        """The session changed state in memory during a step (a stop halts, or its halt ends); recorded next."""
        self._proposed = None if state is self._status.state else TradingState(state)

    def halt(self, cause: HaltCause, reason: str, *, time: dt.datetime | None = None) -> TradingStatus:
        """HALTED for ``cause`` (one event)."""
        return self._set(TradingState.HALTED, cause, reason, time)

    def reduce(self, cause: HaltCause, reason: str, *, time: dt.datetime | None = None) -> TradingStatus:
        """REDUCING for ``cause``: only orders that shrink a position may go (one event)."""
        return self._set(TradingState.REDUCING, cause, reason, time)

    def resume(self, cause: HaltCause, reason: str, *, time: dt.datetime | None = None) -> TradingStatus:
        """ACTIVE again; ``cause`` is the halt's that ended (one event)."""
        return self._set(TradingState.ACTIVE, cause, reason, time)

    def fresh_data(self, *, time: dt.datetime | None = None) -> bool:
        """A bar arrived: a stale-data halt ends (recorded with an alert); whether it did."""
        if self._status.state is not TradingState.HALTED or self.cause is not HaltCause.STALE_DATA:
            return False
        self.resume(HaltCause.STALE_DATA, "fresh data: bars arrive again", time=time)
        self.store.record_alert("fresh data: bars arrive again; trading resumes", time=time)
        return True

    def _set(self, state: TradingState, cause: HaltCause, reason: str, time: dt.datetime | None) -> TradingStatus:
        before = self._status.state
        self._status = self.store.set_trading_state(state, reason, time=time, cause=cause)
        self._proposed = None
        if before is not state:
            log.warning("trading state %s -> %s (%s: %s)", before.value, state.value, cause.value, reason)
        return self._status


class ControlledState(SessionState):
    """The session's state whose trading state is ``control``'s: read through it, and a stop's change proposed to it."""

    def __init__(
        self, control: TradingControl, *, ledger: Ledger, peak: float, previous: float, resume_at: int | None = None,
        last_target: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        self.control = control
        super().__init__(ledger, peak, previous, control.state, resume_at, last_target)

    @property
    def trading(self) -> TradingState:
        """The control's state as the session sees it (its own stop's change included)."""
        return self.control.session_state

    @trading.setter
    def trading(self, value: TradingState) -> None:
        self.control.propose(value)
