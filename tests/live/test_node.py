"""The live node: one start sequence for every broker, folders that belong to one run, no run over a lost store.

Real ``qt`` processes on real state folders (SQLite stores, the paper broker's book): the two
commands of docs/live.md one after the other as written, a folder of other symbols refused with a
message naming both sides, a store deleted while the paper broker holds positions refused with
the folder's result files byte-identical afterwards, and a broker plugin (one module, one YAML
via ``_target_``) run through the node with no edit to qt.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from live_procs import RUN, qt

from qt.data.sources.synthetic import SyntheticData
from qt.live.identity import IDENTITY_FILE, FolderIdentity
from qt.live.store import open_state_dir, open_store

pytestmark = pytest.mark.slow
DOCS = Path(__file__).resolve().parents[2] / "docs" / "live.md"
RESULTS = ("equity.parquet", "weights.parquet", "orders.parquet", "fills.parquet", "metrics.json", "manifest.json",
           "config.yaml", IDENTITY_FILE)  # fmt: skip


def digest(folder: Path) -> dict[str, object]:
    """sha256 of every file under ``folder`` but the lock (the last process's pid); SQLite stores by content.

    A store's file bytes change when it is merely opened (SQLite's header and journal mode), so a
    store counts by what it holds: its event log, positions and cash.
    """
    out: dict[str, object] = {}
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name == "qt-live.lock" or p.name.startswith("state.sqlite-"):
            continue
        if p.name == "state.sqlite":
            with open_state_dir(p.parent) as store:
                log = [(e.seq, e.kind, e.payload) for e in store.events()]
                out[str(p.relative_to(folder))] = (log, store.positions(), store.cash())
        else:
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A paper run of live_procs.RUN replayed to its end: the state folder (positions held at the end)."""
    root = tmp_path_factory.mktemp("node")
    state = root / "state"
    done = qt("run", *RUN, f"live.state_dir={state}", f"hydra.run.dir={root / 'run'}", cwd=root, timeout=300)
    assert done.returncode == 0, done.stderr
    with open_state_dir(state) as store:
        assert store.positions()  # xmom holds the top half at the end
    return state


def _copy(finished: Path, tmp_path: Path) -> Path:
    state = tmp_path / "state"
    shutil.copytree(finished, state)
    return state


# -- the documented commands ----------------------------------------------------------------------
def test_the_two_documented_commands_run_one_after_the_other_as_written(tmp_path: Path) -> None:
    lines = DOCS.read_text().split("## Running live", 1)[1].split("```", 2)[1].splitlines()
    first, second = (shlex.split(line.split("#", 1)[0]) for line in lines[1:3])
    assert first[:4] == ["qt", "run", "mode=live", "broker=paper"] and "data=store" in second
    # the second command reads your own bars: AAPL and MSFT loaded with `qt data ingest` (docs/data.md)
    days = pd.bdate_range("2021-01-04", periods=300)
    rng = np.random.default_rng(7)
    rows = [
        {"timestamp": d.date().isoformat(), "symbol": s, "close": round(100 * float(np.exp(x)), 4)}
        for s in ("AAPL", "MSFT")
        for d, x in zip(days, np.cumsum(rng.normal(0.0003, 0.01, len(days))), strict=True)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "prices.csv", index=False)
    env = {"QT_DATA_DIR": str(tmp_path / "data")}
    assert qt("data", "ingest", "prices.csv", "--store", "duckdb", cwd=tmp_path, env=env).returncode == 0

    one = qt(*first[1:], cwd=tmp_path, env=env, timeout=900)
    assert one.returncode == 0, one.stderr
    two = qt(*second[1:], cwd=tmp_path, env=env, timeout=600)
    assert two.returncode == 0, two.stderr
    sample, store = tmp_path / "live" / "xmom-sample-paper", tmp_path / "live" / "xmom-store-paper"
    assert FolderIdentity.read(sample) == FolderIdentity("sample", FolderIdentity.read(sample).symbols, "xmom",
                                                          "xmom-sample-paper")  # fmt: skip
    assert len(FolderIdentity.read(sample).symbols) == 20
    assert FolderIdentity.read(store) == FolderIdentity("store", ("AAPL", "MSFT"), "xmom", "xmom-store-paper")
    for folder in (sample, store):
        assert all((folder / name).exists() for name in RESULTS)

    # the second command pointed at the first one's folder: refused before anything is written
    before = digest(sample)
    wrong = qt(*second[1:], f"live.state_dir={sample}", cwd=tmp_path, env=env)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    message = wrong.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert "data: sample vs store" in message and "symbols: AAPL,AMD," in message and "vs AAPL,MSFT" in message
    assert "Choose another live.state_dir" in message
    assert digest(sample) == before


# -- folders of other runs ------------------------------------------------------------------------
def test_a_folder_of_other_symbols_is_refused_naming_both_and_left_as_it_was(finished: Path, tmp_path: Path) -> None:
    state = _copy(finished, tmp_path)
    before = digest(state)
    done = qt("run", *RUN, "data.n_assets=5", f"live.state_dir={state}", f"hydra.run.dir={tmp_path / 'r'}",
              cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    message = done.stderr.strip()
    assert message.startswith(f"ERROR: live.state_dir: {state} belongs to another run")
    assert "symbols: S0,S1,S2,S3 vs S0,S1,S2,S3,S4" in message
    assert digest(state) == before


def test_identity_names_every_field_that_differs() -> None:
    folder = FolderIdentity("sample", ("AAPL", "MSFT"), "xmom", "a")
    assert folder.differences(FolderIdentity("store", ("AAPL", "MSFT"), "low_vol", "a")) == [
        "data: sample vs store", "strategy: xmom vs low_vol"
    ]  # fmt: skip
    assert folder.differences(folder) == []


# -- a lost store ---------------------------------------------------------------------------------
def test_store_deleted_while_the_broker_holds_positions_refuses_and_leaves_the_results(
    finished: Path, tmp_path: Path
) -> None:
    state = _copy(finished, tmp_path)
    with open_state_dir(state / "paper-broker") as book:
        held = book.positions()
    for suffix in ("", "-wal", "-shm"):
        (state / f"state.sqlite{suffix}").unlink(missing_ok=True)
    before = digest(state)
    args = ("run", *RUN, f"live.state_dir={state}", f"hydra.run.dir={tmp_path / 'r'}")
    done = qt(*args, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    message = done.stderr.strip()
    assert "is missing or empty, but the broker holds positions" in message
    symbol = sorted(held)[0]
    assert f"{symbol} {held[symbol]:g}" in message and "live.adopt_positions=true" in message
    assert digest(state) == before  # results untouched; no new store left behind
    assert not (state / "state.sqlite").exists()

    # an emptied store (created, nothing recorded) is refused the same way
    open_store(state_dir=state, run_name="state").close()
    emptied = qt(*args, cwd=tmp_path)
    assert emptied.returncode == 2 and "is missing or empty" in emptied.stderr
    for name in RESULTS:
        assert hashlib.sha256((state / name).read_bytes()).hexdigest() == before[name]

    # adopting the broker's positions is the way through, on purpose
    adopted = qt(*args, "live.adopt_positions=true", cwd=tmp_path, timeout=300)
    assert adopted.returncode == 0, adopted.stderr
    with open_state_dir(state) as store:
        messages = [a.payload["message"] for a in store.alerts()]
        assert any(m.startswith("adopted the broker's positions as external: ") for m in messages)


def test_a_damaged_store_is_refused_before_the_node_writes_anything(finished: Path, tmp_path: Path) -> None:
    state = _copy(finished, tmp_path)
    db = state / "state.sqlite"
    with db.open("r+b") as fh:  # cut mid-page: a truncated file
        fh.truncate(db.stat().st_size // 2 + 100)
    files = {p.name: p.read_bytes() for p in state.iterdir() if p.is_file() and p.name != "qt-live.lock"}
    done = qt("run", *RUN, f"live.state_dir={state}", f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and f"{db}" in done.stderr and "damaged" in done.stderr
    assert {p.name: p.read_bytes() for p in state.iterdir() if p.is_file() and p.name != "qt-live.lock"} == files


# -- a broker plugin ------------------------------------------------------------------------------
PLUGIN = '''
"""A broker plugin: fills each order in full at the last close it saw, a fixed fee per order, book in memory."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from qt.enums import Field, OrderStatus
from qt.live.adapter import NodeContext, Warmup
from qt.live.broker import BrokerOrder, Execution, OrderState
from qt.live.feeds import ReplayFeed
from qt.live.history import History, utc_time


class InstantBroker:
    def __init__(self, fee):
        self.fee, self.close, self.time = fee, {}, dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        self.states, self.fills, self.news = {}, [], []

    def place(self, order):
        ex = Execution("x-" + order.client_order_id, order.client_order_id, order.symbol, order.quantity,
                       self.close[order.symbol], self.fee, self.time)
        state = OrderState(order.client_order_id, order.symbol, order.quantity, OrderStatus.FILLED, order.quantity)
        self.states[order.client_order_id] = state
        self.fills.append(ex)
        self.news += [ex, state]

    def place_many(self, orders):
        for order in orders:
            self.place(order)
        return {}

    def cancel(self, client_order_id):
        return None

    def updates(self):
        out, self.news = self.news, []
        return out

    def order(self, client_order_id):
        return self.states.get(client_order_id)

    def open_orders(self):
        return []

    def positions(self):
        book = {}
        for f in self.fills:
            book[f.symbol] = book.get(f.symbol, 0.0) + f.quantity
        return {s: q for s, q in book.items() if q}

    def executions(self):
        return list(self.fills)


class InstantLink:
    market_clock = True

    def __init__(self, ctx, fee):
        self.ctx, self.broker = ctx, InstantBroker(fee)

    async def connect(self):
        return None

    def now(self):
        return utc_time(self.ctx.panel.timestamps[0])

    async def warm_up(self):
        return Warmup(History.of(self.ctx.panel, 0), ReplayFeed(self.ctx.panel, start=0))

    def on_bar(self, bar):
        self.broker.time = utc_time(bar.timestamp)
        self.broker.close = dict(zip(self.ctx.panel.symbols, bar.values[Field.CLOSE].tolist(), strict=True))

    def start(self):
        return None

    async def flush(self):
        return None

    def bars(self):
        return self.ctx.panel

    async def close(self):
        return None


class InstantAdapter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    fee: float = 0.0

    def open(self, ctx: NodeContext) -> InstantLink:
        return InstantLink(ctx, self.fee)
'''


def test_a_broker_plugin_is_one_module_and_one_yaml_run_through_the_node(tmp_path: Path) -> None:
    (tmp_path / "plugbroker").mkdir()
    (tmp_path / "plugbroker" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    (tmp_path / "conf" / "broker").mkdir(parents=True)
    (tmp_path / "conf" / "broker" / "instant.yaml").write_text(
        "# @package _global_\nbroker:\n  _target_: plugbroker.InstantAdapter\n  fee: 1.5\n"
    )
    overrides = [a for a in RUN if not a.startswith(("broker=", "live.start="))]
    done = qt("run", *overrides, "broker=instant", f"hydra.searchpath=[file://{tmp_path / 'conf'}]",
              "allowed_targets=[plugbroker.]", f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path,
              env={"PYTHONPATH": str(tmp_path)}, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    state = tmp_path / "live" / "xmom-synthetic-instant"
    panel = SyntheticData(n_assets=4, n_days=260).load()  # the run's bars, loaded independently
    close = {(str(np.datetime64(t, "D")), s): float(panel.close[i, j])
             for i, t in enumerate(panel.timestamps) for j, s in enumerate(panel.symbols)}  # fmt: skip
    with open_state_dir(state) as store:
        fills = store.fills()
        assert len(fills) > 100  # every bar decides (daily xmom over 4 assets)
        assert len(fills) == len([o for o in store.orders() if o.status == "filled"])
        for f in fills:  # each at the close of its bar, 1.5 a fill
            assert f.price == close[(f.time.date().isoformat(), f.symbol)] and f.fees == 1.5
        cash = 1e6 - sum(f.quantity * f.price + f.fees for f in fills)
        assert store.cash() == pytest.approx(cash, abs=1e-6)  # fully invested: cash is near 0
        positions = store.positions()
    last = {s: float(panel.close[-1, j]) for j, s in enumerate(panel.symbols)}
    nav = float(pd.read_parquet(state / "equity.parquet")["nav"].iloc[-1])
    assert nav == pytest.approx(cash + sum(q * last[s] for s, q in positions.items()), rel=1e-12)
    assert '"broker": "instant"' in (state / "manifest.json").read_text()
