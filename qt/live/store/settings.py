"""How ``live.store`` is configured, and the functions that open a store from it.

One frozen model per backend (``kind: sqlite | postgres | redis``); timeouts in seconds. A
PostgreSQL DSN or Redis URL with a password belongs in the environment (``$QT_LIVE_PG_DSN``,
``$QT_LIVE_REDIS_URL``): the models hold them as secrets (masked in reprs) and no store writes
them anywhere. ``STATE_DIR/store.json`` records which store a state folder uses (kind and
namespace, never a password), so ``qt live halt --state-dir DIR`` finds it from another process.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, SecretStr

from qt.errors import ConfigError
from qt.live.store.errors import StoreError

if TYPE_CHECKING:
    from qt.live.store.base import LiveStore

PG_DSN_ENV = "QT_LIVE_PG_DSN"
REDIS_URL_ENV = "QT_LIVE_REDIS_URL"
KINDS = ("sqlite", "postgres", "redis")
POINTER = "store.json"
SQLITE_FILE = "state.sqlite"


class SqliteStoreSettings(BaseModel):
    """SQLite (default): ``path`` or ``STATE_DIR/state.sqlite``; ``synchronous=FULL`` survives power loss."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["sqlite"] = "sqlite"
    path: str | None = None
    busy_timeout_s: PositiveFloat = 10.0
    synchronous: Literal["FULL", "NORMAL"] = "FULL"


class PostgresStoreSettings(BaseModel):
    """PostgreSQL: ``dsn`` (None = ``$QT_LIVE_PG_DSN``), one schema per store (``namespace``, default from the run name)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["postgres"] = "postgres"
    dsn: SecretStr | None = None
    namespace: str | None = None
    connect_timeout_s: PositiveFloat = 5.0
    statement_timeout_s: PositiveFloat = 10.0


class RedisStoreSettings(BaseModel):
    """Redis: ``url`` (None = ``$QT_LIVE_REDIS_URL``), one key prefix per store (``namespace``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["redis"] = "redis"
    url: SecretStr | None = None
    namespace: str | None = None
    connect_timeout_s: PositiveFloat = 5.0
    socket_timeout_s: PositiveFloat = 5.0
    lock_ttl_s: PositiveFloat = 5.0


StoreSettings = Annotated[SqliteStoreSettings | PostgresStoreSettings | RedisStoreSettings, Field(discriminator="kind")]


def default_namespace(kind: str, run_name: str) -> str:
    """The schema (PostgreSQL) or key prefix (Redis) a run's store uses unless configured.

    Examples
    --------
    >>> default_namespace("postgres", "xmom-paper"), default_namespace("redis", "xmom-paper")
    ('qt_live_xmom_paper', 'qt:live:xmom-paper')
    """
    if kind == "postgres":
        return ("qt_live_" + re.sub(r"[^a-z0-9_]", "_", run_name.lower()))[:63]
    return "qt:live:" + re.sub(r"[^A-Za-z0-9_.:-]", "_", run_name)[:90]


def _secret(value: SecretStr | str | None, env: str, key: str) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    chosen = value or os.environ.get(env, "")
    if not chosen:
        raise ConfigError(key, f"no connection string; set ${env} (keep passwords in the environment)")
    return chosen


def open_from_settings(
    settings: SqliteStoreSettings | PostgresStoreSettings | RedisStoreSettings,
    *,
    state_dir: str | os.PathLike[str] | None,
    run_name: str | None,
    config_hash: str | None = None,
    create: bool = True,
    read_only: bool = False,
) -> LiveStore:
    """Open (or create) the store ``settings`` describe; records it in ``STATE_DIR/store.json``.

    ``read_only``: look without writing anything (``qt live status``); the store must exist.
    """
    folder = Path(state_dir) if state_dir is not None else None
    store: LiveStore
    if isinstance(settings, SqliteStoreSettings):
        from qt.live.store.sqlite import SqliteStore

        if settings.path is None and folder is None:
            raise ConfigError("live.state_dir", "the SQLite store needs a state folder (or live.store.path)")
        path = Path(settings.path) if settings.path else folder / SQLITE_FILE  # type: ignore[operator]
        store = SqliteStore(
            path=path, run_name=run_name, config_hash=config_hash, create=create,
            busy_timeout_s=settings.busy_timeout_s, synchronous=settings.synchronous, read_only=read_only,
        )  # fmt: skip
        # Inside the state folder: the file name only, so the folder can be moved or reached from any cwd.
        namespace = (
            path.name if folder is not None and path.parent.resolve() == folder.resolve() else str(path.resolve())
        )
    else:
        namespace = settings.namespace or (default_namespace(settings.kind, run_name) if run_name else "")
        if not namespace:
            raise ConfigError("live.store.namespace", "give a namespace or a run name to derive it from")
        if isinstance(settings, PostgresStoreSettings):
            from qt.live.store.postgres import PostgresStore

            store = PostgresStore(
                dsn=_secret(settings.dsn, PG_DSN_ENV, "live.store.dsn"), schema=namespace, run_name=run_name,
                config_hash=config_hash, create=create, connect_timeout_s=settings.connect_timeout_s,
                statement_timeout_s=settings.statement_timeout_s, read_only=read_only,
            )  # fmt: skip
        else:
            from qt.live.store.redis_store import RedisStore

            store = RedisStore(
                url=_secret(settings.url, REDIS_URL_ENV, "live.store.url"), prefix=namespace, run_name=run_name,
                config_hash=config_hash, create=create, connect_timeout_s=settings.connect_timeout_s,
                socket_timeout_s=settings.socket_timeout_s, lock_ttl_s=settings.lock_ttl_s, read_only=read_only,
            )  # fmt: skip
    if folder is not None and create and not read_only:
        _write_pointer(folder, settings.kind, namespace)
    return store


def open_store(
    kind: str = "sqlite",
    *,
    state_dir: str | os.PathLike[str] | None = None,
    dsn: str | None = None,
    url: str | None = None,
    run_name: str | None = None,
    timeout_s: float | None = None,
    namespace: str | None = None,
    config_hash: str | None = None,
    create: bool = True,
    read_only: bool = False,
) -> LiveStore:
    """Open (or create) a live state store of ``kind``; ``timeout_s`` bounds connecting, statements and locks.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with open_store("sqlite", state_dir=folder, run_name="demo") as store:
    ...         store.positions(), store.cash()
    ({}, 0.0)
    """
    timeouts: dict[str, Any] = {}
    if kind == "sqlite":
        timeouts = {"busy_timeout_s": timeout_s} if timeout_s else {}
        settings: Any = SqliteStoreSettings(**timeouts)
    elif kind == "postgres":
        timeouts = {"connect_timeout_s": timeout_s, "statement_timeout_s": timeout_s} if timeout_s else {}
        settings = PostgresStoreSettings(dsn=dsn, namespace=namespace, **timeouts)
    elif kind == "redis":
        timeouts = {"connect_timeout_s": timeout_s, "socket_timeout_s": timeout_s} if timeout_s else {}
        settings = RedisStoreSettings(url=url, namespace=namespace, **timeouts)
    else:
        raise ConfigError("live.store.kind", f"unknown store {kind!r}; choose one of {', '.join(KINDS)}")
    return open_from_settings(
        settings, state_dir=state_dir, run_name=run_name, config_hash=config_hash, create=create, read_only=read_only
    )


def open_state_dir(
    state_dir: str | os.PathLike[str], *, timeout_s: float | None = None, dsn: str | None = None,
    url: str | None = None, read_only: bool = False,
) -> LiveStore:  # fmt: skip
    """Open the existing store a state folder uses (``qt live status/halt/resume`` from another process).

    The DSN or URL of a server store comes from ``dsn``/``url`` or the environment, never from the folder.
    ``read_only`` (``qt live status``) writes nothing: a SQLite file is opened with ``mode=ro``.
    """
    folder = Path(state_dir)
    pointer = folder / POINTER
    if pointer.exists():
        try:
            info = json.loads(pointer.read_text())
            kind, namespace = str(info["kind"]), str(info["namespace"])
        except (ValueError, KeyError, TypeError):
            raise StoreError(
                f"{pointer} is damaged (not a JSON object with kind and namespace); qt writes it as "
                '{"kind": "sqlite", "namespace": "state.sqlite"} for a SQLite store: restore or rewrite it'
            ) from None
    elif (folder / SQLITE_FILE).exists():
        kind, namespace = "sqlite", SQLITE_FILE
    else:
        raise StoreError(f"{folder}: no live state store here (no {POINTER} nor {SQLITE_FILE}); check --state-dir")
    if kind == "sqlite":
        settings: Any = SqliteStoreSettings(
            path=str(folder / namespace), **({"busy_timeout_s": timeout_s} if timeout_s else {})
        )
        return open_from_settings(settings, state_dir=None, run_name=None, create=False, read_only=read_only)
    return open_store(
        kind,
        dsn=dsn,
        url=url,
        namespace=namespace,
        timeout_s=timeout_s,
        run_name=None,
        create=False,
        state_dir=None,
        read_only=read_only,
    )


def _write_pointer(folder: Path, kind: str, namespace: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"kind": kind, "namespace": namespace}, indent=2) + "\n"
    pointer = folder / POINTER
    if not pointer.exists() or pointer.read_text() != text:
        tmp = folder / f".{POINTER}.{os.getpid()}"
        tmp.write_text(text)
        os.replace(tmp, pointer)
