"""Maximum weight of NAV any one position may reach after the decision's orders."""

from __future__ import annotations

import numpy as np
from pydantic import PositiveFloat

from qt.risk.limits.base import PreTradeLimit, Proposal


class MaxPositionWeight(PreTradeLimit):
    """|position after the order| x price / NAV <= ``max_position_weight``; clipping trades down to the cap.

    Examples
    --------
    >>> from qt.types import OrderBatch
    >>> p = Proposal(OrderBatch(0, np.array([0]), np.array([30.0])), nav=1000.0, positions=np.zeros(1),
    ...              prices=np.array([10.0]), symbols=("A",))
    >>> MaxPositionWeight(max_position_weight=0.1).apply(p)
    >>> p.quantities.tolist(), p.notes.tolist()
    ([10.0], ['clipped: position weight 0.3 > max_position_weight 0.1'])
    """

    max_position_weight: PositiveFloat

    def apply(self, proposal: Proposal) -> None:
        """Clip or reject orders that take a position past the cap."""
        a, cap, px = proposal.assets, self.max_position_weight, proposal.prices[proposal.assets]
        pos = proposal.positions[a]
        w = (pos + proposal.quantities) * px / proposal.nav
        text = np.array([f"position weight {x:.4g} > max_position_weight {cap:g}" for x in w], dtype=object)
        proposal.breach(self.action, np.abs(w) > cap + 1e-12, text, np.sign(w) * cap * proposal.nav / px - pos)
