"""``qt live status|halt|resume|flatten --state-dir DIR``: inspect and control a live run from another shell.

Everything goes through the run's state store (``DIR/store.json`` says which one): ``halt``,
``resume`` and ``flatten`` persist a trading state (and, for flatten, a request) that the
running ``qt run mode=live`` process reads between bars - or, if none runs, at its next start.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from qt.live.store import Event, LiveStore, OrderRecord

ACTIONS = {
    "status": "trading state, positions, open orders, last decision and bar, health, alerts, store integrity",
    "halt": "HALTED: the running process cancels open orders and sends nothing until resume (survives restarts)",
    "resume": "ACTIVE: trading resumes at the next decision",
    "flatten": "REDUCING plus a flatten request: every position is closed through the risk guard",
}
EPILOG = """examples:
  qt live status --state-dir live/xmom-paper            state, book, orders, health, alerts (--json for machines)
  qt live halt --state-dir live/xmom-paper --reason "earnings"
  qt live resume --state-dir ~/live/xmom-paper
  qt live flatten --state-dir $LIVE/xmom-paper

The running process applies halt/resume/flatten within a fraction of a second; with no process
running, they wait in the store and apply at the next start. See docs/live.md."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The four actions, each with ``--state-dir``; ``status`` takes ``--json``, the others ``--reason``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in ACTIONS.items():
        p = sub.add_parser(name, help=text, description=f"qt live {name}: {text}")
        p.add_argument(
            "--state-dir", required=True, metavar="DIR", help="the run's live.state_dir (~ and $VARS expanded)"
        )
        p.add_argument("--timeout", type=_seconds, default=10.0, help="seconds to wait for the store (default 10)")
        if name == "status":
            p.add_argument("--json", action="store_true", help="print the status as one JSON object")
            p.add_argument("--alerts", type=int, default=5, help="recent alerts shown (default 5)")
            p.add_argument("--no-check", action="store_true", help="skip the integrity check (a replay of the log)")
        else:
            p.add_argument("--reason", default=None, help="why (shown by qt live status and in the outputs)")


def run(args: argparse.Namespace) -> int:
    """Open the folder's store and do the action; a missing or empty folder is one error (exit 2)."""
    folder = _folder(args.state_dir)
    with _open(folder, args.timeout, read_only=args.action == "status") as store:  # status writes nothing
        if args.action == "status":
            report = status(store, folder, alerts=max(args.alerts, 0), check=not args.no_check)
            if args.json:
                print(json.dumps(report, indent=2))
            else:
                render(report)
            return 0
        return _control(store, folder, args.action, args.reason)


# -- control ------------------------------------------------------------------------------
def _control(store: LiveStore, folder: Path, action: str, reason: str | None) -> int:
    from qt.enums import HaltCause, TradingState
    from qt.live.journal import OperatorRequest, Request

    by = f"{action} from the command line by {_user()}"
    why = f"{reason} ({by})" if reason else by
    if action == "halt":
        store.set_trading_state(TradingState.HALTED, why, cause=HaltCause.OPERATOR)
        print(f"HALTED {folder}: {why}")
        print("the running process cancels its open orders and sends no new ones until `qt live resume`;")
        print("if none runs, the next start finds the run halted")
    elif action == "resume":
        store.set_trading_state(TradingState.ACTIVE, why, cause=HaltCause.OPERATOR)
        print(f"ACTIVE {folder}: {why}; the next decision trades again")
    else:
        with store.batch():
            store.set_trading_state(TradingState.REDUCING, why, cause=HaltCause.OPERATOR)
            store.record(OperatorRequest(Request.FLATTEN, why))
        print(f"REDUCING {folder}: flatten requested ({why})")
        print("the running process closes every position through the risk guard (within a second);")
        print("if none runs, the request waits in the store and applies at the next start;")
        print("trading stays REDUCING (no new decisions) until `qt live resume`")
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "unknown user"


# -- status -------------------------------------------------------------------------------
def status(store: LiveStore, folder: Path, *, alerts: int = 5, check: bool = True) -> dict[str, Any]:
    """Everything ``qt live status`` shows, as plain JSON-ready values (times ISO-8601 UTC)."""
    state = store.trading_state()
    meta = store.meta()
    decision, bar, health = store.last_decision(), store.last_bar(), store.last_health()
    recorded = store.alerts()
    recent = recorded[len(recorded) - alerts :] if alerts else []
    integrity: dict[str, Any] = {"checked": check}
    if check:
        started = time.perf_counter()
        problems = store.integrity_check()
        integrity |= {"ok": not problems, "problems": problems, "seconds": round(time.perf_counter() - started, 3)}
    return {
        "state_dir": str(folder),
        "run_name": meta.run_name,
        "store": {"kind": meta.kind, "location": meta.location, "schema_version": meta.schema_version},
        "trading_state": {
            "state": state.state.value,
            "cause": state.cause.value,
            "reason": state.reason,
            "since": _iso(state.since),
        },
        "positions": dict(sorted(store.positions().items())),
        "cash": store.cash(),
        "open_orders": [_order(o) for o in store.orders(open_only=True)],
        "last_decision": None if decision is None else _decision(decision),
        "last_bar": None if bar is None else {"time": _iso(bar.time), "nav": bar.payload.get("nav")},
        "health": {
            "stale": state.state.value == "halted" and state.cause.value == "stale_data",
            "last_event": None
            if health is None
            else {"time": _iso(health.time), "status": health.kind.value, **health.payload},
        },
        "alerts": {"total": len(recorded), "recent": [_alert(a) for a in recent]},
        "events": store.summary()["events"],
        "integrity": integrity,
    }


def _order(o: OrderRecord) -> dict[str, Any]:
    return {
        "client_order_id": o.client_order_id,
        "symbol": o.symbol,
        "quantity": o.intent.quantity,
        "filled": o.filled,
        "status": o.status.value,
        "decided_at": _iso(o.intent.decided_at),
    }


def _decision(e: Event) -> dict[str, Any]:
    """The decision's time and how many orders it made."""
    return {"time": _iso(e.time), "orders": len((e.payload.get("orders") or {}).get("assets", []))}


def _alert(e: Event) -> dict[str, Any]:
    return {"time": _iso(e.time), "severity": e.payload.get("severity", ""), "message": e.payload.get("message")}


def render(report: dict[str, Any], console: Console | None = None) -> None:
    """Print ``report`` (from :func:`status`) for a terminal 80 columns wide or more."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    state = report["trading_state"]
    colour = {"active": "green", "reducing": "yellow", "halted": "bold red"}[state["state"]]
    store = report["store"]
    console.print(f"[bold]qt live status[/] {escape(report['state_dir'])}  (run {escape(str(report['run_name']))})")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column(overflow="fold")
    facts.add_row("trading", f"[{colour}]{state['state'].upper()}[/] since {_shown(state['since'])}")
    facts.add_row("reason", escape(f"{state['reason']} (cause: {state['cause']})"))
    bar = report["last_bar"]
    facts.add_row("last bar", "none yet" if bar is None else f"{_shown(bar['time'])}  NAV {_money(bar['nav'])}")
    decision = report["last_decision"]
    facts.add_row(
        "decision", "none yet" if decision is None else f"{_shown(decision['time'])}  {decision['orders']} orders"
    )
    health = report["health"]
    last = health["last_event"]
    seen = "no health event" if last is None else f"last health event {_shown(last['time'])}: {_health(last)}"
    facts.add_row("health", ("[bold red]STALE DATA[/]; " if health["stale"] else "fresh; ") + escape(seen))
    facts.add_row("cash", _money(report["cash"]))
    facts.add_row("store", escape(f"{store['kind']} {store['location']} (schema {store['schema_version']})"))
    facts.add_row("integrity", _integrity(report["integrity"], report["events"]))
    console.print(facts)

    positions = Table(title=f"positions ({len(report['positions'])})", title_justify="left", show_edge=False)
    positions.add_column("symbol")
    positions.add_column("quantity", justify="right")
    for symbol, quantity in report["positions"].items():
        positions.add_row(escape(symbol), f"{quantity:,.4f}".rstrip("0").rstrip("."))
    console.print(positions if report["positions"] else "[dim]positions: none[/]")

    if report["open_orders"]:
        orders = Table(title=f"open orders ({len(report['open_orders'])})", title_justify="left", show_edge=False)
        for name, justify in (("client order id", "left"), ("symbol", "left"), ("quantity", "right"),
                              ("filled", "right"), ("status", "left")):  # fmt: skip
            orders.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
        for o in report["open_orders"]:
            orders.add_row(escape(o["client_order_id"]), escape(o["symbol"]), f"{o['quantity']:,.4g}",
                           f"{o['filled']:,.4g}", o["status"])  # fmt: skip
        console.print(orders)
    else:
        console.print("[dim]open orders: none[/]")

    alerts = report["alerts"]
    if alerts["recent"]:
        table = Table(title=f"alerts (last {len(alerts['recent'])} of {alerts['total']})", title_justify="left",
                      show_edge=False)  # fmt: skip
        table.add_column("time", no_wrap=True)
        table.add_column("message", overflow="fold")
        for a in alerts["recent"]:
            table.add_row(_shown(a["time"]), escape(str(a["message"])))
        console.print(table)
    else:
        console.print("[dim]alerts: none[/]")


# -- helpers ------------------------------------------------------------------------------
def _seconds(text: str) -> float:
    """``--timeout``: a positive number of seconds (argparse names the flag when this refuses)."""
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"write a positive number of seconds (e.g. 10), got {text!r}")
    return value


def _folder(state_dir: str) -> Path:
    from qt.config.paths import expand_path
    from qt.errors import QtError

    folder = expand_path(state_dir, "--state-dir")
    if folder.exists() and not folder.is_dir():
        raise QtError(
            f"--state-dir {folder} is a file, not a folder; give the live.state_dir of a `qt run mode=live` run"
        )
    if not folder.is_dir():
        raise QtError(f"--state-dir {folder}: no such folder; give the live.state_dir of a `qt run mode=live` run")
    return folder


def _open(folder: Path, timeout: float, *, read_only: bool = False) -> LiveStore:
    from qt.live.store import open_state_dir

    return open_state_dir(folder, timeout_s=timeout, read_only=read_only)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def _shown(text: str) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM:SS UTC`` (no seconds' fraction)."""
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _money(value: Any) -> str:
    return "n/a" if value is None else f"{float(value) + 0.0:,.2f}".replace("-0.00", "0.00")


def _health(payload: dict[str, Any]) -> str:
    """``status`` first, then the other fields (``reason ...``)."""
    fields = {k: v for k, v in payload.items() if k not in ("time", "status")}
    head = [str(payload["status"])] if "status" in payload else []
    return ", ".join(head + [f"{k} {v}" for k, v in fields.items()]) or "-"


def _integrity(integrity: dict[str, Any], events: int) -> str:
    from rich.markup import escape

    if not integrity["checked"]:
        return f"not checked ({events:,} events in the log)"
    if integrity["ok"]:
        return f"[green]ok[/]: the log ({events:,} events) replays to the snapshot ({integrity['seconds']:.2f} s)"
    problems = integrity["problems"]
    shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    return f"[bold red]{len(problems)} problem(s)[/]: {escape(shown)}"
