"""``qt ib-gateway`` as users start it: a subprocess that prints its port and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

from ib_async import IB, MarketOrder, Stock

REPO = Path(__file__).resolve().parents[3]


def _line(proc: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "qt ib-gateway printed nothing"
    return proc.stdout.readline()


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "qt", "ib-gateway", *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def test_qt_ib_gateway_prints_its_port_serves_ib_async_and_stops_on_sigterm() -> None:
    proc = _start("--port", "0", "--data", "synthetic", "--assets", "3", "--days", "30", "--bar-interval", "0")
    try:
        banner = _line(proc, 30.0)
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", banner).group(1))
        assert "server version 178" in banner and "3 symbols" in banner

        async def trade() -> tuple[int, str, float]:
            ib = IB()
            await ib.connectAsync("127.0.0.1", port, clientId=3, timeout=5, raiseSyncErrors=True)
            try:
                [c] = await ib.qualifyContractsAsync(Stock("S0", "SMART", "USD"))
                t = ib.placeOrder(c, MarketOrder("BUY", 10, orderRef="cli"))
                for _ in range(200):
                    if t.orderStatus.status == "Filled":
                        break
                    await asyncio.sleep(0.01)
                return ib.client.serverVersion(), t.orderStatus.status, t.orderStatus.filled
            finally:
                ib.disconnect()

        assert asyncio.run(trade()) == (178, "Filled", 10.0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        rest = proc.stdout.read()
        assert "stopped; 1 orders, 1 executions, 1 placements received" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def test_a_busy_port_is_one_clear_line_and_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _start("--port", str(port), "--data", "synthetic", "--assets", "2", "--days", "5")
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert f"--port {port}: cannot listen on 127.0.0.1:{port}" in err and "Traceback" not in err
