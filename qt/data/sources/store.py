"""Bars from a market data store (DuckDB, PostgreSQL or Parquet), read for a window and symbols."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qt.data.panel import BarPanel
from qt.data.storage.base import Adjust, StoreKind


class StoreData(BaseModel):
    """Read ``symbols`` between ``start`` and ``end`` from a store, adjusted or raw.

    With ``calendar`` (e.g. XNYS), daily bars are aligned to that exchange's sessions, so a
    monthly rebalance falls on the last trading day of each month.

    Examples
    --------
    >>> src = StoreData(store="duckdb", symbols=["AAPL", "MSFT"], start="2020-01-01", calendar="XNYS")
    >>> src.store.value, src.adjust.value
    ('duckdb', 'adjusted')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    store: StoreKind = StoreKind.DUCKDB
    symbols: list[str] | None = Field(default=None, description="None = every symbol in the store")
    start: str | None = Field(default=None, description="first date (inclusive); None = from the first bar")
    end: str | None = Field(default=None, description="last date (inclusive); None = to the last bar")
    adjust: Adjust = Adjust.ADJUSTED
    calendar: str | None = Field(default=None, description="align daily bars to this exchange's sessions")
    data_dir: str | None = Field(default=None, description="duckdb/parquet folder; None = $QT_DATA_DIR or ~/.qt/data")
    dsn: str | None = Field(default=None, description="PostgreSQL DSN; None = $QT_POSTGRES_DSN (keep passwords there)")
    pg_schema: str | None = Field(default=None, description="PostgreSQL schema; None = $QT_POSTGRES_SCHEMA or qt")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date_text(cls, v: object) -> object:
        return v.isoformat() if isinstance(v, dt.date) else v

    @field_validator("symbols")
    @classmethod
    def _some_symbols(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not v:
            raise ValueError("must name at least one symbol, or be null for all")
        return v

    def load(self) -> BarPanel:
        """Read the window from the store (and align it to the calendar when one is set)."""
        from qt.data.storage import open_store

        with open_store(
            self.store.value, data_dir=self.data_dir, dsn=self.dsn, schema=self.pg_schema, read_only=True
        ) as store:
            panel = store.read(self.symbols, self.start, self.end, adjust=self.adjust, name=f"{self.store.value}-store")
        if self.calendar is not None:
            from qt.data.calendars import align_to_sessions

            panel = align_to_sessions(panel, self.calendar)
        return panel
