"""``broker: {kind: ib, ...}``: where the Interactive Brokers gateway is and how qt talks to it.

The account id comes from ``$QT_IB_ACCOUNT`` (``conf/broker/ib.yaml`` reads it); it is kept as a
secret value, so it is never printed, logged or written to the state folder.
"""

from __future__ import annotations

import random
import re
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    field_validator,
    model_validator,
)

#: Server versions qt is tested against (the gateway simulator answers 178; ib_async 2.1.0 speaks 157..178).
MIN_SERVER_VERSION = 176
MAX_SERVER_VERSION = 178


class IBSettings(BaseModel):
    """The ``broker`` block of ``broker=ib``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["ib"] = "ib"
    host: str = "127.0.0.1"
    port: int = Field(4002, ge=1, le=65535)  # IB Gateway paper 4002, live 4001; TWS paper 7497, live 7496
    client_id: int = Field(1, ge=0, le=2**31 - 1)  # TWS takes a 32-bit signed client id
    account: SecretStr | None = None  # from $QT_IB_ACCOUNT; None: the login's only account
    connect_timeout_s: PositiveFloat = 10.0  # handshake plus synchronization of positions, orders, executions
    request_timeout_s: PositiveFloat = 30.0  # contract details and historical bars
    order_type: Literal["market", "limit"] = "market"
    limit_offset_bps: float = Field(10.0, ge=0, lt=10_000)  # limit orders: last +offset for buys, -offset for sells
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
    connect_attempts: PositiveInt = 2  # at start: attempts before giving up (a running session retries forever);
    # 2 x 10 s + one backoff: a gateway that accepts and never answers fails within ~22 s
    alert_after_disconnect_minutes: PositiveFloat = 5.0
    max_messages_per_second: PositiveInt = Field(40, le=45)  # any one second; IB disconnects above 50
    burst_messages: PositiveInt = 10  # of those, sent at once; the rest evenly over the second
    min_server_version: PositiveInt = MIN_SERVER_VERSION
    max_server_version: PositiveInt = MAX_SERVER_VERSION
    stop_after_bars: PositiveInt | None = None  # rehearsals and tests: stop after this many live bars

    @field_validator("host")
    @classmethod
    def _a_host(cls, value: str) -> str:
        """The gateway's host name or address: never empty (``broker.host=''`` would connect nowhere)."""
        if not value.strip() or any(c.isspace() for c in value):
            raise ValueError("write the gateway's host name or address (e.g. 127.0.0.1)")
        return value

    @field_validator("warmup")
    @classmethod
    def _an_ib_duration(cls, value: str) -> str:
        """An IB duration string (``2 Y``, ``250 D``): anything else is refused by the gateway, much later."""
        if not re.fullmatch(r"[1-9][0-9]* [SDWMY]", value):
            raise ValueError("write an IB duration: a positive number, a space and S, D, W, M or Y (e.g. 2 Y)")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> IBSettings:
        """Pairs that bound each other: base <= cap, burst <= per second, min version <= max version."""
        for low, high in (("reconnect_base_s", "reconnect_cap_s"), ("burst_messages", "max_messages_per_second"),
                          ("min_server_version", "max_server_version")):  # fmt: skip
            if getattr(self, low) > getattr(self, high):
                raise ValueError(
                    f"{low} ({getattr(self, low):g}) must not exceed {high} ({getattr(self, high):g}): lower one or "
                    "raise the other"
                )
        return self

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
