"""Slippage models: the price actually paid, given the reference price and the side."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, NonNegativeFloat


@runtime_checkable
class SlippageModel(Protocol):
    """Moves the reference price against the trader."""

    def adjust(self, quantities: np.ndarray, prices: np.ndarray) -> np.ndarray:
        """Execution prices for signed ``quantities`` at reference ``prices``."""
        ...


class NoSlippage(BaseModel):
    """Fill exactly at the reference price."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def adjust(self, quantities: np.ndarray, prices: np.ndarray) -> np.ndarray:
        """The reference prices unchanged."""
        return prices


class FixedBps(BaseModel):
    """Buys pay ``bps`` basis points above the reference price, sells receive that much below.

    Examples
    --------
    >>> FixedBps(bps=10).adjust(np.array([1.0, -1.0]), np.array([100.0, 100.0])).tolist()
    [100.1, 99.9]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bps: NonNegativeFloat = 5.0

    def adjust(self, quantities: np.ndarray, prices: np.ndarray) -> np.ndarray:
        """P x (1 + sign(q) x bps / 10,000)."""
        return prices * (1.0 + np.sign(quantities) * (self.bps * 1e-4))
