"""The storage contract: write bars, read them back as a panel, list coverage, delete a symbol.

Every backend stores the same normal form: one row per (symbol, timestamp) with raw
prices, timestamps as naive UTC microseconds (the symbol's time zone is metadata),
corporate actions in a separate table, and per-symbol metadata. Reading, panel
building and adjustment are shared here; backends only move Arrow tables.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import ClassVar

import numpy as np
import pyarrow as pa

from qt.data.panel import BarPanel
from qt.enums import Field
from qt.errors import DataError

BAR_FIELDS = ("open", "high", "low", "close", "volume")
BARS_SCHEMA = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("timestamp", pa.timestamp("us"), nullable=False),
        *(pa.field(f, pa.float64(), nullable=f != "close") for f in BAR_FIELDS),
    ]
)
ACTIONS_SCHEMA = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("timestamp", pa.timestamp("us"), nullable=False),
        pa.field("split_ratio", pa.float64(), nullable=False),
        pa.field("dividend", pa.float64(), nullable=False),
        pa.field("factor", pa.float64(), nullable=False),
    ]
)
Progress = Callable[[int, int], None]


class StoreKind(StrEnum):
    """The storage backends."""

    DUCKDB = "duckdb"
    POSTGRES = "postgres"
    PARQUET = "parquet"


class PriceBasis(StrEnum):
    """Whether the prices a source delivered are raw or already adjusted by the vendor."""

    RAW = "raw"
    ADJUSTED = "adjusted"


class Adjust(StrEnum):
    """What a read serves: prices as stored, or adjusted for splits and dividends."""

    RAW = "raw"
    ADJUSTED = "adjusted"


@dataclass(frozen=True)
class SymbolMeta:
    """Per-symbol metadata: where the bars came from, their basis, currency and time zone."""

    source: str
    prices: PriceBasis = PriceBasis.RAW
    currency: str = "USD"
    timezone: str | None = None


@dataclass(frozen=True)
class Coverage:
    """What the store holds for one symbol."""

    symbol: str
    first: np.datetime64
    last: np.datetime64
    rows: int


@dataclass(frozen=True)
class WriteReport:
    """The outcome of one write: rows offered, rows new or changed, symbols touched."""

    rows: int
    changed: int
    symbols: int

    @property
    def unchanged(self) -> int:
        """Rows identical to what the store already held."""
        return self.rows - self.changed


@dataclass(frozen=True)
class BarSet:
    """Bars to write, in the storage normal form (see BARS_SCHEMA), with their metadata.

    ``bars`` holds naive UTC timestamps; ``meta.timezone`` says how to present them.
    ``actions`` (ACTIONS_SCHEMA) carries split and dividend factors, or is None.
    """

    bars: pa.Table
    meta: SymbolMeta
    actions: pa.Table | None = None

    def __post_init__(self) -> None:
        if not self.bars.schema.equals(BARS_SCHEMA):
            raise DataError(f"bars must have the storage schema {BARS_SCHEMA}, got {self.bars.schema}")
        if self.actions is not None and not self.actions.schema.equals(ACTIONS_SCHEMA):
            raise DataError(f"actions must have the schema {ACTIONS_SCHEMA}, got {self.actions.schema}")

    @property
    def symbols(self) -> list[str]:
        """The distinct symbols, sorted."""
        return sorted(self.bars["symbol"].unique().to_pylist())

    @classmethod
    def from_panel(cls, panel: BarPanel, meta: SymbolMeta, actions: pa.Table | None = None) -> BarSet:
        """The bars of a panel (cells with a close), sorted by (symbol, timestamp)."""
        s_idx, t_idx = np.nonzero(panel.tradable.T)
        data: dict[str, pa.Array] = {
            "symbol": pa.DictionaryArray.from_arrays(
                pa.array(s_idx.astype(np.int32)), pa.array(panel.symbols, pa.string())
            ).cast(pa.string()),
            "timestamp": pa.array(panel.timestamps.astype("datetime64[us]")[t_idx], pa.timestamp("us")),
        }
        for name in BAR_FIELDS:
            values = panel.fields.get(Field(name))
            data[name] = (
                pa.nulls(len(t_idx), pa.float64())
                if values is None
                else pa.array(values[t_idx, s_idx], pa.float64(), from_pandas=True)
            )
        meta = meta if meta.timezone == panel.tz else SymbolMeta(meta.source, meta.prices, meta.currency, panel.tz)
        return cls(pa.Table.from_pydict(data, schema=BARS_SCHEMA), meta, actions)


class BarStore(ABC):
    """A market data store. Use as a context manager, or call ``close()``.

    Subclasses implement the I/O (``_write``, ``_scan``, ``_scan_actions``, ``metadata``,
    ``coverage``, ``delete``); reading into a panel and adjusting is done here, once.
    """

    kind: ClassVar[StoreKind]

    def __enter__(self) -> BarStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 - a store without a connection has nothing to close
        """Release connections and locks."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the store lives (a path or a DSN without its password), for messages."""

    # -- writing ------------------------------------------------------------------
    def write(self, bars: BarSet, *, chunk_rows: int = 1_000_000, progress: Progress | None = None) -> WriteReport:
        """Upsert ``bars`` in one transaction: same (symbol, timestamp) replaces, identical rows change nothing."""
        if chunk_rows <= 0:
            raise DataError(f"chunk_rows must be > 0, got {chunk_rows}")
        problems = bad_values(bars.bars)
        if problems:
            raise DataError(
                f"{self.location}: refusing to write bars with bad values ({problems}); nothing was written. "
                "Prices must be finite and > 0, volumes finite and >= 0"
            )
        symbols = bars.symbols
        clash = [s for s, m in self.metadata(symbols).items() if (m.timezone is None) != (bars.meta.timezone is None)]
        if clash:
            have = "naive (no time zone)" if bars.meta.timezone is None else f"in {bars.meta.timezone}"
            raise DataError(
                f"{self.location}: the new bars are {have}, but {', '.join(clash[:5])} are stored "
                f"{'with' if bars.meta.timezone is None else 'without'} a time zone; "
                "use one kind of timestamp per symbol, or delete the symbol first (qt data rm)"
            )
        return self._write(bars, symbols, chunk_rows, progress)

    @abstractmethod
    def _write(self, bars: BarSet, symbols: list[str], chunk_rows: int, progress: Progress | None) -> WriteReport:
        """Upsert in one transaction; report rows new or changed."""

    # -- reading ------------------------------------------------------------------
    def read(
        self,
        symbols: Sequence[str] | None = None,
        start: str | None = None,
        end: str | None = None,
        *,
        adjust: Adjust = Adjust.ADJUSTED,
        name: str | None = None,
    ) -> BarPanel:
        """Bars of ``symbols`` (None = all) with start <= timestamp <= end (dates inclusive) as a panel."""
        with self._snapshot():
            return self._read(symbols, start, end, adjust, name)

    def _snapshot(self) -> AbstractContextManager[None]:
        """Hold one consistent view of the store for the reads of one ``read`` (backends override)."""
        return nullcontext()

    def _read(
        self, symbols: Sequence[str] | None, start: str | None, end: str | None, adjust: Adjust, name: str | None
    ) -> BarPanel:
        from qt.data.adjustments import apply_actions
        from qt.data.storage.frames import table_to_panel, window_bounds

        metas = self.metadata(symbols)
        wanted = sorted(set(symbols)) if symbols is not None else sorted(metas)
        missing = [s for s in wanted if s not in metas]
        if missing or not wanted:
            raise DataError(self._missing_message(missing))
        tz = _common_timezone({s: metas[s] for s in wanted}, self.location)
        if adjust is Adjust.RAW:
            vendor = [s for s in wanted if metas[s].prices is PriceBasis.ADJUSTED]
            if vendor:
                raise DataError(
                    f"{self.location}: {', '.join(vendor[:5])} were ingested as vendor-adjusted prices; "
                    "raw prices are not available for them; read with adjust=adjusted"
                )
        lo, hi = window_bounds(start, end, tz)
        table = self._scan(wanted, lo, hi)
        if table.num_rows == 0:
            raise DataError(f"{self.location}: no bars for {_preview(wanted)} between start={start} and end={end}")
        problems = bad_values(table)
        if problems:
            raise DataError(
                f"{self.location}: the store holds bad values ({problems}); prices must be finite and > 0. "
                "Re-ingest a corrected file (qt data ingest FILE) or remove the symbol (qt data rm SYMBOL)"
            )
        panel = table_to_panel(table, wanted, tz, name or f"{self.kind.value}-store")
        if adjust is Adjust.ADJUSTED:
            actions = self._scan_actions(list(panel.symbols), lo)
            if actions.num_rows:
                panel = apply_actions(panel, actions)
        return panel

    def _missing_message(self, missing: list[str]) -> str:
        held = [c.symbol for c in self.coverage()]
        if not held:
            return (
                f"{self.location}: the store is empty; load bars with `qt data ingest FILE --store {self.kind.value}`"
            )
        if not missing:
            return f"{self.location}: no symbols requested; it holds {_preview(held)}"
        return f"{self.location}: no bars for symbol(s) {_preview(missing)}; the store holds {_preview(held)}"

    @abstractmethod
    def _scan(self, symbols: list[str], lo: np.datetime64 | None, hi: np.datetime64 | None) -> pa.Table:
        """Rows of ``symbols`` with lo <= timestamp < hi (naive UTC), BARS_SCHEMA columns (symbol may be dictionary)."""

    @abstractmethod
    def _scan_actions(self, symbols: list[str], after: np.datetime64 | None) -> pa.Table:
        """Actions of ``symbols`` with timestamp > after (all when None), ACTIONS_SCHEMA."""

    # -- catalogue ----------------------------------------------------------------
    @abstractmethod
    def metadata(self, symbols: Sequence[str] | None = None) -> dict[str, SymbolMeta]:
        """Metadata of the stored ``symbols`` (all when None); absent symbols are left out."""

    @abstractmethod
    def coverage(self) -> list[Coverage]:
        """Each stored symbol with its first and last timestamp (naive UTC) and row count, by symbol."""

    @abstractmethod
    def delete(self, symbol: str) -> int:
        """Remove a symbol's bars, actions and metadata; return the number of bars removed."""


def bad_values(bars: pa.Table, limit: int = 5) -> str:
    """'AAPL 2024-01-03T00:00 close = inf; ...' for bars whose prices are not finite and > 0 ('' when none).

    Vectorized over the table; nulls (absent open/high/low/volume) are fine, a missing close is not.
    """
    found: list[str] = []
    count = 0
    for f in BAR_FIELDS:
        if f not in bars.column_names:
            continue
        column = bars[f]
        values = column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        present = ~np.isnan(values) if column.null_count == 0 else column.is_valid().to_numpy(zero_copy_only=False)
        with np.errstate(invalid="ignore"):
            good = np.isfinite(values) & (values >= 0 if f == "volume" else values > 0)
        bad = ~good & present
        if f == "close":
            bad |= ~present | np.isnan(values)
        rows = np.flatnonzero(bad)
        count += len(rows)
        for i in rows[: max(0, limit - len(found))]:
            stamp = bars["timestamp"][int(i)].as_py()
            found.append(f"{bars['symbol'][int(i)].as_py()} {stamp} {f} = {values[i]}")
    if not count:
        return ""
    return "; ".join(found) + (f"; ... {count} in all" if count > len(found) else "")


def _common_timezone(metas: dict[str, SymbolMeta], location: str) -> str | None:
    """The one time zone of ``metas``; naive and tz-aware symbols cannot share a panel."""
    zones = {m.timezone for m in metas.values()}
    if len(zones) == 1:
        return zones.pop()
    if None in zones:
        naive = [s for s, m in metas.items() if m.timezone is None]
        raise DataError(
            f"{location}: {_preview(naive)} have naive timestamps and the others a time zone; read them separately"
        )
    return "UTC"


def _preview(items: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" ... ({len(items)} in all)" if len(items) > limit else "")
