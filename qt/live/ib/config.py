"""``broker: {kind: ib, ...}``: where the Interactive Brokers gateway is and how qt talks to it.

The account id comes from ``$QT_IB_ACCOUNT`` (``conf/broker/ib.yaml`` reads it); it is kept as a
secret value, so it is never printed, logged or written to the state folder.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt, SecretStr

#: Server versions qt is tested against (the gateway simulator answers 178; ib_async 2.1.0 speaks 157..178).
MIN_SERVER_VERSION = 176
MAX_SERVER_VERSION = 178


class IBSettings(BaseModel):
    """The ``broker`` block of ``broker=ib``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["ib"] = "ib"
    host: str = "127.0.0.1"
    port: int = Field(4002, ge=0, le=65535)  # IB Gateway paper 4002, live 4001; TWS paper 7497, live 7496
    client_id: int = Field(1, ge=0)
    account: SecretStr | None = None  # from $QT_IB_ACCOUNT; None: the login's only account
    connect_timeout_s: PositiveFloat = 10.0  # handshake plus synchronization of positions, orders, executions
    request_timeout_s: PositiveFloat = 30.0  # contract details and historical bars
    order_type: Literal["market", "limit"] = "market"
    limit_offset_bps: NonNegativeFloat = 10.0  # limit orders: last price +offset for buys, -offset for sells
    whole_shares: bool = True  # round order quantities toward zero to whole shares (IB's default for stocks)
    readonly: bool = False  # connect, synchronize and reconcile; never send an order
    exchange: str = "SMART"
    currency: str = "USD"
    calendar: str = "XNYS"  # the exchange calendar daily bars follow (qt.data.calendars)
    warmup: str = "2 Y"  # history requested before the first decision (IB duration: N D | W | M | Y)
    bar_settle_s: PositiveFloat = 2.0  # a session's bar is complete this long after its first summary bar
    reconnect_base_s: PositiveFloat = 1.0  # first wait before reconnecting; doubles each failed attempt ...
    reconnect_cap_s: PositiveFloat = 60.0  # ... up to this
    reconnect_jitter: float = Field(0.25, ge=0, lt=1)  # each wait times a random factor in [1 - j, 1 + j]
    connect_attempts: PositiveInt = 3  # at start: attempts before giving up (a running session retries forever)
    alert_after_disconnect_minutes: PositiveFloat = 5.0
    max_messages_per_second: PositiveInt = Field(40, le=45)  # any one second; IB disconnects above 50
    burst_messages: PositiveInt = 10  # of those, sent at once; the rest evenly over the second
    min_server_version: PositiveInt = MIN_SERVER_VERSION
    max_server_version: PositiveInt = MAX_SERVER_VERSION
    stop_after_bars: PositiveInt | None = None  # rehearsals and tests: stop after this many live bars

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before reconnect ``attempt`` (0-based): capped exponential with jitter.

        Examples
        --------
        >>> s = IBSettings(reconnect_base_s=1, reconnect_cap_s=8, reconnect_jitter=0)
        >>> [s.backoff(k) for k in range(5)]
        [1.0, 2.0, 4.0, 8.0, 8.0]
        """
        wait = min(self.reconnect_cap_s, self.reconnect_base_s * 2.0 ** min(attempt, 60))
        u = (rng or random).uniform(-1.0, 1.0)
        return wait * (1.0 + self.reconnect_jitter * u)

    @property
    def account_id(self) -> str:
        """The account id (empty when not set); never log or store it."""
        return self.account.get_secret_value() if self.account is not None else ""
