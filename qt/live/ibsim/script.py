"""How the gateway simulator answers orders (its per-test script) and what it records of the traffic.

A test says what happens to matching orders with ``gw.script.on_place(action, symbol=..., order_ref=...)``;
the actions are small frozen values: ``Fill`` (at once, after a delay, or in chunks), ``Rest``,
``Reject``, ``BlackHole``. Orders nothing matches are filled at once at the last price.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

from qt.live.ibsim.wire import InMsg


@dataclass(frozen=True)
class Fill:
    """Acknowledge after ``ack_delay`` s, then fill in ``chunks`` parts.

    The first part fills ``fill_delay`` s after the acknowledgement, the others ``interval`` s
    apart, at ``price`` (default: the last price at the time of each fill; a limit order away
    from the market rests until a replayed bar crosses it).

    With ``drop_connections`` every client connection is dropped right after the acknowledgement.
    """

    chunks: int = 1
    ack_delay: float = 0.0
    fill_delay: float = 0.0
    interval: float = 0.0
    price: float | None = None
    drop_connections: bool = False

    def __post_init__(self) -> None:
        if self.chunks < 1:
            raise ValueError(f"Fill.chunks must be >= 1, got {self.chunks}")


@dataclass(frozen=True)
class Rest:
    """Acknowledge (``Submitted``) after ``ack_delay`` s and leave the order working.

    It fills when a test calls ``gw.fill`` (or, for a limit order, when a replayed bar crosses its limit)
    and ends when cancelled.
    """

    ack_delay: float = 0.0
    drop_connections: bool = False


@dataclass(frozen=True)
class Reject:
    """Refuse the order with an IB error ``code`` and ``text`` (201 is IB's "Order rejected")."""

    code: int = 201
    text: str = "Order rejected - reason:rejected by the simulator's script"
    delay: float = 0.0
    drop_connections: bool = False


@dataclass(frozen=True)
class BlackHole:
    """Swallow the order: it is recorded as received but never acknowledged, booked or filled."""

    drop_connections: bool = False


OrderAction = Fill | Rest | Reject | BlackHole


class EndMarker(StrEnum):
    """End-of-list messages a script can withhold, so a client's synchronization never completes."""

    POSITION_END = "positionEnd"
    OPEN_ORDER_END = "openOrderEnd"
    COMPLETED_ORDERS_END = "completedOrdersEnd"
    EXEC_DETAILS_END = "execDetailsEnd"
    ACCOUNT_DOWNLOAD_END = "accountDownloadEnd"
    ACCOUNT_UPDATE_MULTI_END = "accountUpdateMultiEnd"
    CONTRACT_DETAILS_END = "contractDetailsEnd"


@dataclass
class _Rule:
    action: OrderAction
    symbol: str | None
    order_ref: str | None
    times: int | None

    def matches(self, symbol: str, order_ref: str) -> bool:
        return (self.symbol is None or self.symbol == symbol) and (
            self.order_ref is None or self.order_ref == order_ref
        )


@dataclass
class Script:
    """The simulator's behaviour for one test; every knob starts at "behave like a healthy gateway".

    Examples
    --------
    >>> s = Script()
    >>> s.on_place(Reject(text="no shorting"), symbol="GE", times=1)
    >>> s.action_for("GE", "r1"), s.action_for("GE", "r2")
    (Reject(code=201, text='no shorting', delay=0.0, drop_connections=False), Fill(chunks=1, ack_delay=0.0, fill_delay=0.0, interval=0.0, price=None, drop_connections=False))
    """

    withheld: set[EndMarker] = field(default_factory=set)
    bars_stopped: bool = False
    _rules: list[_Rule] = field(default_factory=list)

    def on_place(
        self, action: OrderAction, *, symbol: str | None = None, order_ref: str | None = None, times: int | None = None
    ) -> None:
        """Answer new orders matching ``symbol`` and ``order_ref`` (None: any) with ``action``.

        The latest matching rule wins; with ``times`` the rule is used that many times, then forgotten.
        """
        if times is not None and times < 1:
            raise ValueError(f"times must be >= 1 or None, got {times}")
        self._rules.append(_Rule(action, symbol, order_ref, times))

    def action_for(self, symbol: str, order_ref: str) -> OrderAction:
        """The action for a new order (consuming one use of a counted rule)."""
        for rule in reversed(self._rules):
            if rule.matches(symbol, order_ref):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times == 0:
                        self._rules.remove(rule)
                return rule.action
        return Fill()

    def clear(self) -> None:
        """Forget every order rule (back to filling at once)."""
        self._rules.clear()

    def withhold(self, *markers: EndMarker) -> None:
        """Never send these end markers (until ``release``)."""
        self.withheld.update(markers)

    def release(self, *markers: EndMarker) -> None:
        """Send these end markers again (all of them when none is named)."""
        if markers:
            self.withheld.difference_update(markers)
        else:
            self.withheld.clear()

    def stop_bars(self) -> None:
        """Stop sending real-time bars (the replay clock keeps its place)."""
        self.bars_stopped = True

    def resume_bars(self) -> None:
        """Send real-time bars again."""
        self.bars_stopped = False


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the simulator received: when, on which session, its id and its fields."""

    time: float
    session: int
    client_id: int | None
    msg_id: int
    fields: tuple[str, ...]
    decoded: dict[str, str]

    @property
    def name(self) -> str:
        """The message's name (``PLACE_ORDER``), or ``UNKNOWN_<id>``."""
        try:
            return InMsg(self.msg_id).name
        except ValueError:
            return f"UNKNOWN_{self.msg_id}"


@dataclass
class Record:
    """Every message received, in arrival order, across all sessions and restarts."""

    messages: list[ReceivedMessage] = field(default_factory=list)

    def add(self, session: int, client_id: int | None, fields: list[str], decoded: dict[str, str]) -> None:
        """Append one received message."""
        msg_id = int(fields[0]) if fields and fields[0].lstrip("-").isdigit() else -1
        self.messages.append(ReceivedMessage(time.time(), session, client_id, msg_id, tuple(fields), decoded))

    def of(self, msg: InMsg | int) -> list[ReceivedMessage]:
        """The messages with id ``msg``."""
        return [m for m in self.messages if m.msg_id == int(msg)]

    def placements(self, order_ref: str | None = None) -> list[ReceivedMessage]:
        """PLACE_ORDER messages, all of them or those carrying ``order_ref``."""
        return [m for m in self.of(InMsg.PLACE_ORDER) if order_ref is None or m.decoded.get("order_ref") == order_ref]

    def count(self, msg: InMsg | int, **decoded: str) -> int:
        """How many messages with id ``msg`` whose decoded fields equal ``decoded`` (e.g. ``order_ref="x"``)."""
        return sum(all(m.decoded.get(k) == v for k, v in decoded.items()) for m in self.of(msg))

    def max_rate(self, window: float = 1.0, *, session: int | None = None) -> int:
        """The most messages received within any ``window`` seconds (of one session, or all).

        Examples
        --------
        >>> r = Record([ReceivedMessage(t, 1, 7, 3, (), {}) for t in (0.0, 0.5, 0.9, 1.6, 1.7)])
        >>> r.max_rate(1.0)
        3
        """
        times = sorted(m.time for m in self.messages if session is None or m.session == session)
        best, first = 0, 0
        for last, t in enumerate(times):
            while t - times[first] >= window:
                first += 1
            best = max(best, last - first + 1)
        return best

    def placements_per_ref(self) -> dict[str, int]:
        """PLACE_ORDER count per orderRef."""
        counts: dict[str, int] = {}
        for m in self.placements():
            ref = m.decoded.get("order_ref", "")
            counts[ref] = counts.get(ref, 0) + 1
        return counts
