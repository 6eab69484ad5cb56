"""No account id, password or webhook URL anywhere a live run writes: the store, logs, ``.hydra/``, the state folder.

Marker secrets are planted through the environment ($QT_IB_ACCOUNT, the password in $QT_LIVE_PG_DSN,
$QT_SLACK_WEBHOOK_URL) and through command-line overrides (live.store.dsn, broker.account); then every
file under the test's folder is read byte by byte, every table of every store is dumped, and every line
the processes printed is searched.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from live_procs import RUN, qt

from qt.enums import TradingState
from qt.live.store import open_state_dir

pytestmark = pytest.mark.slow


def _markers() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {
        "account": f"DU{tag.upper()}",
        "pg_password": f"pgpw{tag}",
        "webhook": f"http://127.0.0.1:9/services/T{tag}/B{tag}/hook{tag}",
    }


def _leaks(
    secrets: Iterable[str], roots: Iterable[Path], texts: dict[str, str], *, skip: Iterable[Path] = ()
) -> list[str]:
    """Where any secret (or a distinctive part of it) appears: file paths and names of texts."""
    needles = {s.encode() for s in secrets} | {s.rsplit("/", 1)[-1].encode() for s in secrets}
    skipped = set(skip)
    found = []
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p not in skipped):
            data = path.read_bytes()
            found += [f"{path}: {n.decode()}" for n in needles if n in data]
    for name, text in texts.items():
        found += [f"{name}: {n.decode()}" for n in needles if n in text.encode()]
    return found


def _sqlite_dump(path: Path) -> str:
    """Every row of every table of a SQLite file."""
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(f"{t}: {row!r}" for t in tables for row in conn.execute(f'SELECT * FROM "{t}"'))


def _outputs(*done: subprocess.CompletedProcess) -> dict[str, str]:
    return {" ".join(map(str, d.args[3:6])): d.stdout + d.stderr for d in done}


def test_a_paper_run_keeps_environment_secrets_out_of_everything_it_writes(tmp_path: Path) -> None:
    m = _markers()
    env = {
        "QT_IB_ACCOUNT": m["account"],
        "QT_LIVE_PG_DSN": f"postgresql://qt:{m['pg_password']}@127.0.0.1:5432/live",
        "QT_SLACK_WEBHOOK_URL": m["webhook"],  # port 9: the post fails at once, and the failure is logged
    }
    state, run = tmp_path / "state", tmp_path / "run"
    done = qt("run", *RUN, "report=slack", f"live.state_dir={state}", f"hydra.run.dir={run}", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "slack" in (run / "run.log").read_text().lower()  # the reporter ran (and failed) with the URL in hand
    halted = qt("live", "halt", "--state-dir", str(state), "--reason", "check", cwd=tmp_path, env=env)
    status = qt("live", "status", "--state-dir", str(state), "--json", cwd=tmp_path, env=env)
    assert halted.returncode == status.returncode == 0
    assert (run / ".hydra" / "config.yaml").exists() and (state / "config.yaml").exists()
    dumps = {
        "state.sqlite": _sqlite_dump(state / "state.sqlite"),
        "paper-broker/state.sqlite": _sqlite_dump(state / "paper-broker" / "state.sqlite"),
    }
    assert "decision" in dumps["state.sqlite"] and "intent" in dumps["paper-broker/state.sqlite"]
    assert _leaks(m.values(), [tmp_path], {**_outputs(done, halted, status), **dumps}) == []


@pytest.mark.postgres
def test_a_postgres_store_keeps_the_dsn_password_out(tmp_path: Path, postgres: str) -> None:
    import psycopg
    from psycopg import sql

    m = _markers()
    parts = urlsplit(postgres)
    if parts.scheme not in ("postgresql", "postgres"):
        pytest.skip(f"the test DSN is not a URL ({parts.scheme!r}); the password cannot be planted")
    real = parts.password  # a server with password auth: its real password is the secret to look for

    def with_password(password: str) -> str:
        host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
        return urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}:{real or password}@{host}"))

    namespace = f"qt_test_live_secrets_{uuid.uuid4().hex[:10]}"
    state, run = tmp_path / "state", tmp_path / "run"
    override_dsn = with_password(m["pg_password"])  # given on the command line
    env_dsn = with_password(m["pg_password"] + "env")  # what `qt live` reads from the environment
    try:
        done = qt(
            "run", *RUN, "live.store.kind=postgres", f"+live.store.dsn={override_dsn}",
            f"+live.store.namespace={namespace}", "live.start=2000-11-01", f"live.state_dir={state}",
            f"hydra.run.dir={run}", cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        env = {"QT_LIVE_PG_DSN": env_dsn}
        halted = qt("live", "halt", "--state-dir", str(state), cwd=tmp_path, env=env)
        status = qt("live", "status", "--state-dir", str(state), "--json", cwd=tmp_path, env=env)
        assert halted.returncode == status.returncode == 0, halted.stderr + status.stderr
        with open_state_dir(state, dsn=postgres) as store:
            assert store.trading_state().state is TradingState.HALTED
            assert store.meta().kind == "postgres"
        with psycopg.connect(postgres, connect_timeout=5) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [namespace]
            )]  # fmt: skip
            dump = "\n".join(
                f"{t}: {row!r}"
                for t in tables
                for row in conn.execute(
                    sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(namespace), sql.Identifier(t))
                )
            )
        assert "decision" in dump and "intent" in dump
        secrets = [m["pg_password"], m["pg_password"] + "env", *([real] if real else [])]
        assert _leaks(secrets, [tmp_path], {**_outputs(done, halted, status), "postgres": dump}) == []
    finally:
        with psycopg.connect(postgres, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(namespace)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_ib_rehearsal_keeps_the_account_id_out(tmp_path: Path) -> None:
    """Against ``qt ib-gateway`` with the marker as its paper account: given by override and by environment."""
    m = _markers()
    port = _free_port()
    gateway_out = tmp_path / "gateway.out"
    with gateway_out.open("w") as out:
        gateway = subprocess.Popen(
            [sys.executable, "-m", "qt", "ib-gateway", "--port", str(port), "--data", "synthetic", "--assets", "4",
             "--days", "260", "--start", "40", "--bar-interval", "0.2", "--account", m["account"]],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in gateway_out.read_text():
            assert gateway.poll() is None and time.monotonic() < deadline, gateway_out.read_text()
            time.sleep(0.1)
        state, run = tmp_path / "state", tmp_path / "run"
        env = {"QT_IB_ACCOUNT": m["account"]}
        done = qt(
            "run", "mode=live", "broker=ib", f"broker.port={port}", "broker.stop_after_bars=3",
            f"broker.account={m['account']}", *(a for a in RUN if a.startswith(("data", "strategy", "report"))),
            f"live.state_dir={state}", f"hydra.run.dir={run}", cwd=tmp_path, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        status = qt("live", "status", "--state-dir", str(state), "--json", cwd=tmp_path, env=env)
        assert status.returncode == 0, status.stderr
        dump = _sqlite_dump(state / "state.sqlite")
        assert "fill" in dump  # the rehearsal traded: orders and executions went through the account
        assert (run / ".hydra" / "overrides.yaml").read_text().count("broker.account=<redacted>") == 1
        leaks = _leaks([m["account"]], [tmp_path], {**_outputs(done, status), "store": dump}, skip=[gateway_out])
        assert leaks == []
    finally:
        gateway.send_signal(signal.SIGTERM)
        try:
            gateway.wait(timeout=10)
        except subprocess.TimeoutExpired:
            gateway.kill()
            gateway.wait(timeout=5)
    assert os.path.getsize(gateway_out) > 0
