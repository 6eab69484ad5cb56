"""Where an Optuna sweep's study lives: a checked URL, bounded waits, and heartbeats for running trials.

Every fault of ``hydra.sweeper.storage`` is one message naming the key, with the password
masked: not a URL, a scheme qt cannot open, an SQLite file it cannot write, a server that
refuses or never answers (PostgreSQL connects within ``CONNECT_TIMEOUT_S`` and each statement
within ``STATEMENT_TIMEOUT_MS``). Running trials beat a heartbeat every ``heartbeat_interval``
seconds, so a trial whose process was killed is found (no beat for ``grace_period`` s) and failed.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any

from qt.config.secrets import mask_dsn, remember_secret
from qt.errors import ConfigError

log = logging.getLogger("qt")
KEY = "hydra.sweeper.storage"
CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT_MS = 30_000
SQLITE_BUSY_TIMEOUT_S = 30
SCHEMES = "sqlite:///PATH/optuna.db or postgresql://USER@HOST[:PORT]/DB"


def engine_kwargs(url: Any) -> dict[str, Any]:
    """SQLAlchemy engine options that bound every wait: connect and statement timeouts, TCP keepalives."""
    if url.get_backend_name() == "postgresql":
        return {
            "pool_pre_ping": True,
            "connect_args": {
                "connect_timeout": CONNECT_TIMEOUT_S,
                "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                "keepalives": 1,
                "keepalives_idle": 10,
                "keepalives_interval": 5,
                "keepalives_count": 3,
            },
        }
    return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}


def checked_url(url: str) -> Any:
    """The parsed SQLAlchemy URL of ``url``, or a ConfigError naming ``hydra.sweeper.storage``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = mask_dsn(url.replace("postgresql+psycopg://", "postgresql://", 1))
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError(KEY, f"'{shown}' is not a database URL; use {SCHEMES}") from None
    remember_secret(parsed.password if isinstance(parsed.password, str) else None)
    try:
        backend = parsed.get_backend_name()
        parsed.get_dialect()
    except (NoSuchModuleError, ImportError):
        raise ConfigError(KEY, f"unknown scheme '{parsed.drivername}' in '{shown}'; use {SCHEMES}") from None
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(KEY, f"scheme '{parsed.drivername}' is not supported by qt; use {SCHEMES}")
    if backend == "sqlite":
        _check_sqlite_path(parsed.database, shown)
    elif not parsed.host:
        raise ConfigError(KEY, f"'{shown}' names no host; use {SCHEMES}")
    return parsed


def _check_sqlite_path(database: str | None, shown: str) -> None:
    """The SQLite file's folder exists (or is made) and the file can be written."""
    if not database or database == ":memory:":
        raise ConfigError(KEY, f"'{shown}' names no file: a study in memory cannot be resumed; use {SCHEMES}")
    path = Path(database)
    above = next((p for p in path.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise ConfigError(KEY, f"{above} is a file, not a folder: it cannot hold {path.name}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(KEY, f"cannot create the folder of {path}: {exc.strerror or exc}") from None
    target = path if path.exists() else path.parent
    if path.exists() and not path.is_file():
        raise ConfigError(KEY, f"{path} is not a file; name an SQLite file such as sqlite:///{path}/optuna.db")
    if not os.access(target, os.W_OK):
        raise ConfigError(KEY, f"cannot write {target} (permission denied); choose a writable path")


def open_storage(url: str, *, heartbeat_interval: int, grace_period: int | None) -> Any:
    """An ``optuna.storages.RDBStorage`` with bounded waits and heartbeats; ConfigError when it cannot be opened."""
    import optuna
    from sqlalchemy.exc import DBAPIError, OperationalError

    parsed = checked_url(url)
    shown = mask_dsn(url.replace("postgresql+psycopg://", "postgresql://", 1))  # as the user wrote it
    where = f"{parsed.host}:{parsed.port or 5432}" if parsed.get_backend_name() == "postgresql" else parsed.database
    for attempt in range(3):
        try:
            with warnings.catch_warnings():  # heartbeats are 'experimental' in Optuna's words since 2.9
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs(parsed),
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=_stale_note(grace_period or 2 * heartbeat_interval),
                )
        except OperationalError as exc:  # refused, timed out, bad login, unwritable file: retrying will not help
            reason = _first_line(exc)
            raise ConfigError(KEY, f"cannot open the study storage '{shown}' ({where}): {reason}") from None
        except DBAPIError as exc:  # concurrent creation of the tables by another process: load them
            if attempt == 2:
                raise ConfigError(KEY, f"cannot open the study storage '{shown}': {_first_line(exc)}") from None
            log.info("opening the study storage: %s; retrying", _first_line(exc))
    raise AssertionError("unreachable")


def _first_line(exc: BaseException) -> str:
    """The driver's own message (without SQLAlchemy's wrapper and background link), password masked."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = " ".join(line.strip() for line in text[:2] if line.strip()) or type(exc).__name__
    if "timeout" in reason.lower() or "timed out" in reason.lower():
        reason += f" (qt waits {CONNECT_TIMEOUT_S} s to connect)"
    return mask_dsn(reason)


def _stale_note(grace: int) -> Any:
    """The callback for a trial failed because its process stopped beating: say so on the console and log."""

    def note(study: Any, trial: Any) -> None:
        log.warning("trial %d: %s", trial.number, _stale_reason(grace))

    return note


def _stale_reason(grace: int) -> str:
    return f"its process stopped (no heartbeat for {grace} s): killed or lost; the trial is failed"


def fail_stale_trials(study: Any, storage: Any) -> None:
    """Fail the study's RUNNING trials whose process stopped beating, each with the reason as its ``error``."""
    import optuna

    grace = storage.grace_period or 2 * storage.heartbeat_interval
    for trial_id in storage._get_stale_trial_ids(study._study_id):
        try:  # the reason first: a finished trial takes no more attributes
            study._storage.set_trial_user_attr(trial_id, "error", _stale_reason(grace))
        except optuna.exceptions.UpdateFinishedTrialError:  # another process failed it meanwhile
            continue
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


class Heartbeat:
    """Beats for a batch of running trials every ``interval`` seconds, in one thread, while the batch runs."""

    def __init__(self, storage: Any, trial_ids: list[int], interval: int) -> None:
        self._storage, self._ids, self._interval = storage, list(trial_ids), interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="optuna-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        for trial_id in self._ids:  # the first beat before any run starts: a kill from now on is detectable
            self._storage.record_heartbeat(trial_id)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + CONNECT_TIMEOUT_S)

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            for trial_id in self._ids:
                try:
                    self._storage.record_heartbeat(trial_id)
                except Exception as exc:  # a missed beat only risks a false 'stale'; say so, keep beating
                    log.warning("optuna heartbeat of trial %d failed: %s", trial_id, _first_line(exc))
