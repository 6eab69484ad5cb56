"""``qt ib-gateway``: a local gateway that speaks the TWS API protocol, a paper broker for rehearsals and CI.

It listens on 127.0.0.1 until SIGINT or SIGTERM, serves daily bars from a qt data set
(history up to "now", then one replayed bar every ``--bar-interval`` seconds as real-time
bars) and fills orders at the last price. Point ``qt run mode=live broker=ib`` or any
ib_async / TWS API client at its port. ``--state FILE`` keeps the account across restarts of the
gateway; ``--record FILE`` writes every message as a JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from qt.data.panel import BarPanel
    from qt.live.ibsim.simulator import GatewaySimulator

DATA_SETS = ("sample", "sample_ohlcv", "synthetic")
EXAMPLES = """examples:
  qt ib-gateway --port 4002 --data sample                 serve the bundled sample; Ctrl-C to stop
  qt ib-gateway --state gw.json                           keep the account (positions, cash, orders,
                                                          executions, next order id, clock) in gw.json;
                                                          stop and start again with it: nothing is lost
  qt ib-gateway --state gw.json --next-valid-id 1         restart with a lower nextValidId, as IB may
  qt ib-gateway --record gw.jsonl                         append every message in and out as JSON lines
  jq -r 'select(.name=="PLACE_ORDER") | .order_ref' gw.jsonl | sort | uniq -c | sort -rn | head
                                                          placements per orderRef (each should be 1)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--port, --data, --start, --bar-interval, --account, --cash and the rest."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=4002, help="port (default 4002, IB Gateway's paper port; 0: any free port)"
    )
    parser.add_argument(
        "--data", choices=DATA_SETS, default="sample",
        help="bars to serve: sample (20 US stocks, closes), sample_ohlcv (SPX and NASDAQ, OHLCV), synthetic",
    )  # fmt: skip
    parser.add_argument("--assets", type=int, default=20, help="synthetic only: number of stocks (default 20)")
    parser.add_argument("--days", type=int, default=1000, help="synthetic only: number of days (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic only: random seed (default 0)")
    parser.add_argument(
        "--start", type=int, default=None,
        help="bar index that is 'now'; negative counts from the end (default -253: a year of bars left to replay; "
        "with a --state file that kept a clock, the replay resumes there unless --start is given)",
    )  # fmt: skip
    parser.add_argument(
        "--bar-interval", type=float, default=5.0,
        help="seconds between replayed bars (default 5, like IB's 5-second bars; 0: the clock stays at --start)",
    )  # fmt: skip
    parser.add_argument("--account", default="DU0000001", help="the paper account id reported (default DU0000001)")
    parser.add_argument(
        "--cash", type=float, default=1_000_000.0,
        help="starting cash in USD of a new account (default 1,000,000; a --state file keeps its own)",
    )  # fmt: skip
    parser.add_argument(
        "--next-valid-id", type=int, default=None,
        help="order id handed out next (default 1, or what --state kept; lower it to rehearse a gateway restart)",
    )  # fmt: skip
    parser.add_argument("--time-zone", default="UTC", help="zone of execution times, as TWS's own (default UTC)")
    parser.add_argument("--server-version", type=int, default=None, help="server version answered (default 178)")
    parser.add_argument(
        "--max-message-rate", type=int, default=50,
        help="messages per second a client may send before error 100 and a disconnect, as TWS (default 50; 0: no limit)",
    )  # fmt: skip
    parser.add_argument(
        "--state", type=Path, default=None, metavar="FILE",
        help="keep the simulated account in FILE (JSON, written atomically after every change) and load it at "
        "start, so positions, cash, resting orders, executions, the next order id and the clock survive restarts",
    )  # fmt: skip
    parser.add_argument(
        "--record", type=Path, default=None, metavar="FILE",
        help="append every message received and sent to FILE as JSON lines (time, direction, id, name, fields; "
        "orderRef and order id of each placement), flushed as written",
    )  # fmt: skip
    parser.add_argument("--verbose", action="store_true", help="log every session and order")
    parser.epilog = EXAMPLES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def load_panel(name: str, *, assets: int = 20, days: int = 1000, seed: int = 0) -> BarPanel:
    """The bars behind ``--data NAME``."""
    from qt.data.sources.sample import SampleData, SampleSet
    from qt.data.sources.synthetic import SyntheticData

    if name == "sample":
        return SampleData(dataset=SampleSet.SP500_20).load()
    if name == "sample_ohlcv":
        return SampleData(dataset=SampleSet.SPX_NASDAQ_OHLCV).load()
    return SyntheticData(n_assets=assets, n_days=days, seed=seed).load()


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; exit 0 after a clean stop, 2 on bad options or a busy port."""
    from qt.errors import QtError
    from qt.live.ibsim.broker import Broker
    from qt.live.ibsim.simulator import GatewaySimulator
    from qt.live.ibsim.wire import SERVER_VERSION, SUPPORTED_SERVER_VERSIONS

    version = SERVER_VERSION if args.server_version is None else args.server_version
    if version not in SUPPORTED_SERVER_VERSIONS:
        raise QtError(
            f"--server-version {version}: the simulator speaks "
            f"{SUPPORTED_SERVER_VERSIONS.start}..{SUPPORTED_SERVER_VERSIONS.stop - 1} (ib_async 2.1.0's range)"
        )
    if args.bar_interval < 0:
        raise QtError(f"--bar-interval must be >= 0 seconds, got {args.bar_interval}")
    for option, value, low, high in (("--port", args.port, 0, 65535), ("--assets", args.assets, 1, None),
                                     ("--days", args.days, 1, None), ("--max-message-rate", args.max_message_rate, 0, None)):  # fmt: skip
        if value < low or (high is not None and value > high):
            raise QtError(f"{option} must be {f'{low}..{high}' if high is not None else f'>= {low}'}, got {value}")
    if not args.cash > 0:
        raise QtError(f"--cash must be > 0 USD, got {args.cash:g}")
    if args.next_valid_id is not None and args.next_valid_id < 1:
        raise QtError(f"--next-valid-id must be >= 1, got {args.next_valid_id}")
    for option, path in (("--state", args.state), ("--record", args.record)):
        if path is not None and not path.parent.is_dir():
            raise QtError(f"{option} {path}: folder {path.parent} does not exist; create it or pick another file")
        if path is not None and path.is_dir():
            raise QtError(f"{option} {path} is a folder; name a file")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(message)s"
    )
    panel = load_panel(args.data, assets=args.assets, days=args.days, seed=args.seed)
    lock = _lock(args.state) if args.state is not None else None
    gw = GatewaySimulator(
        panel=panel,
        broker=Broker(account=args.account, cash=args.cash, next_valid_id=args.next_valid_id or 1),
        start=-253 if args.start is None else args.start,
        state_file=args.state,
        resume_clock=args.start is None,
        record_file=args.record,
        host=args.host,
        port=args.port,
        server_version=version,
        bar_interval=args.bar_interval or None,
        time_zone=args.time_zone,
        max_message_rate=args.max_message_rate or None,
    )
    if args.next_valid_id is not None:
        gw.broker.next_valid_id = args.next_valid_id
    try:
        return asyncio.run(_serve(gw, args.data))
    except OSError as exc:
        if exc.filename is not None:
            raise QtError(f"cannot write {exc.filename}: {exc.strerror}") from None
        raise QtError(
            f"--port {args.port}: cannot listen on {args.host}:{args.port} ({exc.strerror}); pick another --port"
        ) from None
    finally:
        if lock is not None:
            lock.close()


def _lock(state: Path) -> IO[str]:
    """Hold ``STATE.lock`` for the process's life: two gateways never share one account file."""
    import fcntl

    from qt.errors import QtError

    handle = open(state.with_name(state.name + ".lock"), "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise QtError(
            f"--state {state}: another qt ib-gateway is using it; stop that one or pick another file"
        ) from None
    return handle


async def _serve(gw: GatewaySimulator, data_name: str) -> int:
    """Start, announce the port (first line), the kept account and the record file, wait for a signal, stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await gw.start()
    m, b = gw.market, gw.broker
    replay = f"one bar every {gw.bar_interval:g}s" if gw.bar_interval else "clock frozen"
    secret = os.environ.get("QT_IB_ACCOUNT", "").strip()
    account = "from $QT_IB_ACCOUNT" if secret and b.account == secret else b.account
    print(
        f"qt ib-gateway: listening on {gw.host}:{gw.port} (server version {gw.server_version}, "
        f"account {account}); data {data_name}: {len(m.symbols)} symbols, now = "
        f"{m.timestamp():%Y-%m-%d} (bar {m.cursor + 1} of {m.panel.n_bars}), {replay}; Ctrl-C to stop",
        flush=True,
    )
    if gw.state_file is not None:
        print(
            f"qt ib-gateway: account {'loaded from' if gw.state_loaded else 'kept in'} {gw.state_file}: "
            f"{len(b.positions)} positions, {len(b.orders)} orders, {len(b.executions)} executions, "
            f"cash {b.cash:,.2f}, next order id {b.next_valid_id}",
            flush=True,
        )
    if gw.record_file is not None:
        print(f"qt ib-gateway: recording every message to {gw.record_file} (JSON lines, appended)", flush=True)
    await stop.wait()
    await gw.stop()
    print(
        f"qt ib-gateway: stopped; {len(b.orders)} orders, {len(b.executions)} executions, "
        f"{len(gw.record.placements())} placements received",
        flush=True,
    )
    sys.stdout.flush()
    return 0
