"""The simulated account on disk (``qt ib-gateway --state FILE``), so it outlives the simulator process.

One JSON document: cash, positions, every order (working or done), every execution, the next
order id, perm id and execution number, and the replay clock. Writes are atomic (a temp file in
the same folder, flushed and fsynced, then renamed over the old one), so a reader or a killed
simulator sees the previous account or the new one, never half of one. The account id is not
stored: it is whatever ``--account`` says when the simulator starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from qt.errors import QtError
from qt.live.ibsim.broker import Broker, BrokerPosition, SimExecution, SimOrder

#: What a state file says it is (a JSON file without it is someone else's, and refused).
FORMAT = "qt-ib-gateway-state"
VERSION = 1
#: Seconds over which changes of the account are batched into one write (at least twice the last write's
#: duration, so a large account never spends more than a third of the gateway's time saving).
SAVE_DELAY = 0.02


class GatewayStateError(QtError):
    """A ``--state`` file that is not a readable qt gateway state (the file is left as it is)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OrderState(_Frozen):
    """One order as stored (``SimOrder`` without its account)."""

    order_id: int
    client_id: int
    perm_id: int
    symbol: str
    action: Literal["BUY", "SELL"]
    quantity: float = Field(gt=0)
    order_type: str
    limit_price: float | None
    tif: str
    order_ref: str
    exchange: str
    currency: str
    status: str
    filled: float = Field(ge=0)
    avg_fill_price: float
    last_fill_price: float
    completed_time: str
    completed_status: str


class ExecutionState(_Frozen):
    """One execution as stored; ``order_id`` names its order."""

    exec_id: str
    order_id: int
    shares: float
    price: float
    time: AwareDatetime
    cum_qty: float
    avg_price: float
    commission: float
    realized_pnl: float


class GatewayState(_Frozen):
    """The whole state file."""

    format: Literal["qt-ib-gateway-state"]
    version: Literal[1]
    now: AwareDatetime | None = None  # the replay clock's bar when saved
    cash: float
    currency: str
    next_valid_id: int = Field(ge=1)
    next_perm_id: int = Field(ge=1)
    exec_seq: int = Field(ge=0)
    realized_pnl: float
    positions: dict[str, tuple[float, float]]  # symbol -> (quantity, average cost)
    orders: list[OrderState]
    executions: list[ExecutionState]


_ORDER_FIELDS = tuple(OrderState.model_fields)
_EXECUTION_FIELDS = tuple(f for f in ExecutionState.model_fields if f not in ("order_id", "time"))


def snapshot(broker: Broker, now: datetime | None) -> dict[str, object]:
    """The broker's account as the state file's JSON value (``now``: the replay clock).

    Plain dicts, not ``GatewayState``: writing is on the gateway's hot path, validation only on load.
    """
    return {
        "format": FORMAT, "version": VERSION, "now": now.isoformat() if now is not None else None,
        "cash": broker.cash, "currency": broker.currency, "next_valid_id": broker.next_valid_id,
        "next_perm_id": broker._next_perm_id, "exec_seq": broker._exec_seq, "realized_pnl": broker.realized_pnl,
        "positions": {s: [p.quantity, p.avg_cost] for s, p in sorted(broker.positions.items())},
        "orders": [{f: getattr(o, f) for f in _ORDER_FIELDS} for _, o in sorted(broker.orders.items())],
        "executions": [
            {"order_id": e.order.order_id, "time": e.time.isoformat(), **{f: getattr(e, f) for f in _EXECUTION_FIELDS}}
            for e in broker.executions
        ],
    }  # fmt: skip


def restore(state: GatewayState, *, account: str) -> Broker:
    """A ``Broker`` holding the stored account, reported as ``account``."""
    broker = Broker(account=account, cash=state.cash, currency=state.currency, next_valid_id=state.next_valid_id)
    broker.realized_pnl = state.realized_pnl
    broker._next_perm_id, broker._exec_seq = state.next_perm_id, state.exec_seq
    broker.positions = {s: BrokerPosition(q, c) for s, (q, c) in state.positions.items()}
    for o in state.orders:
        broker.orders[o.order_id] = SimOrder(account=account, **o.model_dump())
    for e in state.executions:
        fields = e.model_dump()
        broker.executions.append(SimExecution(order=broker.orders[fields.pop("order_id")], **fields))
    return broker


def save(path: Path, broker: Broker, now: datetime | None) -> None:
    """Write the account to ``path`` atomically (temp file, fsync, rename)."""
    text = json.dumps(snapshot(broker, now), separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load(path: Path, *, symbols: tuple[str, ...]) -> GatewayState | None:
    """The state in ``path`` (None when the file does not exist yet); one clear error for anything else.

    ``symbols`` are those the simulator serves: a state holding others was written with other data.
    """
    if not path.exists():
        if not path.parent.is_dir():
            raise GatewayStateError(f"--state {path}: folder {path.parent} does not exist; create it or pick another")
        return None
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GatewayStateError(_refusal(path, f"is not a JSON state file ({_short(exc)})")) from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise GatewayStateError(_refusal(path, f'is not a qt ib-gateway state file (no "format": "{FORMAT}")'))
    if raw.get("version") != VERSION:
        raise GatewayStateError(
            _refusal(path, f"has state version {raw.get('version')!r}; this qt reads version {VERSION}")
        )
    try:
        state = GatewayState.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise GatewayStateError(_refusal(path, f"is damaged: {where}: {first['msg']}")) from None
    _check_consistent(path, state, symbols)
    return state


def _check_consistent(path: Path, state: GatewayState, symbols: tuple[str, ...]) -> None:
    ids = {o.order_id for o in state.orders}
    if len(ids) != len(state.orders):
        raise GatewayStateError(_refusal(path, "is damaged: an order id appears twice"))
    if missing := sorted({e.order_id for e in state.executions} - ids):
        raise GatewayStateError(_refusal(path, f"is damaged: executions of unknown orders {missing[:5]}"))
    held = set(state.positions) | {o.symbol for o in state.orders}
    if unknown := sorted(held - set(symbols)):
        raise GatewayStateError(
            f"--state {path}: the account holds {', '.join(unknown[:5])}, which the --data served now does not "
            "have; start with the --data it was written with, or another --state file"
        )


def _refusal(path: Path, what: str) -> str:
    return f"--state {path} {what}; it was left unchanged: pass another file, or move this one away to start afresh"


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


class StateKeeper:
    """Writes the account to ``path`` soon after each change; changes within the delay are one write.

    ``source`` gives the broker and the replay clock to write; a failed write goes to ``on_error``
    (the previous file stays whole) and the next change tries again.
    """

    def __init__(
        self, path: Path, *, source: Callable[[], tuple[Broker, datetime]], on_error: Callable[[str], None]
    ) -> None:
        self.path = path
        self._source, self._on_error = source, on_error
        self._pending = False
        self._seconds = 0.0  # how long the last write took

    def changed(self) -> None:
        """The account changed: write it soon (at once when no event loop runs)."""
        if self._pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.save()
            return
        self._pending = True
        loop.call_later(max(SAVE_DELAY, 2 * self._seconds), self.save)

    def save(self) -> None:
        """Write the account now."""
        self._pending = False
        began = time.perf_counter()
        broker, now = self._source()
        try:
            save(self.path, broker, now)
        except OSError as exc:
            self._on_error(f"cannot write the state file {self.path}: {exc}")
        self._seconds = time.perf_counter() - began
