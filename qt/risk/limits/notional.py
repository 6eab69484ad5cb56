"""Maximum notional of one order."""

from __future__ import annotations

import numpy as np
from pydantic import PositiveFloat

from qt.risk.limits.base import PreTradeLimit, Proposal


class MaxOrderNotional(PreTradeLimit):
    """|quantity| x price <= ``max_order_notional`` (in the data's currency); clipping shrinks the order."""

    max_order_notional: PositiveFloat

    def apply(self, proposal: Proposal) -> None:
        """Clip or reject orders above the notional cap."""
        cap, q = self.max_order_notional, proposal.quantities
        px = proposal.prices[proposal.assets]
        notional = np.abs(q) * px
        text = np.array([f"notional {x:.2f} > max_order_notional {cap:g}" for x in notional], dtype=object)
        proposal.breach(self.action, notional > cap * (1 + 1e-12), text, np.sign(q) * cap / px)
