"""The durable live state store: an append-only event log plus snapshot tables (SQLite, PostgreSQL, Redis).

``open_store`` picks a backend by name and imports its driver only then, so ``qt --help`` stays fast.
"""

from __future__ import annotations

from qt.live.store.base import SCHEMA_VERSION, LiveStore
from qt.live.store.errors import (
    DamagedStoreError,
    SchemaVersionError,
    StoreError,
    StoreUnavailableError,
    UnknownOrderError,
)
from qt.live.store.records import (
    EquityPoint,
    Event,
    EventKind,
    FillRecord,
    OrderIntent,
    OrderRecord,
    OrderUpdate,
    StoreMeta,
    TradingStatus,
    client_order_id,
)
from qt.live.store.settings import (
    PG_DSN_ENV,
    REDIS_URL_ENV,
    PostgresStoreSettings,
    RedisStoreSettings,
    SqliteStoreSettings,
    StoreSettings,
    open_from_settings,
    open_state_dir,
    open_store,
)
from qt.live.store.snapshot import Snapshot

__all__ = [
    "PG_DSN_ENV",
    "REDIS_URL_ENV",
    "SCHEMA_VERSION",
    "DamagedStoreError",
    "EquityPoint",
    "Event",
    "EventKind",
    "FillRecord",
    "LiveStore",
    "OrderIntent",
    "OrderRecord",
    "OrderUpdate",
    "PostgresStoreSettings",
    "RedisStoreSettings",
    "SchemaVersionError",
    "Snapshot",
    "SqliteStoreSettings",
    "StoreError",
    "StoreMeta",
    "StoreSettings",
    "StoreUnavailableError",
    "TradingStatus",
    "UnknownOrderError",
    "client_order_id",
    "open_from_settings",
    "open_state_dir",
    "open_store",
]
