"""The pre-trade limit contract: a limit inspects one decision's proposed orders and clips or rejects them.

A limit is a small frozen component with its own parameters, its ``action`` (clip or reject),
the bar fields it ``needs`` (checked before the run) and one verb, ``apply``. Limits run in
the order configured; a rejected order is out of the running for the limits after it. The
backtest's decision pipeline and live's risk guard run the same limit objects.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from qt.context import DecisionContext
from qt.enums import Field
from qt.types import OrderBatch


class LimitAction(StrEnum):
    """What a breached limit does to an order."""

    CLIP = "clip"
    REJECT = "reject"


@dataclass(frozen=True)
class Checked:
    """Orders that pass (some clipped, ``notes`` says why) and rejected orders with ``reasons``."""

    orders: OrderBatch
    notes: np.ndarray
    rejected: OrderBatch
    reasons: np.ndarray


class Proposal:
    """One decision's orders while limits inspect them: quantities, clip notes and rejection reasons per order.

    Prices are the decision bar's; ``nav`` and ``positions`` the book before trading.
    """

    def __init__(
        self,
        orders: OrderBatch,
        *,
        nav: float,
        positions: np.ndarray,
        prices: np.ndarray,
        symbols: Sequence[str],
        ctx: DecisionContext | None = None,
    ) -> None:
        self.orders = orders
        self.assets = orders.assets
        self.quantities = orders.quantities.astype(np.float64).copy()
        self.nav = nav
        self.positions = positions
        self.prices = prices
        self.symbols = tuple(symbols)
        self.ctx = ctx
        self.notes = np.full(self.assets.size, "", dtype=object)
        self.reasons = np.full(self.assets.size, "", dtype=object)

    @property
    def live(self) -> np.ndarray:
        """Bool per order: not rejected so far."""
        return np.asarray(self.reasons == "")

    def breach(
        self, action: LimitAction, mask: np.ndarray, text: np.ndarray | str, new_quantities: np.ndarray | None
    ) -> None:
        """Clip (to ``new_quantities``, when given) or reject the live orders in ``mask``, recording ``text``."""
        live = mask & self.live
        m = self.assets.size
        texts = np.broadcast_to(np.asarray(text, dtype=object), (m,))[live].astype(str)
        if action is LimitAction.CLIP and new_quantities is not None:
            self.quantities[live] = new_quantities[live]
            self.notes[live] = join_notes(self.notes[live], np.char.add("clipped: ", texts))
        else:
            self.reasons[live] = np.char.add("rejected: ", texts).astype(object)

    def result(self) -> Checked:
        """The orders that pass (with their clip notes) and the rejected ones (original quantities, reasons)."""
        ok = self.live
        a, t = self.assets, self.orders.decided_at
        return Checked(
            OrderBatch(t, a[ok], self.quantities[ok]),
            self.notes[ok],
            OrderBatch(t, a[~ok], self.orders.quantities[~ok]),
            self.reasons[~ok],
        )


class PreTradeLimit(BaseModel, ABC):
    """Base of every pre-trade limit: parameters, ``action``, ``needs`` and ``apply``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    needs: ClassVar[tuple[Field, ...]] = ()  # bar fields the limit reads (e.g. volume); checked before the run
    action: LimitAction = LimitAction.CLIP

    @abstractmethod
    def apply(self, proposal: Proposal) -> None:
        """Clip or reject the proposal's orders that breach this limit (``proposal.breach``)."""


def check_limits(limits: Sequence[PreTradeLimit], proposal: Proposal) -> Checked:
    """Apply ``limits`` in order to ``proposal``; the orders that pass and the rejected ones."""
    for limit in limits:
        limit.apply(proposal)
    return proposal.result()


def join_notes(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Append ``new`` to each non-empty note with '; '."""
    return np.array([f"{o}; {n}" if o else str(n) for o, n in zip(old, new, strict=True)], dtype=object)
