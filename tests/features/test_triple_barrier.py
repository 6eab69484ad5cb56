"""Triple-barrier labels on a hand-made price path where each barrier's touch is known."""

from __future__ import annotations

import numpy as np

from qt.features.labeling.triple_barrier import Barrier, TripleBarrier, meta_labels, triple_barrier

#                 t0     t1     t2     t3     t4     t5     t6     t7
PATH = np.array([100.0, 101.0, 102.5, 101.0, 99.0, 97.5, 98.0, 98.5])[:, None]
VOL = np.full(PATH.shape, 0.01)  # barriers at +-2% with pt = sl = 2


def outcome(**kw):
    args = {"profit_take": 2.0, "stop_loss": 2.0, "horizon": 3}
    return triple_barrier(PATH, VOL, **{**args, **kw})


def test_each_barrier_touch_by_hand():
    out = outcome()
    # t0: 101 (+1%), 102.5 (+2.5% >= 2%) -> upper at k=2
    assert (out.label[0, 0], out.bars[0, 0], Barrier(out.barrier[0, 0])) == (1.0, 2, Barrier.UPPER)
    assert out.ret[0, 0] == np.float64(102.5 / 100 - 1)
    # t2: 101 (-1.46%), 99 (-3.4% <= -2%) -> lower at k=2
    assert (out.label[2, 0], out.bars[2, 0], Barrier(out.barrier[2, 0])) == (-1.0, 2, Barrier.LOWER)
    # t5: 98 (+0.5%), 98.5 (+1.0%), then no bar -> not enough future: NaN
    assert np.isnan(out.label[5, 0]) and Barrier(out.barrier[5, 0]) is Barrier.NONE
    # t4: 97.5 (-1.5%), 98 (-1.0%), 98.5 (-0.5%) -> vertical after 3 bars, label = sign(-0.5%)
    assert (out.label[4, 0], out.bars[4, 0], Barrier(out.barrier[4, 0])) == (-1.0, 3, Barrier.VERTICAL)
    assert out.ret[4, 0] == np.float64(98.5 / 99 - 1)


def test_disabled_stop_loss_and_short_side():
    out = outcome(stop_loss=None)
    # t2 without a stop: the vertical after 3 bars (97.5 / 102.5 - 1 < 0)
    assert Barrier(out.barrier[2, 0]) is Barrier.VERTICAL and out.label[2, 0] == -1.0
    short = outcome(side=np.full(PATH.shape, -1.0))
    # short from t2: profit when the price falls 2% -> the upper barrier of the side's return
    assert Barrier(short.barrier[2, 0]) is Barrier.UPPER and short.label[2, 0] == 1.0


def test_meta_labels_follow_the_primary_side():
    side = np.array([1.0, 0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0])[:, None]
    sided = outcome(side=side)
    meta = meta_labels(sided, side)
    assert meta[0, 0] == 1.0  # long at t0 hit the profit-take
    assert meta[2, 0] == 1.0  # short at t2 profited from the drop
    assert meta[4, 0] == 0.0  # long at t4 lost at the vertical barrier
    assert np.isnan(meta[1, 0]) and np.isnan(meta[3, 0])


def test_volatility_scaled_barriers_from_settings():
    close = 100 * np.cumprod(1 + np.random.default_rng(0).normal(0, 0.01, size=(200, 2)), axis=0)
    out = TripleBarrier(horizon=5, vol_window=20).outcome(close)
    assert np.isnan(out.label[:20]).all()  # no volatility yet
    assert set(np.unique(out.label[20:-5])) <= {-1.0, 0.0, 1.0}
    assert np.isnan(out.label[-1]).all()  # no future at all
    early = np.isfinite(out.label[-5:])  # touched before the data ran out: upper or lower only
    assert set(np.unique(out.barrier[-5:][early])) <= {int(Barrier.UPPER), int(Barrier.LOWER)}


def test_qt_label_writes_labels_and_meta_labels(tmp_path, qt_cli):
    import pandas as pd

    out = tmp_path / "labels.parquet"
    result = qt_cli("label", "strategy=xmom", "labeling=triple_barrier", "labeling.horizon=5", "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = pd.read_parquet(out)
    expected = [
        "timestamp",
        "symbol",
        "label",
        "ret",
        "barrier",
        "touch_timestamp",
        "bars_to_touch",
        "side",
        "meta_label",
    ]
    assert list(table.columns) == expected
    assert set(table["label"].unique()) <= {-1.0, 0.0, 1.0}
    assert set(table["barrier"].unique()) <= {"upper", "lower", "vertical"}
    assert (table["bars_to_touch"].between(1, 5)).all()
    assert (table["touch_timestamp"] > table["timestamp"]).all()
    bets = table[table["side"] != 0]
    assert len(bets) > 0 and bets["meta_label"].isin([0.0, 1.0]).all()
    assert table.loc[table["side"] == 0, "meta_label"].isna().all()
    # xmom is long-only: on a long bet the meta-label is 1 exactly when the barrier return was positive
    assert ((bets["ret"] > 0) == (bets["meta_label"] == 1.0)).all()
