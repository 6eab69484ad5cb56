"""The gateway's message log on disk (``qt ib-gateway --record FILE``): one JSON line per message, as it happens.

Each line has ``time`` (Unix seconds), ``direction`` (``in`` from a client, ``out`` to a client, ``event`` for
the gateway starting, stopping and sessions opening and closing), ``session``, ``client_id``, ``msg_id`` and
``name`` of the message and its decoded ``fields``; placements also carry ``order_ref`` and ``order_id``
at the top level, so one line of ``jq`` or Python counts placements per orderRef. Lines are flushed as
written (a killed gateway leaves every line it wrote) and appended, so one file spans gateway restarts.

Account ids a client sends that are not the simulator's own, and the value of ``$QT_IB_ACCOUNT``, are
written as ``<redacted>``: a rehearsal pointed at the simulator never copies a real account id to disk.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import IO

from qt.live.ibsim.wire import InMsg, OutMsg, field_text

REDACTED = "<redacted>"
#: What an IB account id looks like (DU1234567, U1234567, F1234567, ...), for messages whose fields are not named.
_ACCOUNT_LIKE = re.compile(r"^[A-Z]{1,3}\d{4,}$")

#: Names of the fields of the gateway's own messages worth naming (the rest are written as a list).
_OUT_LAYOUT: dict[int, dict[str, int]] = {
    OutMsg.ORDER_STATUS: {
        "order_id": 1, "status": 2, "filled": 3, "remaining": 4, "avg_fill_price": 5, "perm_id": 6,
        "last_fill_price": 8, "client_id": 9,
    },
    OutMsg.ERROR: {"req_id": 2, "code": 3, "text": 4},
    OutMsg.OPEN_ORDER: {
        "order_id": 1, "symbol": 3, "action": 13, "quantity": 14, "order_type": 15, "limit_price": 16,
        "tif": 18, "account": 20, "order_ref": 23, "client_id": 24, "perm_id": 25,
    },
    OutMsg.COMPLETED_ORDER: {
        "symbol": 2, "action": 12, "quantity": 13, "order_type": 14, "limit_price": 15, "tif": 17,
        "account": 19, "order_ref": 22, "perm_id": 23,
    },
    OutMsg.EXECUTION_DATA: {
        "req_id": 1, "order_id": 2, "symbol": 4, "exec_id": 14, "time": 15, "account": 16, "side": 18,
        "shares": 19, "price": 20, "perm_id": 21, "client_id": 22, "cum_qty": 24, "avg_price": 25, "order_ref": 26,
    },
    OutMsg.COMMISSION_REPORT: {"exec_id": 2, "commission": 3, "currency": 4, "realized_pnl": 5},
    OutMsg.NEXT_VALID_ID: {"order_id": 2},
    OutMsg.MANAGED_ACCOUNTS: {"accounts": 2},
    OutMsg.POSITION_DATA: {"account": 2, "symbol": 4, "position": 14, "avg_cost": 15},
    OutMsg.HISTORICAL_DATA: {"req_id": 1, "start": 2, "end": 3, "bars": 4},
    OutMsg.REAL_TIME_BARS: {"req_id": 2, "time": 3, "open": 4, "high": 5, "low": 6, "close": 7, "volume": 8},
    OutMsg.HISTORICAL_DATA_UPDATE: {"req_id": 1, "date": 3, "close": 5},
    OutMsg.ACCOUNT_VALUE: {"key": 2, "value": 3, "currency": 4, "account": 5},
}  # fmt: skip


def message_name(direction: str, msg_id: int) -> str:
    """``PLACE_ORDER``, ``ORDER_STATUS``, ... (``UNKNOWN_<id>`` for an id the simulator has no name for).

    Examples
    --------
    >>> message_name("in", 3), message_name("out", 3), message_name("in", 999)
    ('PLACE_ORDER', 'ORDER_STATUS', 'UNKNOWN_999')
    """
    enum = InMsg if direction == "in" else OutMsg
    try:
        return enum(msg_id).name
    except ValueError:
        return f"UNKNOWN_{msg_id}"


def name_fields(layout: dict[str, int], fields: list[str]) -> dict[str, str]:
    """The named fields of a message (missing ones empty)."""
    return {name: fields[i] if i < len(fields) else "" for name, i in layout.items()}


class Recorder:
    """Appends JSON lines to ``path``; ``own_account`` is the simulator's account (written as it is).

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "gw.jsonl"
    >>> r = Recorder(path, own_account="DU0000001", environ={})
    >>> r.received(1, 7, ["3", "12"], {"order_id": "12", "order_ref": "r1", "account": "U7654321"})
    >>> r.close()
    >>> line = json.loads(path.read_text())
    >>> line["name"], line["order_ref"], line["order_id"], line["fields"]["account"]
    ('PLACE_ORDER', 'r1', '12', '<redacted>')
    """

    def __init__(self, path: Path, *, own_account: str, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.path = path
        self.own_account = own_account
        self._secret = env.get("QT_IB_ACCOUNT", "").strip()
        self._file: IO[str] | None = path.open("a", encoding="utf-8", buffering=1)

    def _safe(self, value: str, *, account: bool | None = None) -> str:
        """``value`` with secrets redacted.

        ``account``: a field named account (True), another named field (False), or an unnamed field,
        redacted when it looks like an account id (None).
        """
        if self._secret and self._secret in value:
            return value.replace(self._secret, REDACTED)
        looks = bool(value) if account else account is None and _ACCOUNT_LIKE.match(value) is not None
        return REDACTED if looks and value != self.own_account else value

    def _write(self, line: dict[str, object]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(line, separators=(",", ":")) + "\n")

    def event(self, kind: str, **info: object) -> None:
        """A gateway event: ``start``, ``stop``, ``open`` and ``close`` of a session, ``restart``."""
        safe = {k: self._safe(v) if isinstance(v, str) else v for k, v in info.items()}
        self._write({"time": round(time.time(), 6), "direction": "event", "event": kind, **safe})

    def received(self, session: int, client_id: int | None, fields: list[str], decoded: dict[str, str]) -> None:
        """One message from a client (``decoded``: its named fields, see ``messages.decode_request``)."""
        msg_id = int(fields[0]) if fields and fields[0].lstrip("-").isdigit() else -1
        line: dict[str, object] = {
            "time": round(time.time(), 6), "direction": "in", "session": session, "client_id": client_id,
            "msg_id": msg_id, "name": message_name("in", msg_id),
        }  # fmt: skip
        if decoded:
            named = {k: self._safe(v, account=k == "account") for k, v in decoded.items()}
            if msg_id == InMsg.PLACE_ORDER:
                line["order_ref"], line["order_id"] = named.get("order_ref", ""), named.get("order_id", "")
            line["fields"] = named
        else:
            line["fields"] = [self._safe(f) for f in fields[1:]]
        self._write(line)

    def sent(self, session: int, client_id: int | None, fields: list[object]) -> None:
        """One message to a client, as its builder made it (``fields[0]`` is the message id)."""
        texts = [field_text(f) for f in fields]
        msg_id = int(texts[0]) if texts and texts[0].lstrip("-").isdigit() else -1
        line: dict[str, object] = {
            "time": round(time.time(), 6), "direction": "out", "session": session, "client_id": client_id,
            "msg_id": msg_id, "name": message_name("out", msg_id),
        }  # fmt: skip
        layout = _OUT_LAYOUT.get(msg_id)
        if layout is not None:
            line["fields"] = {k: self._safe(v, account=k == "account") for k, v in name_fields(layout, texts).items()}
        else:
            line["fields"] = [self._safe(t) for t in texts[1:]]
        self._write(line)

    def close(self) -> None:
        """Close the file (later calls write nothing)."""
        if self._file is not None:
            self._file.close()
            self._file = None
