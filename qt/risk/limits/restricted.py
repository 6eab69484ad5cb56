"""A restricted list: no order may add exposure to these symbols (closing is allowed)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from qt.risk.limits.base import LimitAction, PreTradeLimit, Proposal


class RestrictedList(PreTradeLimit):
    """Reject orders that increase |position| in a ``restricted`` symbol; always a rejection."""

    restricted: list[str] = Field(default_factory=list)

    def apply(self, proposal: Proposal) -> None:
        """Reject the orders adding exposure to a restricted symbol."""
        if not self.restricted:
            return
        a, q = proposal.assets, proposal.quantities
        pos = proposal.positions[a]
        banned = np.isin(np.asarray(proposal.symbols, dtype=object)[a], self.restricted) & (
            np.abs(pos + q) > np.abs(pos)
        )
        proposal.breach(LimitAction.REJECT, banned, "restricted list", None)
