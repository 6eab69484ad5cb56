"""Maximum participation in an asset's average daily volume."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field as PydanticField
from pydantic import PositiveInt

from qt.enums import Field
from qt.risk.limits.base import PreTradeLimit, Proposal


class MaxParticipation(PreTradeLimit):
    """|quantity| <= ``max_participation`` x the mean volume of the last ``adv_window`` bars (needs volume)."""

    needs: ClassVar[tuple[Field, ...]] = (Field.VOLUME,)
    max_participation: float = PydanticField(..., gt=0, le=1)
    adv_window: PositiveInt = 20

    def apply(self, proposal: Proposal) -> None:
        """Clip or reject orders larger than the allowed share of average daily volume."""
        if proposal.ctx is None:
            raise ValueError("max_participation needs the average daily volume (a volume field in the data)")
        volume = proposal.ctx.history(Field.VOLUME, self.adv_window)
        adv = np.nanmean(np.where(np.isfinite(volume), volume, np.nan), axis=0)[proposal.assets]
        q = proposal.quantities
        cap_q = self.max_participation * np.nan_to_num(adv)
        text = np.array(
            [f"{abs(x):.6g} shares > {self.max_participation:g} x ADV {v:.6g}" for x, v in zip(q, adv, strict=True)],
            dtype=object,
        )
        proposal.breach(self.action, np.abs(q) > cap_q * (1 + 1e-12), text, np.sign(q) * cap_q)
