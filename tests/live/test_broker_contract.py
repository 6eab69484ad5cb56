"""The broker contract's burst verb, one suite for every broker: the paper broker and IB through the gateway simulator.

``place_many`` sends a decision's burst in one call: every order reaches the broker exactly once and
in the burst's order, its outcome arrives through ``updates``, and what the broker cannot take is
returned with why (never raised). The IB side is the real ``IBBroker`` over the real ib_async client
against qt's gateway simulator on loopback; placements are counted from the simulator's record of
every PLACE_ORDER message, and the paper broker's from its book.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from paper_kit import placements

from qt.data.sources.sample import SampleData
from qt.enums import OrderStatus
from qt.execution.simulator import ExecutionSimulator
from qt.live.broker import Broker, BrokerOrder, Execution
from qt.live.history import BarRow
from qt.live.paper.broker import PaperBroker
from qt.live.store import EventKind

sys.path.insert(0, str(Path(__file__).parent / "ib"))
from ibharness import open_venue

ADAPTERS = ["paper", "ib"]
BURST = [("AAPL", 10.0), ("MSFT", -4.0), ("KO", 7.0)]


@dataclass
class Rig:
    """A broker under test and how to see its side: placements per client order id, in the order received."""

    broker: Broker
    received: Callable[[], list[str]]

    def placed(self) -> Counter[str]:
        """How many times each client order id reached the broker."""
        return Counter(self.received())

    async def executions(self, n: int, timeout: float = 10.0) -> list[Execution]:
        """The executions reported through ``updates`` once there are ``n`` (or what came within ``timeout``)."""
        seen: list[Execution] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while len(seen) < n and loop.time() < end:
            seen += [x for x in self.broker.updates() if isinstance(x, Execution)]
            await asyncio.sleep(0.01)
        return seen


@asynccontextmanager
async def paper_rig(panel: Any, folder: Path) -> AsyncIterator[Rig]:
    """The paper broker over the sample's symbols, having seen its last bar (fills at that close)."""
    broker = PaperBroker.open(execution=ExecutionSimulator(), symbols=panel.symbols, state_dir=folder, capital=1e6,
                              run_name="contract")  # fmt: skip
    t = panel.n_bars - 1
    broker.on_bar(BarRow(panel.timestamps[t], {f: a[t] for f, a in panel.fields.items()}))

    def received() -> list[str]:
        return [str(e.payload["client_order_id"]) for e in broker.book.events(kinds=[EventKind.INTENT])] + [
            k for k, n in placements(broker.book).items() for _ in range(n - 1)
        ]

    try:
        yield Rig(broker, received)
    finally:
        broker.close()


@asynccontextmanager
async def ib_rig(panel: Any, folder: Path) -> AsyncIterator[Rig]:
    """qt's IBBroker connected to the gateway simulator (market orders fill at the last price)."""
    from qt.live.ibsim.simulator import GatewaySimulator

    async with GatewaySimulator(panel=panel, start=-5) as gw:
        venue = await open_venue(gw, folder)
        try:
            yield Rig(venue.broker, lambda: [m.decoded.get("order_ref", "") for m in gw.record.placements()])
        finally:
            await venue.close()
        assert gw.errors == []


@pytest.fixture(scope="module")
def sample() -> Any:
    """The bundled sample (its last bar prices every symbol of the burst)."""
    panel = SampleData().load()
    assert np.isfinite(panel.close[-1, [panel.symbols.index(s) for s, _ in BURST]]).all()
    return panel


def rig(adapter: str, panel: Any, folder: Path) -> Any:
    return paper_rig(panel, folder) if adapter == "paper" else ib_rig(panel, folder)


def run(coro: Any, timeout: float = 30.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_burst_reaches_the_broker_once_per_order_in_its_order(adapter: str, sample: Any, tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(adapter, sample, tmp_path) as r:
            orders = [BrokerOrder(f"burst-{i}", s, q) for i, (s, q) in enumerate(BURST)]
            assert r.broker.place_many(orders) == {}
            executions = await r.executions(len(orders))
            assert sorted((x.client_order_id, x.symbol, x.quantity) for x in executions) == sorted(
                (o.client_order_id, o.symbol, o.quantity) for o in orders
            )
            assert r.received() == [o.client_order_id for o in orders]  # each once, in the burst's order
            for o in orders:
                state = r.broker.order(o.client_order_id)
                assert state is not None and state.status is OrderStatus.FILLED
            assert r.broker.positions() == pytest.approx({s: q for s, q in BURST})

    run(body())


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_empty_burst_sends_nothing(adapter: str, sample: Any, tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(adapter, sample, tmp_path) as r:
            assert r.broker.place_many([]) == {}
            await asyncio.sleep(0.2)
            assert r.placed() == Counter() and r.broker.positions() == {}

    run(body())


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_burst_the_broker_cannot_take_comes_back_with_why_and_never_reaches_it(
    adapter: str, sample: Any, tmp_path: Path
) -> None:
    """IB while disconnected: every order is returned with the reason ``place`` would raise; nothing is sent.

    The paper broker is never unavailable (it has no connection): its burst is taken whole.
    """

    async def body() -> None:
        async with rig(adapter, sample, tmp_path) as r:
            orders = [BrokerOrder(f"down-{i}", s, q) for i, (s, q) in enumerate(BURST)]
            if adapter == "paper":
                assert r.broker.place_many(orders) == {}
                assert r.placed() == Counter({o.client_order_id: 1 for o in orders})
                return
            r.broker.available = False  # what the connection manager sets on a drop
            refused = r.broker.place_many(orders)
            assert list(refused) == [o.client_order_id for o in orders]
            assert all("disconnected from the IB gateway" in why for why in refused.values())
            await asyncio.sleep(0.3)
            assert r.placed() == Counter()

    run(body())


def test_the_burst_the_paper_broker_fills_is_priced_per_order_as_one_batch(sample: Any, tmp_path: Path) -> None:
    """A burst's fills equal the same orders placed one by one (the fill model is elementwise)."""

    async def body() -> None:
        async with paper_rig(sample, tmp_path / "burst") as burst, paper_rig(sample, tmp_path / "single") as single:
            orders = [BrokerOrder(f"o{i}", s, q) for i, (s, q) in enumerate(BURST)]
            burst.broker.place_many(orders)
            for o in orders:
                single.broker.place(o)
            a = [(x.client_order_id, x.price, x.fees) for x in await burst.executions(3)]
            b = [(x.client_order_id, x.price, x.fees) for x in await single.executions(3)]
            close = {s: float(sample.close[-1, sample.symbols.index(s)]) for s, _ in BURST}
            assert a == b == [(f"o{i}", close[s], 0.0) for i, (s, _) in enumerate(BURST)]

    run(body())
