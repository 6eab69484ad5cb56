"""``qt label strategy=NAME labeling=triple_barrier``: triple-barrier labels and meta-labels as a parquet table.

Events are the strategy's decision bars x assets with a price; the primary side is the sign
of the strategy's raw target there, and the meta-label says whether that bet paid.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Hydra overrides and ``--out``."""
    parser.add_argument("--out", default=None, help="output parquet (default outputs/labels/STRATEGY-LABELING.parquet)")
    parser.add_argument("overrides", nargs=argparse.REMAINDER, help="e.g. strategy=xmom labeling=triple_barrier")


def run(args: argparse.Namespace) -> int:
    """Write the table; print where and how many events."""
    import pandas as pd
    from omegaconf import OmegaConf

    from qt.commands.check import compose, split_options
    from qt.config.instantiate import build
    from qt.context import DecisionContext
    from qt.engine.components import build_components
    from qt.errors import ConfigError
    from qt.features.labeling.triple_barrier import Barrier, meta_labels

    overrides = [f"+{o}" if o.startswith("labeling=") else o for o in split_options(args, ("out",))]
    if not any(o.startswith("+labeling=") for o in overrides):
        overrides.append("+labeling=triple_barrier")
    cfg = compose(overrides)
    labeling = build(OmegaConf.select(cfg, "labeling"), "labeling")
    if not hasattr(labeling, "outcome"):
        raise ConfigError("labeling._target_", f"{type(labeling).__name__} is not a labeling method (needs outcome())")
    parts = build_components(cfg)
    panel = parts.load_panel()
    scores = parts.strategy.scores(panel)
    decide = np.flatnonzero(parts.strategy.rebalance.schedule(panel.timestamps))
    side = np.full(panel.close.shape, np.nan)
    zeros = np.zeros(panel.n_assets)
    for t in decide:
        ctx = DecisionContext(int(t), panel.timestamps[t], 1.0, zeros, panel)
        target = parts.strategy.target(ctx, scores[t])
        side[t] = np.sign(target.weights) if target is not None else 0.0
    plain = labeling.outcome(panel.close)
    sided = labeling.outcome(panel.close, side=np.where(np.isfinite(side) & (side != 0), side, np.nan))
    meta = meta_labels(sided, side)
    rows, cols = np.nonzero(np.isfinite(side) & np.isfinite(plain.label))
    touch = np.clip(rows + plain.bars[rows, cols], 0, panel.n_bars - 1)
    table = pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(panel.timestamps[rows]),
            "symbol": np.asarray(panel.symbols, dtype=object)[cols],
            "label": plain.label[rows, cols],
            "ret": plain.ret[rows, cols],
            "barrier": [Barrier(int(b)).name.lower() for b in plain.barrier[rows, cols]],
            "touch_timestamp": pd.DatetimeIndex(panel.timestamps[touch]),
            "bars_to_touch": plain.bars[rows, cols],
            "side": side[rows, cols],
            "meta_label": meta[rows, cols],
        }
    )
    strategy = OmegaConf.select(cfg, "hydra.runtime.choices.strategy") or "strategy"
    method = OmegaConf.select(cfg, "hydra.runtime.choices.labeling") or "labels"
    from qt.config.paths import expand_path

    out = expand_path(args.out, "--out") if args.out else Path(f"outputs/labels/{strategy}-{method}.parquet")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    table.to_parquet(tmp, index=False)
    tmp.replace(out)
    bets = int(np.isfinite(table["meta_label"]).sum())
    print(f"wrote {len(table)} labelled events ({bets} with a primary bet) to {out}")
    return 0
