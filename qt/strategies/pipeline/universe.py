"""The tradable universe at each bar: minimum price, history and dollar volume, or an explicit symbol list."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, PositiveFloat, PositiveInt

from qt.data.panel import BarPanel
from qt.enums import Field
from qt.errors import ConfigError
from qt.features.engineering import rolling_mean


class Universe(BaseModel):
    """Which assets may be scored at bar t (every filter uses data up to t only).

    Examples
    --------
    >>> from qt.testing.panels import daily_panel
    >>> Universe(min_history=2).mask(daily_panel([[1.0, 5.0], [2.0, 6.0]])).tolist()
    [[False, False], [True, True]]
    >>> Universe(min_price=5.0).mask(daily_panel([[1.0, 5.0]])).tolist()
    [[False, True]]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_price: PositiveFloat | None = None
    min_history: PositiveInt | None = None
    min_dollar_volume: PositiveFloat | None = None
    dollar_volume_window: PositiveInt = 63
    symbols: list[str] | None = None

    def mask(self, panel: BarPanel, key: str = "strategy.universe") -> np.ndarray:
        """Bool [T x N]: in the universe at bar t."""
        close = panel.close
        ok = np.ones(close.shape, dtype=bool)  # no filter: every asset (tradability is checked at each decision)
        if self.symbols is not None:
            missing = sorted(set(self.symbols) - set(panel.symbols))
            if missing:
                raise ConfigError(f"{key}.symbols", f"not in data set '{panel.name}': {', '.join(missing)}")
            ok &= np.isin(np.asarray(panel.symbols), self.symbols)[None, :]
        if self.min_price is not None:
            with np.errstate(invalid="ignore"):
                ok &= close >= self.min_price
        if self.min_history is not None:
            ok &= np.cumsum(np.isfinite(close), axis=0) >= self.min_history
        if self.min_dollar_volume is not None:
            volume = panel.require(Field.VOLUME, needed_by=f"{key}.min_dollar_volume")
            adv = rolling_mean(close * volume, self.dollar_volume_window)
            with np.errstate(invalid="ignore"):
                ok &= adv >= self.min_dollar_volume
        return ok
