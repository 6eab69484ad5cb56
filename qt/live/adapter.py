"""What the live node needs from a broker: the adapter contract every broker (paper, IB, a plugin) implements.

A broker is a component: ``conf/broker/NAME.yaml`` names its adapter with ``_target_`` (built
through the allowlist like every other component) and holds its settings. The node hands the
adapter a :class:`NodeContext` and gets back a :class:`BrokerLink`, one connection for one run,
which the node drives through its fixed sequence: ``connect`` (fail closed) -> reconcile ->
restore -> ``warm_up`` -> re-attach -> ``start`` -> drive (``on_bar`` each bar) -> ``flush`` ->
``close``. A new broker is one package (an adapter and its link) plus one YAML file; the node
does not change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from qt.data.panel import BarPanel
from qt.execution.simulator import ExecutionSimulator
from qt.live.broker import Broker
from qt.live.feeds import Feed
from qt.live.history import BarRow, History
from qt.live.settings import LiveSettings
from qt.live.store import LiveStore

Alert = Callable[[str, str], None]  # (message, severity: info | warning | critical): recorded, logged, reported
Resync = Callable[[], Awaitable[None]]  # after a reconnect and resynchronization: book the news, reconcile


@dataclass(frozen=True)
class NodeContext:
    """What the node gives an adapter when a run opens.

    ``panel`` is the configured data (a replay plays it; a real broker takes its symbols and fields);
    ``execution`` the run's fill model (timing, slippage, costs); ``store`` the run's state store
    (read-only for adapters, except through ``alert``); ``resync`` the node's resynchronization,
    to be called by the adapter's connection manager after a reconnect.
    """

    panel: BarPanel
    execution: ExecutionSimulator
    capital: float
    settings: LiveSettings
    folder: Path
    store: LiveStore
    alert: Alert
    resync: Resync


@dataclass(frozen=True)
class Warmup:
    """The bars before the first live one (decisions need their history) and the feed of live bars."""

    history: History
    feed: Feed
    missed: int = 0  # bars that passed while qt was down, queued first in the feed (marked, no decision but one late)


@runtime_checkable
class BrokerLink(Protocol):
    """One run's connection to a broker, driven by the node in a fixed order."""

    broker: Broker  # what the order router sends to and learns fills from
    market_clock: bool  # True: the order-rate guard counts market time (a replay), not wall time

    async def connect(self) -> None:
        """Connect and synchronize positions, orders and executions; raise (fail closed) unless complete.

        Nothing may be written to the store here: the node refuses some folders only after connecting.
        """
        ...

    def now(self) -> dt.datetime:
        """The run's present (UTC): the replay's last bar before the next one, or the wall clock."""
        ...

    async def warm_up(self) -> Warmup:
        """The history up to the first bar not yet recorded in the store, and the feed from there."""
        ...

    def on_bar(self, bar: BarRow) -> None:
        """A bar arrived (before the session steps it): the broker sees the market."""
        ...

    def start(self) -> None:
        """Everything is restored and re-attached: begin live bars and accept orders."""
        ...

    async def flush(self) -> None:
        """The feed ended or a stop was asked: send what is still queued inside qt, let the news arrive."""
        ...

    def bars(self) -> BarPanel:
        """Every bar this run knows by index (the result files are cut from it)."""
        ...

    async def close(self) -> None:
        """Release the connection, subscriptions and files (idempotent)."""
        ...


@runtime_checkable
class BrokerAdapter(Protocol):
    """A broker's configuration, built from ``conf/broker/*.yaml``; opens one link per run."""

    def open(self, ctx: NodeContext) -> BrokerLink:
        """The link for one run (nothing connects before ``BrokerLink.connect``)."""
        ...
