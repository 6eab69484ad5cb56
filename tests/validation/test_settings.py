"""conf/validation/*.yaml compose and parse; bad settings are named by their key."""

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from qt.config.paths import conf_dir
from qt.errors import ConfigError
from qt.validation.settings import WalkForwardSettings, label
from qt.validation.windows import Duration, Scheme


@pytest.mark.parametrize("option", sorted(p.stem for p in (conf_dir() / "validation").glob("*.yaml")))
def test_every_validation_option_composes_and_parses(option):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(
            "config", overrides=[f"validation={option}", "validation.grid={strategy.params.lookback:[63,126]}"]
        )
    settings = WalkForwardSettings.parse(OmegaConf.to_container(cfg.validation, resolve=True))
    assert settings.points() == [{"strategy.params.lookback": 63}, {"strategy.params.lookback": 126}]
    assert settings.durations() == (Duration(5, "y"), Duration(1, "y"), Duration(0, "d"))
    assert settings.scheme is Scheme.ROLLING and settings.objective == "sharpe"


def test_the_grid_is_the_product_of_its_values():
    s = WalkForwardSettings(
        train="1y", test="3m", grid={"strategy.params.lookback": [21, 63], "portfolio.x": [1, 2, 3]}
    )
    points = s.points()
    assert len(points) == 6 and points[-1] == {"strategy.params.lookback": 63, "portfolio.x": 3}
    assert label(points[0]) == "lookback=21,x=1"
    assert WalkForwardSettings(train="1y", test="3m").points() == [{}]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"train": "5 years", "test": "1y"}, r"validation\.train: must be a duration like 5y, 6m, 2w or 252d"),
        ({"train": "5y", "test": "1y", "embargo": "x"}, r"validation\.embargo: must be a duration"),
        ({"train": "5y", "test": "1y", "pbo_partitions": 5}, r"validation\.pbo_partitions: must be even, got 5"),
        (
            {"train": "5y", "test": "1y", "scheme": "sliding"},
            r"validation\.scheme: Input should be 'rolling' or 'expanding'",
        ),
        ({"train": "5y", "test": "1y", "purge": -1}, r"validation\.purge: Input should be greater than or equal to 0"),
        (
            {"train": "5y", "test": "1y", "grid": {"costs.bps": [1, 2]}},
            r"validation\.grid: costs\.bps: a walk-forward grid",
        ),
        ({"train": "5y", "test": "1y", "trian": "2y"}, r"validation\.trian: unknown key; did you mean 'train'\?"),
        ({"test": "1y"}, r"validation\.train: Field required"),
        ({"train": "0d", "test": "1y"}, r"validation\.train: must be at least one bar or period"),
        ({"train": "5y", "test": "0d"}, r"validation\.test: must be at least one bar or period"),
        ({"train": "5y", "test": "0m"}, r"validation\.test: must be at least one bar or period"),
        ({"train": "10000y", "test": "1y"}, r"validation\.train: must be at most 200y"),
        ({"train": "5y", "test": "1y", "embargo": "99999w"}, r"validation\.embargo: must be at most 10400w"),
        (
            {"train": "5y", "test": "1y", "pbo_partitions": 0},
            r"validation\.pbo_partitions: .*greater than or equal to 2",
        ),
        (
            {"train": "5y", "test": "1y", "pbo_partitions": 40},
            r"validation\.pbo_partitions: .*less than or equal to 20",
        ),
        ({"train": "5y", "test": "1y", "n_trials": 0}, r"validation\.n_trials: .*greater than or equal to 1"),
        ({"train": "5y", "test": "1y", "purge": 10**9}, r"validation\.purge: .*less than or equal to 1000000"),
        ({"train": 5, "test": "1y"}, r"validation\.train: must be a duration like 5y"),
    ],
)
def test_bad_settings_name_their_key(values, message):
    with pytest.raises(ConfigError, match=message):
        WalkForwardSettings.parse(values)
