"""Transaction cost models: ``fees(quantities, prices) -> fees`` per fill, in cash."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, NonNegativeFloat


@runtime_checkable
class CostModel(Protocol):
    """Fees charged on fills (always >= 0, paid from cash)."""

    def fees(self, quantities: np.ndarray, prices: np.ndarray) -> np.ndarray:
        """Fee per fill for signed share ``quantities`` at ``prices``."""
        ...


class NoCosts(BaseModel):
    """Trading is free."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def fees(self, quantities: np.ndarray, prices: np.ndarray) -> np.ndarray:
        """Zero for every fill."""
        return np.zeros(len(quantities))


class BpsCosts(BaseModel):
    """A fee of ``bps`` basis points of traded notional, plus an optional minimum per fill.

    Examples
    --------
    >>> BpsCosts(bps=5).fees(np.array([100.0, -50.0]), np.array([10.0, 20.0])).tolist()
    [0.5, 0.5]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bps: NonNegativeFloat = 1.0
    min_fee: NonNegativeFloat = 0.0

    def fees(self, quantities: np.ndarray, prices: np.ndarray) -> np.ndarray:
        """max(|q x p| x bps / 10,000, min_fee)."""
        return np.maximum(np.abs(quantities * prices) * (self.bps * 1e-4), self.min_fee)
