"""The data-source contract: one verb, ``load() -> BarPanel``."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from qt.data.panel import BarPanel


@runtime_checkable
class DataSource(Protocol):
    """Where bars come from. Sources validate before returning, so a panel is always clean."""

    def load(self) -> BarPanel:
        """Read, validate and return the bars as a panel."""
        ...
