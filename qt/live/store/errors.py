"""Errors of the live state store; each says what is wrong and what to do."""

from __future__ import annotations

from qt.errors import QtError


class StoreError(QtError):
    """The live state store refused a write or a read (bad record, wrong store, corrupt data)."""


class StoreUnavailableError(StoreError):
    """The store's server or file could not be reached within its timeout (message names host:port)."""


class SchemaVersionError(StoreError):
    """The store was written by a qt with another schema version."""


class UnknownOrderError(StoreError):
    """An order update or fill names a client order id the store never recorded."""


class DamagedStoreError(StoreError):
    """The store is truncated, corrupt, missing tables, or not a qt store at all; nothing was written to it."""
