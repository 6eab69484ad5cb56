"""Issue 18's bad inputs on the new surfaces, each run as a user would: exit 2, one line, in bounded time, nothing written.

One test per family (live settings, state folder, ``qt live``, IB connection, Optuna, Ray, joblib and
the grid sweeper, walk-forward, rerun/diff). A family's cases run as concurrent ``qt`` processes (most
of their time is start-up or waiting on a silent port); each case has its own folder, so the checks
on what was written see only that case. Only loopback addresses.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from qt.testing.servers import silent_server
from tests.errors.conftest import SMALL, result_files, run_qt

LIVE = ("run", "mode=live", "broker=paper", *SMALL)
IB = ("run", "mode=live", "broker=ib", *SMALL)
SWEEP = ("run", "-m", *SMALL[:3], "strategy.params.lookback=63,126", "report.progress=false")


@dataclass(frozen=True)
class Case:
    """``qt ARGS`` in a folder of its own: exit 2, the last stderr line holds ``fragment``, within ``within`` s."""

    name: str
    args: tuple[str, ...]
    fragment: str
    within: float = 30.0
    one_line: bool = True  # False: argparse prints its usage above the message (the last line is the message)
    absent: tuple[str, ...] = ()  # paths (relative to the case folder) that must not exist afterwards
    prepare: Callable[[Path], None] | None = field(default=None, compare=False)


def run_cases(root: Path, cases: list[Case], workers: int = 3) -> None:
    """Run every case (concurrently), then check each; every failure is reported together."""

    def one(case: Case) -> tuple[Case, subprocess.CompletedProcess, float, list[str], list[str]]:
        folder = root / case.name.replace(" ", "_").replace("/", "_")
        folder.mkdir(parents=True)
        if case.prepare is not None:
            case.prepare(folder)
        before = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if "outputs" not in p.parts)
        start = time.monotonic()
        out = run_qt(folder, *case.args, timeout=case.within + 60)
        took = time.monotonic() - start
        after = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if "outputs" not in p.parts)
        extra = [p for p in after if p not in before] + result_files(folder)
        extra += [p for p in case.absent if (folder / p).exists()]
        return case, out, took, extra, before

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, cases))
    problems = []
    for case, out, took, extra, _ in results:
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        wrong = []
        if out.returncode != 2:
            wrong.append(f"exit {out.returncode}")
        if case.fragment not in last:
            wrong.append(f"last line {last!r} lacks {case.fragment!r}")
        if case.one_line and len(lines) != 1:
            wrong.append(f"{len(lines)} lines")
        if "Traceback" in out.stderr or "a bug?" in out.stderr:
            wrong.append("traceback or 'a bug?'")
        if took > case.within:
            wrong.append(f"took {took:.1f} s > {case.within:g} s")
        if extra:
            wrong.append(f"wrote {extra}")
        if wrong:
            problems.append(f"{case.name}: {'; '.join(wrong)}\n    stderr: {out.stderr.strip()[-600:]}")
    assert not problems, "\n".join(problems)


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real paper run's state folder (``good``: its store, store.json, identity.json, results)."""
    root = tmp_path_factory.mktemp("live")
    out = run_qt(root, *LIVE, "live.state_dir=good", "report.tearsheet=false")
    assert out.returncode == 0, out.stderr
    return root / "good"


def copy_of(store: Path, name: str) -> Callable[[Path], None]:
    """A ``prepare`` copying the good state folder to ``name`` in the case folder."""
    return lambda folder: shutil.copytree(store, folder / name)


def damaged_pointer(store: Path) -> Callable[[Path], None]:
    def prepare(folder: Path) -> None:
        shutil.copytree(store, folder / "good")
        (folder / "good" / "store.json").write_text("{not json")

    return prepare


def without_events(store: Path) -> Callable[[Path], None]:
    def prepare(folder: Path) -> None:
        shutil.copytree(store, folder / "good")
        with sqlite3.connect(folder / "good" / "state.sqlite") as conn:
            conn.execute("DROP TABLE events")

    return prepare


def a_file(folder: Path) -> None:
    (folder / "afile").write_text("x")


def chattr(*args: str) -> bool:
    return subprocess.run(["chattr", *args], capture_output=True, check=False).returncode == 0


@pytest.fixture
def immutable() -> Iterator[list[Path]]:
    """Folders made immutable (``chattr +i``: unwritable even for root) by a case; made mutable again after."""
    made: list[Path] = []
    yield made
    for path in made:
        chattr("-i", str(path))


# -- live settings -------------------------------------------------------------------------
def test_live_settings_that_cannot_be_meant(tmp_path: Path) -> None:
    state = ("state",)
    run_cases(tmp_path, [
        Case("start not a day", (*LIVE, "live.state_dir=state", "live.start=2020-02-30"),
             "live.start: '2020-02-30' is not a date; write it as YYYY-MM-DD", absent=state),
        Case("speed 0", (*LIVE, "live.state_dir=state", "live.speed=0"),
             "live.speed: write a positive multiple of market time (2 = twice as fast) or max, got 0", absent=state),
        Case("store timeout 0", (*LIVE, "live.state_dir=state", "+live.store.busy_timeout_s=0"),
             "live.store.busy_timeout_s: Input should be greater than 0", absent=state),
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"start": "yesterday"}, "live.start: 'yesterday' is not a date; write it as YYYY-MM-DD"),
        ({"state_dir": ""}, "live.state_dir: write a folder, e.g. live/xmom-paper; got an empty value"),
        ({"run_name": " "}, "live.run_name: write a name, or null (the folder's); got an empty value"),
        ({"speed": -5}, "live.speed: write a positive multiple of market time (2 = twice as fast) or max, got -5"),
        ({"speed": "fast"}, "live.speed: write a positive multiple of market time (2 = twice as fast) or max"),
        ({"bar_seconds": 0}, "live.bar_seconds: Input should be greater than 0"),
        ({"ack_timeout_s": -1}, "live.ack_timeout_s: Input should be greater than 0"),
        ({"max_ack_misses": 0}, "live.max_ack_misses: Input should be greater than 0"),
        ({"max_rejects": 0}, "live.max_rejects: Input should be greater than 0"),
        ({"reject_window_minutes": 0}, "live.reject_window_minutes: Input should be greater than 0"),
        ({"stall_after": -1}, "live.stall_after: Input should be greater than or equal to 0"),
        ({"guard": {"price_collar": 2}}, "live.guard.price_collar: Input should be less than or equal to 1"),
        ({"guard": {"max_orders_per_minute": 0}}, "live.guard.max_orders_per_minute: Input should be greater than 0"),
        ({"guard": {"stale_after_s": 0}}, "live.guard.stale_after_s: Input should be greater than 0"),
    ],
)
def test_every_numeric_live_setting_is_range_checked(setting: dict, message: str) -> None:
    from omegaconf import OmegaConf

    from qt.errors import ConfigError
    from qt.runs.live import _settings

    with pytest.raises(ConfigError) as err:
        _settings(OmegaConf.create({"live": setting}))
    assert str(err.value).startswith(message), str(err.value)


# -- the state folder ----------------------------------------------------------------------
def test_a_state_folder_that_cannot_be_one(tmp_path: Path, live_store: Path, immutable: list[Path]) -> None:
    cases = [
        Case("a file", (*LIVE, "live.state_dir=afile"), "live.state_dir: afile is a file, not a folder",
             prepare=a_file),
        Case("under a file", (*LIVE, "live.state_dir=afile/sub/state"),
             "live.state_dir: afile is a file, so afile/sub/state cannot be a folder", prepare=a_file),
        Case("under /proc", (*LIVE, f"live.state_dir=/proc/qt-state-{tmp_path.name}"),
             f"live.state_dir: cannot create /proc/qt-state-{tmp_path.name}"),
    ]  # fmt: skip
    probe = tmp_path / "probe"
    probe.mkdir()
    if chattr("+i", str(probe)):  # root ignores permissions, not the immutable attribute
        chattr("-i", str(probe))

        def locked_new(folder: Path) -> None:
            (folder / "state").mkdir()
            immutable.append(folder / "state")
            assert chattr("+i", str(folder / "state"))

        def locked_store(folder: Path) -> None:
            shutil.copytree(live_store, folder / "good")
            immutable.append(folder / "good")
            assert chattr("+i", str(folder / "good"))

        cases += [
            Case("unwritable empty folder", (*LIVE, "live.state_dir=state"),
                 "live.state_dir: cannot write in state (Operation not permitted)", prepare=locked_new),
            Case("store in an unwritable folder", (*LIVE, "live.state_dir=good", "live.run_name=good"),
                 "cannot open the live state store good/state.sqlite: SQLite could not create its -shm/-wal files",
                 prepare=locked_store),
            Case("qt live status, unwritable folder", ("live", "status", "--state-dir", "good"),
                 "make good writable for this user", prepare=locked_store),
        ]  # fmt: skip
    run_cases(tmp_path, cases)


# -- qt live -------------------------------------------------------------------------------
def test_qt_live_on_bad_folders_and_flags(tmp_path: Path, live_store: Path) -> None:
    run_cases(tmp_path, [
        Case("status, damaged store.json", ("live", "status", "--state-dir", "good"),
             "good/store.json is damaged (not a JSON object with kind and namespace)", prepare=damaged_pointer(live_store)),
        Case("halt, damaged store.json", ("live", "halt", "--state-dir", "good"),
             "good/store.json is damaged", prepare=damaged_pointer(live_store)),
        Case("status, no events table", ("live", "status", "--state-dir", "good"),
             "good/state.sqlite is damaged: the tables events are missing", prepare=without_events(live_store)),
        Case("run, no events table", (*LIVE, "live.state_dir=good", "live.run_name=good"),
             "good/state.sqlite is damaged: the tables events are missing", prepare=without_events(live_store)),
        Case("status --timeout -1", ("live", "status", "--state-dir", "good", "--timeout", "-1"),
             "argument --timeout: write a positive number of seconds (e.g. 10), got '-1'", one_line=False,
             prepare=copy_of(live_store, "good")),
        Case("status --timeout 0", ("live", "status", "--state-dir", "good", "--timeout", "0"),
             "argument --timeout: write a positive number of seconds", one_line=False,
             prepare=copy_of(live_store, "good")),
        Case("status of a file", ("live", "status", "--state-dir", "afile"), "--state-dir afile is a file, not a folder",
             prepare=a_file),
        Case("status of no folder", ("live", "resume", "--state-dir", "nowhere"), "--state-dir nowhere: no such folder"),
        Case("status of a run folder", ("live", "status", "--state-dir", "."), "no live state store here"),
    ])  # fmt: skip


# -- IB connection -------------------------------------------------------------------------
def test_ib_unreachable_gateways_and_bad_settings(tmp_path: Path) -> None:
    state = ("state",)
    with silent_server() as silent:
        run_cases(tmp_path, [
            Case("black-hole gateway", (*IB, "live.state_dir=state", f"broker.port={silent}"),
                 f"could not connect to the gateway at 127.0.0.1:{silent}: TimeoutError (within "
                 "broker.connect_timeout_s=10); gave up after 2 attempts in 2", within=45, absent=state),
            Case("closed port", (*IB, "live.state_dir=state", "broker.port=1"),
                 "no IB gateway at 127.0.0.1:1: start TWS or IB Gateway", within=30, absent=state),
            Case("client id past 32 bits", (*IB, "live.state_dir=state", "broker.client_id=2147483648"),
                 "broker.client_id: should be less than or equal to 2147483647, got 2147483648", absent=state),
            Case("empty host", (*IB, "live.state_dir=state", "broker.host=''"),
                 "broker.host: write the gateway's host name or address (e.g. 127.0.0.1)", absent=state),
        ], workers=4)  # fmt: skip


def test_ib_gateway_options_that_cannot_be_meant(tmp_path: Path) -> None:
    gw = ("ib-gateway", "--port", "0")  # any free port: a case that wrongly started would not take 4002
    run_cases(tmp_path, [
        Case("port past 65535", (*gw, "--port", "99999"), "--port must be 0..65535, got 99999", within=10),
        Case("no stocks", (*gw, "--assets", "0"), "--assets must be >= 1, got 0", within=10),
        Case("negative days", (*gw, "--days", "-5"), "--days must be >= 1, got -5", within=10),
        Case("negative cash", (*gw, "--cash", "-1"), "--cash must be > 0 USD, got -1", within=10),
        Case("negative interval", (*gw, "--bar-interval", "-1"), "--bar-interval must be >= 0 seconds", within=10),
    ])  # fmt: skip


def test_the_default_ib_connect_budget_is_under_30_seconds() -> None:
    """Attempts x timeout plus the longest backoffs between them (jitter at its maximum) stays under 30 s."""
    from qt.live.ib.config import IBSettings

    s = IBSettings()
    worst = s.connect_attempts * s.connect_timeout_s
    worst += sum(min(s.reconnect_cap_s, s.reconnect_base_s * 2**k) * (1 + s.reconnect_jitter)
                 for k in range(s.connect_attempts - 1))  # fmt: skip
    assert worst <= 22.5, worst  # 2 x 10 s + 1.25 s: the rest of 30 s is qt's start-up


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"port": 0}, "port: should be greater than or equal to 1"),
        ({"port": 65536}, "port: should be less than or equal to 65535"),
        ({"client_id": -1}, "client_id: should be greater than or equal to 0"),
        ({"host": " "}, "host: write the gateway's host name or address"),
        ({"connect_timeout_s": 0}, "connect_timeout_s: should be greater than 0"),
        ({"request_timeout_s": -1}, "request_timeout_s: should be greater than 0"),
        ({"limit_offset_bps": -1}, "limit_offset_bps: should be greater than or equal to 0"),
        ({"limit_offset_bps": 10_000}, "limit_offset_bps: should be less than 10000"),
        ({"bar_settle_s": 0}, "bar_settle_s: should be greater than 0"),
        ({"reconnect_base_s": 0}, "reconnect_base_s: should be greater than 0"),
        ({"reconnect_jitter": 1}, "reconnect_jitter: should be less than 1"),
        ({"connect_attempts": 0}, "connect_attempts: should be greater than 0"),
        ({"alert_after_disconnect_minutes": 0}, "alert_after_disconnect_minutes: should be greater than 0"),
        ({"max_messages_per_second": 46}, "max_messages_per_second: should be less than or equal to 45"),
        ({"burst_messages": 41}, "burst_messages (41) must not exceed max_messages_per_second (40)"),
        ({"reconnect_base_s": 100}, "reconnect_base_s (100) must not exceed reconnect_cap_s (60)"),
        ({"min_server_version": 180}, "min_server_version (180) must not exceed max_server_version (178)"),
        ({"warmup": "2y"}, "warmup: write an IB duration"),
        ({"stop_after_bars": 0}, "stop_after_bars: should be greater than 0"),
    ],
)
def test_every_numeric_ib_setting_is_range_checked(setting: dict, message: str) -> None:
    from qt.config.instantiate import build
    from qt.errors import ConfigError

    node = {"_target_": "qt.live.ib.adapter.IBAdapter", **setting}
    with pytest.raises(ConfigError) as err:
        build(node, "broker")
    assert message in str(err.value), str(err.value)


# -- Optuna (H-research's own tests cover every storage case; these are the first ones) ----------------
def test_optuna_settings_that_cannot_be_meant(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    base = ("run", "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", *SMALL[:3],
            "strategy.params.lookback=int(interval(40,120))")  # fmt: skip
    run_cases(tmp_path, [
        Case("n_trials 0", (*base, "hydra.sweeper.n_trials=0"), "hydra.sweeper.n_trials: must be >= 1, got 0"),
        Case("n_jobs 0", (*base, "hydra.sweeper.n_jobs=0"), "hydra.sweeper.n_jobs: must be >= 1 or -1"),
        Case("grid with an interval", (*base, "hydra.sweeper.sampler=grid"), "sampler=grid needs choices"),
        Case("storage on a closed port", (*base, "hydra.sweeper.storage=postgresql://qt@127.0.0.1:1/db"),
             "hydra.sweeper.storage"),
        Case("storage not a URL", (*base, "hydra.sweeper.storage=just-a-name"), "'just-a-name' is not a database URL"),
    ])  # fmt: skip


# -- Ray -----------------------------------------------------------------------------------
def test_ray_addresses_that_answer_nothing(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    ray = (*SWEEP, "hydra/launcher=ray")
    fix = "start the cluster there"
    nothing = ("outputs/multirun",)
    with silent_server() as silent:
        run_cases(tmp_path, [
            Case("nothing listening", (*ray, "hydra.launcher.address=127.0.0.1:1"),
                 f"hydra.launcher.address: nothing listens at 127.0.0.1:1 (connection refused): {fix}", within=20,
                 absent=nothing),
            Case("never answers", (*ray, f"hydra.launcher.address=127.0.0.1:{silent}"),
                 f"hydra.launcher.address: no Ray cluster answered at 127.0.0.1:{silent} within 10 s "
                 "(hydra.launcher.connect_timeout_s)", within=30, absent=nothing),
            Case("malformed", (*ray, "hydra.launcher.address='not an address'"),
                 "hydra.launcher.address: 'not an address' is not a Ray address; write HOST:PORT", absent=nothing),
        ])  # fmt: skip


@pytest.mark.parametrize(
    ("options", "key", "message"),
    [
        ({"address": "127.0.0.1:99999"}, "hydra.launcher.address", "'127.0.0.1:99999' is not a Ray address"),
        ({"address": "http://127.0.0.1:6379"}, "hydra.launcher.address", "is not a Ray address"),
        ({"address": "ray://u:pw@127.0.0.1"}, "hydra.launcher.address", "'ray://u:<redacted>@127.0.0.1' is not"),
        ({"num_cpus": 0}, "hydra.launcher.num_cpus", "write a whole number of CPUs >= 1"),
        ({"connect_timeout_s": 0}, "hydra.launcher.connect_timeout_s", "write seconds in (0, 120]"),
        ({"connect_timeout_s": 600}, "hydra.launcher.connect_timeout_s", "write seconds in (0, 120]"),
        ({"task": {"num_cpus": -1}}, "hydra.launcher.task.num_cpus", "write a number >= 0"),
        ({"task": {"max_retries": -2}}, "hydra.launcher.task.max_retries", "write a number >= -1"),
    ],
)
def test_every_ray_launcher_setting_is_checked(options: dict, key: str, message: str) -> None:
    pytest.importorskip("ray")
    from hydra_plugins.qt_sweeps.ray_launcher import RayLauncher
    from qt.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        RayLauncher(**options)._check_settings()
    assert err.value.key == key and message in str(err.value), str(err.value)


def test_the_ray_address_check_passes_a_real_cluster() -> None:
    """The gRPC greeting the check expects is what a real GCS answers (a local Ray started in this process)."""
    ray = pytest.importorskip("ray")
    from hydra_plugins.qt_sweeps.ray_address import check_answers

    ray.init(num_cpus=1, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        port = ray.get_runtime_context().gcs_address.rsplit(":", 1)[1]
        start = time.monotonic()
        check_answers(f"127.0.0.1:{port}", 5)
        assert time.monotonic() - start < 2
    finally:
        ray.shutdown()


# -- joblib and the grid sweeper -----------------------------------------------------------
def test_joblib_and_grid_settings_that_cannot_be_meant(tmp_path: Path) -> None:
    nothing = ("outputs/multirun",)
    run_cases(tmp_path, [
        Case("n_jobs 0", (*SWEEP, "hydra/launcher=joblib", "hydra.launcher.n_jobs=0"),
             "hydra.launcher.n_jobs: write a number of worker processes >= 1, or -1 for every core", absent=nothing),
        Case("max_batch_size 0", (*SWEEP, "hydra.sweeper.max_batch_size=0"),
             "hydra.sweeper.max_batch_size: write a whole number of runs >= 1", absent=nothing),
        Case("submitit timeout 0", (*SWEEP, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=0"),
             "hydra.launcher.timeout_min: write a whole number >= 1, got 0", absent=nothing),
    ])  # fmt: skip


@pytest.mark.parametrize(
    "key", ["timeout_min", "cpus_per_task", "tasks_per_node", "mem_gb", "nodes", "array_parallelism"]
)
def test_every_submitit_count_is_checked(key: str) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from hydra_plugins.qt_sweeps.submitit_checked import check_params
    from qt.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        check_params({key: 0})
    assert err.value.key == f"hydra.launcher.{key}"


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"n_jobs": "many"}, "hydra.launcher.n_jobs"),
        ({"n_jobs": 1.5}, "hydra.launcher.n_jobs"),
        ({"timeout": 0}, "hydra.launcher.timeout"),
        ({"batch_size": 0}, "hydra.launcher.batch_size"),
        ({"verbose": -1}, "hydra.launcher.verbose"),
    ],
)
def test_every_joblib_setting_is_checked(options: dict, key: str) -> None:
    from hydra_plugins.qt_sweeps.joblib_launcher import _check_options
    from qt.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        _check_options({"n_jobs": -1, **options})
    assert err.value.key == key
    _check_options({"n_jobs": -2, "timeout": 5, "batch_size": "auto", "verbose": 0})  # these are fine


# -- walk-forward --------------------------------------------------------------------------
def test_walk_forward_windows_that_cannot_be_meant(tmp_path: Path) -> None:
    wf = ("run", *SMALL[:3], "validation=walk_forward", "validation.train=126d", "validation.test=63d",
          "validation.grid={strategy.params.lookback:[21,42]}")  # fmt: skip
    run_cases(tmp_path, [
        Case("test 0d", (*wf, "validation.test=0d"), "validation.test: must be at least one bar or period"),
        Case("train 0d", (*wf, "validation.train=0d"), "validation.train: must be at least one bar or period"),
    ])  # fmt: skip


# -- rerun / diff --------------------------------------------------------------------------
def test_run_tools_on_folders_that_are_not_runs(tmp_path: Path, live_store: Path) -> None:
    def damaged(folder: Path) -> None:
        (folder / "run").mkdir()
        (folder / "run" / "manifest.json").write_text("{not json")

    def two_empty(folder: Path) -> None:
        (folder / "a").mkdir()
        (folder / "b").mkdir()

    run_cases(tmp_path, [
        Case("rerun damaged manifest", ("rerun", "run"), "run/manifest.json is damaged", prepare=damaged),
        Case("diff damaged manifest", ("diff", "run", "run"), "run/manifest.json is damaged", prepare=damaged),
        Case("diff of two folders", ("diff", "a", "b"), "a is not a qt run (no manifest.json)", prepare=two_empty),
        Case("rerun of an empty folder", ("rerun", "a"), "a is not a qt run (no manifest.json)", prepare=two_empty),
        Case("rerun of a live folder", ("rerun", "good"), "good is a live state folder, not a backtest run",
             prepare=copy_of(live_store, "good")),
    ])  # fmt: skip
