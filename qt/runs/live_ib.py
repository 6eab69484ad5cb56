"""``qt run mode=live broker=ib``: the IB session of ``qt.live.ib.run``, then the run's result files."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from qt.data.panel import BarPanel
from qt.live.ib.run import ib_session, ib_settings
from qt.live.settings import LiveSettings
from qt.live.store import EventKind, LiveStore


def run_ib(
    cfg: DictConfig, parts: Any, panel: BarPanel, settings: LiveSettings, store: LiveStore, folder: Path,
    started: float,
) -> Any:  # fmt: skip
    """Run the session against the gateway of ``cfg.broker``; the run's summary once it stops."""
    from qt.runs.live import build_driver, write_live_outputs

    history = asyncio.run(ib_session(parts, panel, settings, ib_settings(cfg), store, build_driver))
    bars = store.events(kinds=[EventKind.BAR], limit=1)
    first = int(bars[0].payload["t"]) if bars else history.n
    return write_live_outputs(folder, store, history.panel(), first, parts.settings.capital, started)
