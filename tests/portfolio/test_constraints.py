"""Constraints: group-limit expressions, the feasibility pre-check, and errors that name the conflict."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from qt.config.instantiate import build
from qt.errors import ConfigError
from qt.portfolio.constraints import Constraints, parse_group_limit


def test_group_limit_expressions_parse():
    lim = parse_group_limit("energy + 0.5*materials - utilities >= -0.1")
    assert lim.coefs == {"energy": 1.0, "materials": 0.5, "utilities": -1.0}
    assert (lim.relation, lim.bound) == (">=", -0.1)
    row = parse_group_limit("tech <= 0.3").row(("A", "B", "C"), {"tech": ["A", "C"]})
    assert row.tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("text", ["tech < 0.3", "<= 0.3", "tech <= x", "tech * 2 <= 0.3"])
def test_unreadable_group_limits_say_how_to_write_them(text):
    with pytest.raises(ValueError, match=r"LABEL|cannot read|no group"):
        parse_group_limit(text)


def test_unknown_group_label_is_named():
    with pytest.raises(ValueError, match="unknown group 'energy'"):
        Constraints(groups={"tech": ["A"]}, group_limits=["energy <= 0.2"])


def test_group_minimums_above_one_are_named():
    groups = {"tech": ["A", "B"], "energy": ["C"], "banks": ["D"]}
    with pytest.raises(ValueError, match=r"'tech >= 0.6' \+ 'energy >= 0.5' sum to 1.1 > net 1.0"):
        Constraints(groups=groups, group_limits=["tech >= 0.6", "energy >= 0.5", "banks <= 0.2"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_weight": 0.2, "max_weight": 0.1}, "min_weight 0.2 > max_weight 0.1"),
        ({"net": 1.5, "max_gross": 1.0}, "net 1.5 exceeds max_gross 1.0"),
        ({"max_names": 3, "max_weight": 0.2}, "max_names 3 x max_weight 0.2 < net 1.0"),
        ({"net": -0.5}, "long_only with net -0.5 < 0"),
        ({"bounds": {"A": (0.3, 0.1)}}, r"bounds.A \(0.3, 0.1\) has lower > upper"),
        (
            {"groups": {"tech": ["A", "B"]}, "group_limits": ["tech >= 0.5"], "max_weight": 0.2},
            r"'tech >= 0.5' above max_weight 0.2 x 2 names",
        ),
    ],
)
def test_conflicts_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Constraints(**kwargs)


def test_universe_size_conflicts_are_found_at_decision_time():
    c = Constraints(max_weight=0.1)
    assert c.conflicts(20) == []
    assert c.conflicts(5) == ["max_weight 0.1 x 5 assets in the universe < net 1.0"]


def test_infeasible_yaml_fails_with_the_dotted_key():
    node = OmegaConf.create(
        {
            "_target_": "qt.portfolio.optimizers.MinVariance",
            "constraints": {"_target_": "qt.portfolio.constraints.Constraints", "max_weight": 0.1, "max_names": 5},
        }
    )
    with pytest.raises(ConfigError, match=r"portfolio.constraints: .*max_names 5 x max_weight 0.1 < net 1.0"):
        build(node, "portfolio")


def test_turnover_limit_below_what_reaching_net_needs_is_named():
    import numpy as np

    c = Constraints(max_turnover=0.2)
    universe = np.array([True, True, False])
    assert c.turnover_conflict(np.array([0.5, 0.3, 0.2]), universe) == (
        "max_turnover 0.2 < 0.4 needed to reach net 1 from the current book"  # sell C (0.2) + buy 0.2 inside
    )
    assert c.turnover_conflict(np.array([0.5, 0.4, 0.1]), universe) is None
    assert c.turnover_conflict(np.zeros(3), universe).startswith("max_turnover 0.2 < 1 needed")
