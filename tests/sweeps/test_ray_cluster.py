"""A two-node Ray cluster on this machine (two `ray start` on loopback): a sweep's runs land on both nodes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import TINY, free_port, leaderboard, qt

RAY = Path(sys.executable).with_name("ray")


def _ports(*names: str) -> list[str]:
    return [f"--{name}={free_port()}" for name in names]


def _start(args: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run([str(RAY), "start", *args], env=env, capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _stop(temp: Path, port: int) -> None:
    """Terminate exactly the processes of this cluster: those naming its temp folder or port, and their children."""
    import psutil

    own = []
    for p in psutil.process_iter(["cmdline"]):
        args = " ".join(p.info["cmdline"] or [])
        if str(temp) in args or f":{port} " in f"{args} " or f":{port}," in args:
            own.append(p)
    for p in list(own):
        try:
            own.extend(p.children(recursive=True))
        except psutil.NoSuchProcess:
            continue
    for p in own:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(own, timeout=5)
    for p in alive:
        p.kill()


@pytest.fixture
def cluster(ray_env):
    pytest.importorskip("psutil")
    env, temp = ray_env
    env = {**os.environ, **env}
    port = free_port()
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", f"--temp-dir={temp}", "--disable-usage-stats"]
    node_ports = ("node-manager-port", "object-manager-port", "metrics-export-port", "runtime-env-agent-port")
    agent_ports = ("dashboard-agent-listen-port", "dashboard-agent-grpc-port")
    try:
        head = ["--head", f"--port={port}", "--include-dashboard=false", *_ports("ray-client-server-port")]
        _start([*head, *common, *_ports(*node_ports, *agent_ports)], env)
        _start([f"--address=127.0.0.1:{port}", *common, *_ports(*node_ports, *agent_ports)], env)
        yield f"127.0.0.1:{port}", env
    finally:
        _stop(temp, port)


def test_runs_land_on_both_nodes(cluster, tmp_path) -> None:
    address, env = cluster
    started = time.monotonic()
    qt(
        "run", "-m", "hydra/launcher=ray", f"hydra.launcher.address={address}",
        "hydra.launcher.task.scheduling_strategy=SPREAD", *TINY, "report.top_n=0",
        "strategy.params.lookback=42,63,84,105", "hydra.sweep.dir=sweep", cwd=tmp_path, env=env,
    )  # fmt: skip
    board = leaderboard(tmp_path / "sweep")
    assert list(board["status"]) == ["ok"] * 4
    nodes = set()
    for run in board.index:
        log = (tmp_path / "sweep" / str(run) / "run.log").read_text()
        found = re.search(r"ray worker: node (\w+) host \S+ pid (\d+)", log)
        assert found, log
        nodes.add(found[1])
    assert len(nodes) == 2, nodes
    assert time.monotonic() - started < 120
