"""``qt ib-gateway --state FILE`` and ``--record FILE``: the account outlives the gateway process, every message is on disk.

Real processes (the gateway is ``python -m qt ib-gateway``, stopped with SIGTERM and started again) and the real
ib_async client, directly or under qt's own IB stack (router, store, IBBroker, reconnecting IBConnection).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Stock
from ibharness import ib_commission, open_venue

from qt.data.sources.synthetic import SyntheticData
from qt.enums import OrderStatus
from qt.live.ibsim.market import MarketReplay

REPO = Path(__file__).resolve().parents[3]
DATA = ("--data", "synthetic", "--assets", "3", "--days", "60", "--bar-interval", "0")
START = 40  # bar index that is "now"


class Gateway:
    """One ``qt ib-gateway`` process; ``port`` is read from its banner."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qt", "ib-gateway", *DATA, *args],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )  # fmt: skip
        self.banner: list[str] = []
        try:
            ready, _, _ = select.select([self.proc.stdout], [], [], 30.0)
            assert ready, "qt ib-gateway printed nothing in 30 s"
            for _ in range(1 + ("--state" in args) + ("--record" in args)):  # listening, account kept, recording
                line = self.proc.stdout.readline()
                assert line, f"qt ib-gateway ended: {self.proc.stderr.read()}"
                self.banner.append(line)
            self.port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", self.banner[0]).group(1))
        except BaseException:
            self.kill()  # never leave a gateway behind
            raise

    def stop(self) -> str:
        """SIGTERM, wait, return the rest of stdout (exit code 0 asserted)."""
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=15) == 0, self.proc.stderr.read()
        return self.proc.stdout.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _market() -> MarketReplay:
    """The bars the gateway serves (same data set and seed), with the clock at ``START``."""
    return MarketReplay(SyntheticData(n_assets=3, n_days=60, seed=0).load(), START)


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def _wait(predicate: Any, timeout: float = 5.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            return False
        await asyncio.sleep(0.02)
    return True


def test_positions_executions_resting_orders_and_next_id_survive_a_gateway_restart(tmp_path: Path) -> None:
    state, record = tmp_path / "gw.json", tmp_path / "gw.jsonl"
    price = _market().last_price("S0")
    gw = Gateway("--port", "0", "--start", str(START), "--state", str(state), "--record", str(record))
    try:

        async def first() -> tuple[int, int]:
            ib = IB()
            await ib.connectAsync("127.0.0.1", gw.port, clientId=5, timeout=5, raiseSyncErrors=True)
            [s0, s1] = await ib.qualifyContractsAsync(Stock("S0", "SMART", "USD"), Stock("S1", "SMART", "USD"))
            bought = ib.placeOrder(s0, MarketOrder("BUY", 10, orderRef="buy-s0"))
            resting = ib.placeOrder(s1, LimitOrder("BUY", 5, 0.01, orderRef="rest-s1"))  # far below the market
            assert await _wait(
                lambda: bought.orderStatus.status == "Filled" and resting.orderStatus.status == "Submitted"
            )
            ib.disconnect()
            return bought.order.orderId, resting.order.orderId

        buy_id, rest_id = asyncio.run(first())
        assert "account kept in" in gw.banner[1]
        gw.stop()
    finally:
        gw.kill()
    saved = json.loads(state.read_text())
    assert saved["format"] == "qt-ib-gateway-state" and saved["next_valid_id"] == max(buy_id, rest_id) + 1

    gw = Gateway("--port", "0", "--state", str(state), "--record", str(record))  # no --start: the clock resumes
    try:
        assert "account loaded from" in gw.banner[1] and "1 positions, 2 orders, 1 executions" in gw.banner[1]

        async def second() -> dict[str, Any]:
            ib = IB()
            await ib.connectAsync("127.0.0.1", gw.port, clientId=5, timeout=5, raiseSyncErrors=True)
            seen = {
                "positions": {p.contract.symbol: (p.position, p.avgCost) for p in ib.positions()},
                "executions": [(f.execution.orderRef, f.execution.shares, f.execution.price) for f in ib.fills()],
                "commissions": [f.commissionReport.commission for f in ib.fills()],
                "open": [(t.order.orderRef, t.order.orderId, t.orderStatus.status) for t in ib.openTrades()],
                "cash": {v.tag: float(v.value) for v in ib.accountValues() if v.tag == "TotalCashValue"},
            }
            [rest] = ib.openTrades()
            ib.cancelOrder(rest.order)
            assert await _wait(lambda: rest.orderStatus.status == "Cancelled")
            ib.disconnect()
            return seen

        seen = asyncio.run(second())
        fees = ib_commission(10, price)
        assert seen["positions"] == {"S0": pytest.approx((10.0, price + fees / 10))}
        assert seen["executions"] == [("buy-s0", 10.0, pytest.approx(price))]
        assert seen["commissions"] == [pytest.approx(fees)]
        assert seen["open"] == [("rest-s1", rest_id, "Submitted")]
        assert seen["cash"]["TotalCashValue"] == pytest.approx(1_000_000.0 - 10 * price - fees)
        assert "stopped; 2 orders, 1 executions" in gw.stop()
    finally:
        gw.kill()
    lines = _records(record)
    starts = [m for m in lines if m.get("event") == "start"]
    assert [m["now"][:10] for m in starts] == [f"{_market().timestamp():%Y-%m-%d}"] * 2  # the clock kept its place
    told = [int(m["fields"]["order_id"]) for m in lines if m.get("name") == "NEXT_VALID_ID"]
    assert told == [1, max(buy_id, rest_id) + 1]  # one connection per gateway process; the id survived
    assert json.loads(state.read_text())["orders"][1]["status"] == "Cancelled"
    gw = Gateway("--port", "0", "--state", str(state), "--next-valid-id", "1")  # a restart with a lower id, as IB may
    try:
        assert "2 orders, 1 executions" in gw.banner[1] and gw.banner[1].rstrip().endswith("next order id 1")
        gw.stop()
    finally:
        gw.kill()


def _count_placements_command(record: Path) -> list[str]:
    """The one-liner docs/live.md gives for counting placements per orderRef, run as written."""
    text = (REPO / "docs" / "live.md").read_text()
    [line] = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("python -c") and "PLACE_ORDER" in ln]
    argv = shlex.split(line)
    assert argv[-1] == "gw.jsonl"
    return [sys.executable, *argv[1:-1], str(record)]


def test_a_rehearsal_across_a_gateway_restart_places_each_order_ref_once_and_the_record_shows_it(
    tmp_path: Path,
) -> None:
    state, record, port = tmp_path / "gw.json", tmp_path / "gw.jsonl", _free_port()
    account = "U7654321"  # as if the user's own account came from $QT_IB_ACCOUNT: never written to disk
    env = {"QT_IB_ACCOUNT": account}
    args = ("--port", str(port), "--start", str(START), "--account", account, "--state", str(state))
    market = _market()
    gateways = [Gateway(*args, "--record", str(record), env=env)]
    try:

        async def body() -> tuple[list[str], dict[str, float]]:
            shim = SimpleNamespace(port=port, market=market)
            v = await open_venue(shim, tmp_path / "qt", account=account)  # type: ignore[arg-type]
            v.submit({"S0": 10.0, "S1": -20.0})
            assert await v.settle(lambda: len(v.store.fills()) == 2)
            await asyncio.to_thread(gateways[0].stop)  # the gateway goes away under qt ...
            assert await _wait(lambda: not v.broker.available)
            # ... and comes back on the same port with the same account
            gateways.append(await asyncio.to_thread(Gateway, *args, "--record", str(record), env=env))
            assert await _wait(lambda: v.connection.reconnects == 1 and v.broker.available, timeout=30)
            v.router.new_bar(v.router.bar_time.replace(day=8), v.router.last_prices)
            v.submit({"S2": 5.0, "S0": 1.0})
            assert await v.settle(lambda: len(v.store.fills()) == 4)
            refs = [o.client_order_id for o in v.store.orders()]
            assert all(o.status is OrderStatus.FILLED for o in v.store.orders())
            positions = v.store.positions()
            await v.close()
            return refs, positions

        refs, positions = asyncio.run(asyncio.wait_for(body(), 60))
        assert "account loaded from" in gateways[1].banner[1] and "2 positions" in gateways[1].banner[1]
        assert account not in "".join(gateways[1].banner)
        gateways[1].stop()
    finally:
        for gw in gateways:
            gw.kill()
    assert positions == {"S0": 11.0, "S1": -20.0, "S2": 5.0}
    assert {s: q for s, (q, _) in json.loads(state.read_text())["positions"].items()} == positions

    lines = _records(record)
    placements = [m for m in lines if m.get("name") == "PLACE_ORDER"]
    assert sorted(m["order_ref"] for m in placements) == sorted(refs) and len(refs) == 4
    assert [m["event"] for m in lines if m["direction"] == "event" and m["event"] in ("start", "stop")] == [
        "start", "stop", "start", "stop",
    ]  # fmt: skip
    assert sum(m.get("event") == "open" for m in lines) >= 2  # qt connected to both gateway processes
    assert {m["direction"] for m in lines} == {"in", "out", "event"}
    assert any(m.get("name") == "EXECUTION_DATA" and m["fields"]["order_ref"] == refs[0] for m in lines)
    assert account not in record.read_text() and account not in state.read_text()

    done = subprocess.run(_count_placements_command(record), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == sorted([*refs, *["1"] * 4])

    placements[1]["order_id"] = "999"  # the same orderRef twice: the one-liner says so and exits 1
    with record.open("a") as f:
        f.write(json.dumps(placements[1]) + "\n")
    done = subprocess.run(_count_placements_command(record), capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and f"{placements[1]['order_ref']} 2" in done.stdout


def _valid_state(tmp_path: Path) -> str:
    """A real state file, written by the gateway after one fill."""
    state = tmp_path / "good.json"
    gw = Gateway("--port", "0", "--start", str(START), "--state", str(state))
    try:

        async def buy() -> None:
            ib = IB()
            await ib.connectAsync("127.0.0.1", gw.port, clientId=1, timeout=5)
            [c] = await ib.qualifyContractsAsync(Stock("S2", "SMART", "USD"))
            t = ib.placeOrder(c, MarketOrder("BUY", 3, orderRef="x"))
            assert await _wait(lambda: t.orderStatus.status == "Filled")
            ib.disconnect()

        asyncio.run(buy())
        gw.stop()
    finally:
        gw.kill()
    return state.read_text()


def test_damaged_or_foreign_state_files_are_one_clear_error_exit_2_and_left_unchanged(tmp_path: Path) -> None:
    good = _valid_state(tmp_path)
    wrong_symbol = good.replace('"S2"', '"ZZZZ"')
    assert wrong_symbol != good
    cases = {
        "truncated": (good[: len(good) // 2], "is not a JSON state file"),
        "foreign": ('{"name": "someone else\'s settings"}', "is not a qt ib-gateway state file"),
        "empty": ("", "is not a JSON state file"),
        "newer": (json.dumps({**json.loads(good), "version": 7}), "has state version 7; this qt reads version 1"),
        "damaged": (json.dumps({**json.loads(good), "cash": "lots"}), "is damaged: cash: "),
        "other-data": (wrong_symbol, "the account holds ZZZZ, which the --data served now does not have"),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        proc = subprocess.run(
            [sys.executable, "-m", "qt", "ib-gateway", *DATA, "--port", "0", "--state", str(path)],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert proc.returncode == 2, (name, proc.stderr)
        assert expected in proc.stderr and f"--state {path}" in proc.stderr, (name, proc.stderr)
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, (name, proc.stderr)
        assert path.read_text() == text, name  # nothing was written over it
        assert proc.stdout == ""  # it never started listening


def test_a_gateway_killed_right_after_a_fill_restarts_with_it(tmp_path: Path) -> None:
    state = tmp_path / "gw.json"
    gw = Gateway("--port", "0", "--start", str(START), "--state", str(state))
    try:

        async def buy() -> None:
            ib = IB()
            await ib.connectAsync("127.0.0.1", gw.port, clientId=2, timeout=5)
            [c] = await ib.qualifyContractsAsync(Stock("S1", "SMART", "USD"))
            t = ib.placeOrder(c, MarketOrder("SELL", 7, orderRef="k1"))
            assert await _wait(lambda: t.orderStatus.status == "Filled")
            await asyncio.sleep(0.2)  # the state file is written within 20 ms of a change
            gw.proc.kill()  # SIGKILL: no chance to save at stop
            gw.proc.wait(timeout=5)
            ib.disconnect()

        asyncio.run(buy())
    finally:
        gw.kill()
    gw = Gateway("--port", "0", "--state", str(state))
    try:
        assert "account loaded from" in gw.banner[1] and "1 positions, 1 orders, 1 executions" in gw.banner[1]
        gw.stop()
    finally:
        gw.kill()
    saved = json.loads(state.read_text())
    price = _market().last_price("S1")
    # IB's average cost carries the commission: a short of 7 at p costs (-7 p + fee) / -7 a share
    assert saved["positions"] == {"S1": [-7.0, pytest.approx(price - ib_commission(7, price) / 7)]}


def test_two_gateways_never_share_one_state_file(tmp_path: Path) -> None:
    state = tmp_path / "gw.json"
    first = Gateway("--port", "0", "--state", str(state))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "qt", "ib-gateway", *DATA, "--port", "0", "--state", str(state)],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert proc.returncode == 2
        assert f"--state {state}: another qt ib-gateway is using it" in proc.stderr and "Traceback" not in proc.stderr
        first.stop()
    finally:
        first.kill()


def test_help_lists_state_and_record_with_examples_and_qt_help_lists_the_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "qt", "ib-gateway", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    ).stdout
    assert "--state FILE" in out and "--record FILE" in out
    assert "qt ib-gateway --state gw.json" in out and "qt ib-gateway --record gw.jsonl" in out
    top = subprocess.run([sys.executable, "-m", "qt", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert re.search(r"^\s+ib-gateway\s", top.stdout, re.MULTILINE)
