"""``broker=paper``: the paper broker as a live-node adapter, replaying the configured data.

The feed replays the configured bars from ``live.start`` (or where the state folder stopped) at
``live.speed`` / ``live.bar_seconds``; the paper broker (``qt.live.paper``) fills with the run's own
fill model and keeps its book in ``STATE_DIR/paper-broker``. The order-rate guard counts market time.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from qt.data.panel import BarPanel
from qt.errors import ConfigError
from qt.live.adapter import NodeContext, Warmup
from qt.live.feeds import ReplayFeed
from qt.live.history import BarRow, History, utc_time
from qt.live.paper.broker import PaperBroker


class PaperAdapter(BaseModel):
    """``conf/broker/paper.yaml``: simulated fills over a replay of the configured data.

    ``synchronous``: the paper book's SQLite durability (None: as ``live.store.synchronous``, else NORMAL).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    synchronous: Literal["FULL", "NORMAL"] | None = None

    def open(self, ctx: NodeContext) -> PaperLink:
        """The link for one run."""
        return PaperLink(ctx, synchronous=self.synchronous)


class PaperLink:
    """One run over the paper broker (see :class:`qt.live.adapter.BrokerLink`)."""

    market_clock = True

    def __init__(self, ctx: NodeContext, *, synchronous: Literal["FULL", "NORMAL"] | None = None) -> None:
        self.ctx = ctx
        fallback = str(ctx.settings.store.get("synchronous", "NORMAL")).upper()
        self.synchronous: Literal["FULL", "NORMAL"] = synchronous or ("FULL" if fallback == "FULL" else "NORMAL")
        self.first = start_index(ctx.panel, ctx.settings.start)
        self.resume = self.first
        self._broker: PaperBroker | None = None

    @property
    def broker(self) -> PaperBroker:
        """The paper broker (after ``connect``)."""
        if self._broker is None:
            raise RuntimeError("the paper link is not connected")
        return self._broker

    async def connect(self) -> None:
        """Open the paper book; find where the state folder stopped (refusing a folder of longer data)."""
        panel, store = self.ctx.panel, self.ctx.store
        last = store.last_bar()
        if last is not None:
            t = int(last.payload["t"])
            if t >= panel.n_bars:
                raise ConfigError(
                    "live.state_dir",
                    f"{self.ctx.folder} recorded bar {t}, but this run's data has only {panel.n_bars} bars: the "
                    "folder belongs to other data; choose another live.state_dir",
                )
            self.resume = t + 1
        self._broker = PaperBroker.open(
            execution=self.ctx.execution, symbols=panel.symbols, state_dir=self.ctx.folder,
            capital=self.ctx.capital, run_name=self.ctx.settings.name, synchronous=self.synchronous,
        )  # fmt: skip

    def now(self) -> dt.datetime:
        """The last replayed bar's time (the first bar's, for a new folder)."""
        return utc_time(self.ctx.panel.timestamps[max(self.resume - 1, 0)])

    async def warm_up(self) -> Warmup:
        """The bars before the first one not recorded, and a replay from it."""
        panel = self.ctx.panel
        feed = ReplayFeed.from_settings(panel, start=self.resume, settings=self.ctx.settings)
        return Warmup(History.of(panel, self.resume), feed)

    def on_bar(self, bar: BarRow) -> None:
        """The paper broker sees the bar (next-open orders fill at its open)."""
        if self.broker.acts_on_bar:
            self.ctx.store.sync()  # writes a replay grouped (store.hold) are committed before the book changes
        self.broker.on_bar(bar)

    def start(self) -> None:
        """Nothing to subscribe: the replay starts when the node drives it."""

    async def flush(self) -> None:
        """Nothing is queued inside qt: the paper broker fills as orders arrive."""

    def bars(self) -> BarPanel:
        """The configured data (bar numbers are its row numbers)."""
        return self.ctx.panel

    async def close(self) -> None:
        """Release the paper book."""
        if self._broker is not None:
            self._broker.close()
            self._broker = None


def start_index(panel: BarPanel, start: str | None) -> int:
    """The row of ``live.start`` in ``panel`` (0 when unset); a start after the last bar is a ConfigError."""
    if start is None:
        return 0
    i = int(np.searchsorted(panel.timestamps, np.datetime64(start, "us")))
    if i >= panel.n_bars:
        raise ConfigError("live.start", f"{start} is after the data's last bar ({panel.timestamps[-1]})")
    return i
