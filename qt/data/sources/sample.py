"""The sample data bundled with qt: real daily prices, no download needed.

See ``qt/data/sample/README.md`` for provenance, licences and survivorship caveats.
"""

from __future__ import annotations

from enum import StrEnum
from importlib.resources import files
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from qt.data.panel import BarPanel
from qt.data.sources.layout import PriceField
from qt.data.sources.longform import canonical_frame, frame_to_panel


class SampleSet(StrEnum):
    """The bundled data sets."""

    SP500_20 = "sp500_20"  # 20 US large caps, adjusted closes, 1990-2022
    SP500_INDEX = "sp500_index"  # the S&P 500 index, the natural benchmark of sp500_20
    SPX_NASDAQ_OHLCV = "spx_nasdaq_ohlcv"  # two indices with full OHLCV, 1999-2018


_FILES = {
    SampleSet.SP500_20: "sp500_20_daily_close.parquet",
    SampleSet.SP500_INDEX: "sp500_index_daily_close.parquet",
    SampleSet.SPX_NASDAQ_OHLCV: "spx_nasdaq_daily_ohlcv.parquet",
}


class SampleData(BaseModel):
    """One of the bundled real data sets.

    Examples
    --------
    >>> SampleData(dataset="sp500_20").load().n_assets
    20
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: SampleSet = SampleSet.SP500_20
    price: PriceField = Field(
        default=PriceField.CLOSE, description="close, or adj_close (spx_nasdaq_ohlcv has both; sp500_20 is adjusted)"
    )

    def load(self) -> BarPanel:
        """Read the bundled file and validate it like any user file (once per process)."""
        from qt.data.sources.memo import file_fingerprint, load_once, source_key

        resource = files("qt.data.sample").joinpath(_FILES[self.dataset])
        local = Path(str(resource))
        if not local.is_file():  # a zipped install: no file to fingerprint, read it every time
            return self._build()
        key = source_key("SampleData", {"price": self.price}, file_fingerprint([local]))
        return load_once(key, self._build, label=f"sample:{self.dataset.value}", cache_dir=None)

    def _build(self) -> BarPanel:
        import pandas as pd

        resource = files("qt.data.sample").joinpath(_FILES[self.dataset])
        with resource.open("rb") as fh:
            raw = pd.read_parquet(fh)
        frame = canonical_frame(raw, {}, f"sample:{self.dataset.value}", price=self.price)
        return frame_to_panel(frame, f"sample:{self.dataset.value}", name=self.dataset.value)
