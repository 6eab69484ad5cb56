"""BarPanel: each bar field as a numpy array [T x N] plus the calendar and symbols.

The engine's hot path works on these arrays; pandas appears only at the edges
(``from_frame`` / ``to_frame``). NaN means "no bar": before an asset's first
price, after its last, or on a day it did not trade.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from qt.enums import Field
from qt.errors import DataError, MissingFieldError

if TYPE_CHECKING:
    import pandas as pd

PRICE_FIELDS = (Field.OPEN, Field.HIGH, Field.LOW, Field.CLOSE)


@dataclass(frozen=True)
class BarPanel:
    """Bars of N symbols over T timestamps.

    Parameters
    ----------
    timestamps : datetime64[us] array of length T, strictly increasing (UTC when ``tz`` is set).
    symbols : the N symbols, in column order.
    fields : Field -> float64 array [T x N]; CLOSE is required.
    tz : the time zone of the source timestamps, or None for naive (calendar) dates.
    name : the data set's name, used in error messages.

    Examples
    --------
    >>> import numpy as np
    >>> from qt.enums import Field
    >>> p = BarPanel(np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[us]"),
    ...              ("A", "B"), {Field.CLOSE: np.array([[1.0, 2.0], [1.1, np.nan]])})
    >>> p.tradable.tolist()
    [[True, True], [True, False]]
    """

    timestamps: np.ndarray
    symbols: tuple[str, ...]
    fields: Mapping[Field, np.ndarray]
    tz: str | None = None
    name: str = "data"
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if Field.CLOSE not in self.fields:
            raise DataError(f"{self.name}: a bar panel needs a 'close' field")
        shape = (len(self.timestamps), len(self.symbols))
        for f, arr in self.fields.items():
            if arr.shape != shape:
                raise DataError(f"{self.name}: field {f.value} has shape {arr.shape}, expected {shape}")
        if len(self.timestamps) > 1 and not bool(np.all(np.diff(self.timestamps) > np.timedelta64(0))):
            raise DataError(f"{self.name}: timestamps must be strictly increasing")

    # -- access ---------------------------------------------------------------
    @property
    def n_bars(self) -> int:
        """T, the number of timestamps."""
        return len(self.timestamps)

    @property
    def n_assets(self) -> int:
        """N, the number of symbols."""
        return len(self.symbols)

    @property
    def close(self) -> np.ndarray:
        """Close prices [T x N]."""
        return self.fields[Field.CLOSE]

    def has(self, f: Field) -> bool:
        """Whether the data set carries field ``f``."""
        return f in self.fields

    def require(self, f: Field, needed_by: str) -> np.ndarray:
        """Return field ``f``, or fail naming who needs it and what the data has."""
        if f not in self.fields:
            have = ", ".join(x.value for x in self.fields)
            raise MissingFieldError(
                f"{needed_by} needs the '{f.value}' field, but data set '{self.name}' has only: {have}. "
                "Use a data set with full OHLCV bars (e.g. data=sample_ohlcv) or choose another option."
            )
        return self.fields[f]

    @property
    def tradable(self) -> np.ndarray:
        """Bool [T x N]: the asset has a close at this bar and can be traded."""
        if "tradable" not in self._cache:
            self._cache["tradable"] = np.isfinite(self.close)
        return self._cache["tradable"]

    @property
    def mark_prices(self) -> np.ndarray:
        """Close forward-filled within each asset's life, 0 before its first price.

        Used to value positions on bars an asset did not trade; never used to trade.
        """
        if "mark" not in self._cache:
            marks = forward_fill(self.close)
            self._cache["mark"] = np.nan_to_num(marks, nan=0.0)
        return self._cache["mark"]

    @property
    def last_valid(self) -> np.ndarray:
        """Int [N]: index of each asset's last bar with a close (-1 if none)."""
        if "last_valid" not in self._cache:
            valid = self.tradable
            rev = np.argmax(valid[::-1], axis=0)
            last = self.n_bars - 1 - rev
            self._cache["last_valid"] = np.where(valid.any(axis=0), last, -1)
        return self._cache["last_valid"]

    # -- transforms -------------------------------------------------------------
    def between(self, start: str | None, end: str | None) -> BarPanel:
        """The bars with start <= timestamp <= end (dates inclusive; None = open-ended)."""
        lo, hi = 0, self.n_bars
        if start is not None:
            lo = int(np.searchsorted(self.timestamps, np.datetime64(start, "us"), side="left"))
        if end is not None:
            end_ts = np.datetime64(end, "D") + np.timedelta64(1, "D") if len(str(end)) <= 10 else np.datetime64(end)
            hi = int(np.searchsorted(self.timestamps, end_ts.astype("datetime64[us]"), side="left"))
        if lo == 0 and hi == self.n_bars > 0:
            return self  # the whole panel: the same object keeps its cached marks and fingerprint
        if hi <= lo:
            raise DataError(
                f"{self.name}: no bars between start={start} and end={end}; "
                f"the data covers {self.timestamps[0]} to {self.timestamps[-1]}"
            )
        return BarPanel(
            self.timestamps[lo:hi],
            self.symbols,
            {f: a[lo:hi] for f, a in self.fields.items()},
            tz=self.tz,
            name=self.name,
        )

    def fingerprint(self) -> str:
        """A content hash of timestamps, symbols and every field (blake2b, hex), computed once per panel."""
        if "fingerprint" in self._cache:
            return str(self._cache["fingerprint"])
        h = hashlib.blake2b(digest_size=16)
        h.update(np.ascontiguousarray(self.timestamps).view(np.int64).data)  # the bytes, without a copy
        h.update("\x00".join(self.symbols).encode())
        for f in sorted(self.fields, key=lambda x: x.value):
            h.update(f.value.encode())
            h.update(np.ascontiguousarray(self.fields[f]).data)
        self._cache["fingerprint"] = h.hexdigest()
        return str(self._cache["fingerprint"])

    # -- pandas edges -------------------------------------------------------------
    @classmethod
    def from_frame(cls, frame: pd.DataFrame, name: str = "data") -> BarPanel:
        """Build from a validated long frame (timestamp, symbol, close[, open, high, low, volume])."""
        import pandas as pd

        ts = frame["timestamp"]
        tz = None
        if isinstance(ts.dtype, pd.DatetimeTZDtype):
            tz = str(ts.dt.tz)
            ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
        t_codes, t_uniques = pd.factorize(ts.to_numpy(dtype="datetime64[us]"), sort=True)
        s_codes, s_uniques = pd.factorize(frame["symbol"].to_numpy(dtype=object), sort=True)
        shape = (len(t_uniques), len(s_uniques))
        fields: dict[Field, np.ndarray] = {}
        for f in Field:
            if f.value in frame.columns:
                arr = np.full(shape, np.nan)
                arr[t_codes, s_codes] = frame[f.value].to_numpy(dtype=np.float64)
                fields[f] = arr
        return cls(
            np.asarray(t_uniques, dtype="datetime64[us]"),
            tuple(str(s) for s in s_uniques),
            fields,
            tz=tz,
            name=name,
        )

    def to_frame(self) -> pd.DataFrame:
        """The long frame: one row per (timestamp, symbol) that has a close, sorted."""
        import pandas as pd

        t_idx, s_idx = np.nonzero(self.tradable)
        ts = pd.DatetimeIndex(self.timestamps[t_idx])
        if self.tz is not None:
            ts = ts.tz_localize("UTC").tz_convert(self.tz)
        data: dict[str, object] = {
            "timestamp": ts,
            "symbol": pd.array(np.asarray(self.symbols, dtype=object)[s_idx], dtype="str"),
        }
        for f in Field:
            if f in self.fields:
                data[f.value] = self.fields[f][t_idx, s_idx]
        return pd.DataFrame(data)


def forward_fill(values: np.ndarray) -> np.ndarray:
    """Carry the last finite value of each column forward (vectorized, no lookahead)."""
    valid = np.isfinite(values)
    idx = np.where(valid, np.arange(values.shape[0])[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    return values[idx, np.arange(values.shape[1])[None, :]]
