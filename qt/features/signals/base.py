"""The signal contract: a frozen parameter model whose ``compute`` turns the panel (and the nodes it names) into [T x N].

A signal node may refer to other nodes of the graph by name (``references``); the graph
hands their computed panels to ``compute``. Row t of the result must depend only on rows <= t,
except for nodes whose role is LABEL (training targets, which look ahead by design).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from enum import StrEnum
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from qt.data.panel import BarPanel


class Role(StrEnum):
    """What a node is for: a causal feature or a (forward-looking) label."""

    FEATURE = "feature"
    LABEL = "label"


class Signal(BaseModel):
    """Base of every signal: parameters only; ``compute`` is pure and vectorized over assets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: ClassVar[Role] = Role.FEATURE

    def references(self) -> tuple[str, ...]:
        """Names of the graph nodes this signal reads (none by default)."""
        return ()

    @abstractmethod
    def compute(self, panel: BarPanel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Float [T x N]; NaN = no value. ``nodes`` holds the panels of ``references()``."""


class OneInput(Signal):
    """A signal that transforms one other node, named by ``of``."""

    of: str

    def references(self) -> tuple[str, ...]:
        """The node named by ``of``."""
        return (self.of,)
