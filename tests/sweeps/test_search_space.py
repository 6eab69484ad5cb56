"""Hydra's sweep syntax as Optuna distributions, and the shipped launcher/sweeper configs."""

from __future__ import annotations

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from qt.errors import ConfigError
from qt.sweeps.search_space import grid, override_value, parse_search_space
from qt.sweeps.study import default_study_name, storage_url


def test_each_sweep_form() -> None:
    space, fixed = parse_search_space(
        [
            "a=interval(0.05,0.5)",
            "b=int(interval(21,252))",
            "c=tag(log, interval(0.0001,0.1))",
            "d=int(tag(log, interval(1,1000)))",
            "e=range(21,253,21)",
            "f=equal,meanvar",
            "g=choice(1,2,3)",
            "h=range(0.1,0.4,0.1)",
            "data=synthetic",
        ]
    )
    assert fixed == ["data=synthetic"]
    assert space["a"] == FloatDistribution(0.05, 0.5)
    assert space["b"] == IntDistribution(21, 252)
    assert space["c"] == FloatDistribution(0.0001, 0.1, log=True)
    assert space["d"] == IntDistribution(1, 1000, log=True)
    assert space["e"] == IntDistribution(21, 252, step=21)  # 21, 42, ..., 252: stop 253 excluded
    assert space["f"] == CategoricalDistribution(["equal", "meanvar"])
    assert space["g"] == CategoricalDistribution([1, 2, 3])
    h = space["h"]
    assert isinstance(h, FloatDistribution) and h.step == pytest.approx(0.1)
    assert (h.low, h.high) == pytest.approx((0.1, 0.3))  # 0.1, 0.2, 0.3


def test_grid_lists_every_point() -> None:
    space, _ = parse_search_space(["x=range(10,40,10)", "p=equal,meanvar"])
    assert grid(space) == {"x": [10, 20, 30], "p": ["equal", "meanvar"]}
    with pytest.raises(ConfigError, match="sampler=grid needs a choice or a range"):
        grid(parse_search_space(["x=interval(0,1)"])[0])


def test_bad_ranges_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"strategy.params.lookback: interval\(5,5\) is empty"):
        parse_search_space(["strategy.params.lookback=interval(5,5)"])
    with pytest.raises(ConfigError, match="needs a positive lower bound"):
        parse_search_space(["x=tag(log, interval(0,1))"])


def test_override_values_read_back_as_hydra_would() -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for value in (63, 0.25, True, None, "meanvar", "a b", "x,y"):
        parsed = parser.parse_override(f"k={override_value(value)}")
        assert not parsed.is_sweep_override()
        assert parsed.value() == value


def test_study_name_and_storage() -> None:
    a = default_study_name("xmom", "sharpe", ["b=2", "a=1"])
    assert a == default_study_name("xmom", "sharpe", ["a=1", "b=2"]) and a.startswith("xmom-sharpe-")
    assert a != default_study_name("xmom", "sharpe", ["a=1", "b=3"])
    assert storage_url("postgresql://u@h/db", None) == "postgresql+psycopg://u@h/db"  # type: ignore[arg-type]
    assert storage_url("sqlite:///x.db", None) == "sqlite:///x.db"  # type: ignore[arg-type]


def test_submitit_slurm_config_is_shipped() -> None:
    from hydra import compose, initialize_config_dir
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher

    from qt.config.paths import conf_dir

    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["hydra/launcher=submitit_slurm"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith(".SlurmLauncher") and launcher.cpus_per_task == 1
    SlurmLauncher(**{k: v for k, v in launcher.items() if k != "_target_"})  # every option it reads is there
