"""A secret planted in each path of the new surfaces is written nowhere: not in any file the run or sweep wrote, nor printed.

Paths: an IB account typed in the config; ``$QT_IB_ACCOUNT`` naming an account the gateway's login does not
manage (then the login's real account is a secret too); the password of an Optuna PostgreSQL storage URL; the
password of a live store's DSN (a server that answers, and a closed port); a Ray address with credentials.
Every file under the test's folder is read byte by byte (run.log, multirun.yaml, .hydra/*, stores, results),
and so is everything the processes printed. The IB paths use ``qt ib-gateway`` (the simulator) over loopback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.errors.conftest import SMALL, run_qt

LIVE_IB = ("run", "mode=live", "broker=ib", "strategy=xmom", "portfolio=equal", "data=synthetic", "data.n_assets=4",
           "data.n_days=260", "strategy.params.lookback=10", "strategy.params.skip=0", "strategy.params.quantile=0.5",
           "strategy.params.frequency=daily", "report.tearsheet=false")  # fmt: skip


def marker(kind: str) -> str:
    return f"{kind}{uuid.uuid4().hex[:10].upper()}"


def leaks(
    secrets: Iterable[str], root: Path, *outs: subprocess.CompletedProcess, skip: Iterable[Path] = ()
) -> list[str]:
    """Where a secret appears: every file under ``root`` (but ``skip``), and each process's stdout and stderr."""
    needles = [s.encode() for s in secrets]
    skipped = set(skip)
    found = [
        f"{path}: {n.decode()}"
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p not in skipped)
        for n in needles
        if n in path.read_bytes() or n in str(path).encode()
    ]
    for i, out in enumerate(outs):
        found += [f"process {i} output: {n.decode()}" for n in needles if n in (out.stdout + out.stderr).encode()]
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[int, str, Path]]:
    """``qt ib-gateway`` on a free loopback port whose login manages one marker account: (port, account, its log)."""
    account, port = marker("DU"), free_port()
    log = tmp_path / "gateway.out"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qt", "ib-gateway", "--port", str(port), "--data", "synthetic", "--assets", "4",
             "--days", "260", "--start", "40", "--bar-interval", "0.2", "--account", account],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield port, account, log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_an_ib_account_typed_in_the_config_is_written_nowhere(tmp_path: Path, gateway) -> None:
    port, account, log = gateway
    env = {k: v for k, v in os.environ.items() if k != "QT_IB_ACCOUNT"}
    done = run_qt(tmp_path, *LIVE_IB, f"broker.port={port}", f"broker.account={account}", "broker.stop_after_bars=2",
                  "live.state_dir=state", env=env, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "state" / "state.sqlite").is_file()
    status = run_qt(tmp_path, "live", "status", "--state-dir", "state", "--json")
    assert status.returncode == 0, status.stderr
    runs = list((tmp_path / "outputs").rglob("run.log"))
    assert runs and any("ib_async" in p.read_text() for p in runs)  # ib_async's records were logged, masked
    assert leaks([account], tmp_path, done, status, skip=[log]) == []


def test_an_account_the_login_does_not_manage_is_refused_without_naming_either(tmp_path: Path, gateway) -> None:
    port, real, log = gateway
    wrong = marker("DU")
    out = run_qt(tmp_path, *LIVE_IB, f"broker.port={port}", "live.state_dir=state", env={"QT_IB_ACCOUNT": wrong},
                 timeout=120)  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        "ERROR: broker.account: the gateway's login does not manage the account in $QT_IB_ACCOUNT"
    )
    assert not (tmp_path / "state").exists()  # refused before anything was recorded
    assert leaks([real, wrong], tmp_path, out, skip=[log]) == []


@pytest.mark.postgres
def test_an_optuna_storage_password_is_written_nowhere(tmp_path: Path, postgres: str) -> None:
    optuna = pytest.importorskip("optuna")
    password, study = marker("pw"), f"qt-secrets-{uuid.uuid4().hex[:8]}"
    url = f"postgresql://postgres:{password}@127.0.0.1:5432/test"  # trust auth: any password is accepted
    try:
        out = run_qt(tmp_path, "run", "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", *SMALL[:3],
                     "strategy.params.lookback=int(interval(40,120))", f"hydra.sweeper.storage={url}",
                     f"hydra.sweeper.study_name={study}", "hydra.sweep.dir=study", "report.progress=false",
                     timeout=240)  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert len(list((tmp_path / "study").rglob("metrics.json"))) >= 2  # the trials ran
        assert (tmp_path / "study" / "multirun.yaml").is_file()
        assert leaks([password], tmp_path, out) == []
    finally:
        try:
            optuna.delete_study(study_name=study, storage=postgres)
        except Exception:
            pass


@pytest.mark.postgres
def test_a_live_store_dsn_password_is_written_nowhere(tmp_path: Path, postgres: str) -> None:
    password, namespace = marker("pw"), f"qt_secrets_{uuid.uuid4().hex[:8]}"
    live = ("run", "mode=live", "broker=paper", *SMALL, "report.tearsheet=false", "live.store.kind=postgres")
    served = f"postgresql://postgres:{password}@127.0.0.1:5432/test"
    closed = f"postgresql://postgres:{password}x@127.0.0.1:{free_port()}/test"
    try:
        done = run_qt(tmp_path, *live, f"+live.store.dsn={served}", f"+live.store.namespace={namespace}",
                      "live.state_dir=state", timeout=180)  # fmt: skip
        assert done.returncode == 0, done.stderr
        refused = run_qt(tmp_path, *live, f"+live.store.dsn={closed}", "live.state_dir=other", timeout=60)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
        assert "127.0.0.1" in refused.stderr.strip().splitlines()[-1]
        assert leaks([password], tmp_path, done, refused) == []
    finally:
        import psycopg
        from psycopg import sql

        with psycopg.connect(postgres, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(namespace)))


def test_a_ray_address_with_credentials_is_written_nowhere(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    token = marker("tok")
    sweep = ("run", "-m", "hydra/launcher=ray", *SMALL[:3], "strategy.params.lookback=63,126")
    bad = run_qt(tmp_path, *sweep, f"hydra.launcher.address=ray://qt:{token}@127.0.0.1:{free_port()}")
    shapeless = run_qt(tmp_path, *sweep, f"hydra.launcher.address=ray://qt:{token}x@127.0.0.1")
    for out in (bad, shapeless):
        assert out.returncode == 2 and "hydra.launcher.address" in out.stderr, out.stderr
    assert "ray://qt:<redacted>@127.0.0.1" in shapeless.stderr
    assert leaks([token], tmp_path, bad, shapeless) == []
