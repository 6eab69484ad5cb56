"""PostgreSQL wire formats built and parsed with numpy (no per-row Python).

Writes: binary COPY, rows grouped by layout (symbol byte length, which fields are NULL), each
group one numpy structured array. Reads: one row per symbol whose columns are packed bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from qt.data.storage.base import BAR_FIELDS

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970-01-01


def encode_bars(table: pa.Table) -> bytes:
    """The rows of a BARS_SCHEMA table as one binary COPY stream (header, tuples, trailer)."""
    n = table.num_rows
    if n == 0:
        return HEADER + TRAILER
    symbols = table["symbol"].combine_chunks().dictionary_encode()
    names = [s.encode() for s in symbols.dictionary.to_pylist()]
    codes = symbols.indices.to_numpy(zero_copy_only=False)
    sym_len = np.array([len(b) for b in names], dtype=np.int64)[codes]
    stamps = table["timestamp"].combine_chunks().cast(pa.int64()).to_numpy() - PG_EPOCH_US
    values = {f: table[f].combine_chunks() for f in BAR_FIELDS}
    null_bits = np.zeros(n, dtype=np.int64)
    for bit, f in enumerate(BAR_FIELDS):
        if values[f].null_count:
            null_bits |= values[f].is_null().to_numpy(zero_copy_only=False).astype(np.int64) << bit
    floats = {f: values[f].to_numpy(zero_copy_only=False) for f in BAR_FIELDS}
    layout = sym_len * 32 + null_bits
    parts = [HEADER]
    for key in np.unique(layout):
        rows = np.flatnonzero(layout == key)
        length, nulls = divmod(int(key), 32)
        parts.append(_encode_group(rows, length, nulls, names, codes, stamps, floats))
    parts.append(TRAILER)
    return b"".join(parts)


def _encode_group(
    rows: np.ndarray,
    length: int,
    nulls: int,
    names: list[bytes],
    codes: np.ndarray,
    stamps: np.ndarray,
    floats: dict[str, np.ndarray],
) -> bytes:
    """Tuples of one layout: field count, then (length, bytes) per field; NULL is length -1."""
    spec: list[tuple[str, str]] = [("count", ">i2"), ("sym_len", ">i4"), ("sym", f"S{length}")]
    spec += [("ts_len", ">i4"), ("ts", ">i8")]
    present = [f for bit, f in enumerate(BAR_FIELDS) if not nulls >> bit & 1]
    for f in BAR_FIELDS:
        spec.append((f"{f}_len", ">i4"))
        if f in present:
            spec.append((f, ">f8"))
    out = np.empty(len(rows), dtype=np.dtype(spec))
    out["count"] = 2 + len(BAR_FIELDS)
    out["sym_len"] = length
    table = np.array([b if len(b) == length else b"" for b in names], dtype=f"S{max(length, 1)}")
    out["sym"] = table[codes[rows]]
    out["ts_len"] = 8
    out["ts"] = stamps[rows]
    for f in BAR_FIELDS:
        out[f"{f}_len"] = 8 if f in present else -1
        if f in present:
            out[f] = floats[f][rows]
    return out.tobytes()


def decode_columns(rows: Sequence[Sequence[Any]], symbols: list[str]) -> pa.Table:
    """Per-symbol rows of (symbol index, count, then timestamps and the 5 fields as packed big-endian bytes).

    The server packs each column of a symbol into one ``bytea`` (``timestamp_send``, ``float8send``),
    so a read is a few messages per symbol, parsed with ``np.frombuffer`` - no per-bar Python.
    """
    counts = np.array([r[1] for r in rows], dtype=np.int64)
    indices = np.repeat(np.array([r[0] for r in rows], dtype=np.int32), counts)
    stamps = np.frombuffer(b"".join(r[2] for r in rows), dtype=">i8").astype(np.int64) + PG_EPOCH_US
    if len(stamps) != counts.sum():
        raise ValueError(f"PostgreSQL returned {len(stamps)} timestamps for {counts.sum()} bars")
    columns: dict[str, pa.Array] = {
        "symbol": pa.DictionaryArray.from_arrays(pa.array(indices), pa.array(symbols, pa.string())),
        "timestamp": pa.array(stamps).cast(pa.timestamp("us")),
    }
    for k, f in enumerate(BAR_FIELDS):
        columns[f] = pa.array(np.frombuffer(b"".join(r[3 + k] for r in rows), dtype=">f8").astype(np.float64))
    return pa.table(columns)
