"""Whose order is it: a run's client-order-id namespace on an account shared with other runs or people.

A client order id (sent to the broker as ``orderRef``) is ``SYMBOL-YYYYmmddTHHMMSS-N-DIGEST`` with the
digest keyed by the run name (``qt.live.store.client_order_id``), so whether a reference belongs to a
run can be told from the reference alone. An order or execution is this run's when its id is in this
run's store or carries this run's digest; anything else on the account (another qt run, a person in
TWS, orders without a reference) is foreign: reported, never booked as this run's fill.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from qt.live.store import client_order_id

_ID = re.compile(r"^(?P<symbol>.+)-(?P<stamp>\d{8}T\d{6})-(?P<n>\d+)-(?P<digest>[0-9a-f]{10})$")


def in_namespace(run_name: str, ref: str | None) -> bool:
    """Whether ``ref`` is a client order id of the run ``run_name``.

    Examples
    --------
    >>> ref = client_order_id("alpha", dt.datetime(2024, 1, 2, tzinfo=dt.UTC), "BRK-B", 3)
    >>> in_namespace("alpha", ref), in_namespace("beta", ref), in_namespace("alpha", "manual-123"), in_namespace("alpha", None)
    (True, False, False, False)
    """
    if not ref:
        return False
    match = _ID.match(ref)
    if match is None:
        return False
    stamp = dt.datetime.strptime(match["stamp"], "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
    return client_order_id(run_name, stamp, match["symbol"], int(match["n"])) == ref


def ownership(run_name: str | None, stored: Callable[[str], bool]) -> Callable[[str | None], bool]:
    """A test for "this run's order": stored in this run's store, or in its namespace (``run_name`` given)."""

    def ours(ref: str | None) -> bool:
        if not ref:
            return False
        return stored(ref) or (run_name is not None and in_namespace(run_name, ref))

    return ours
