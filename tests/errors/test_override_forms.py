"""Overrides a user mistypes on the new surfaces: one line naming the key and what to write, exit 2, nothing run."""

from __future__ import annotations

import pytest

from tests.errors.conftest import SMALL, assert_one_error, result_files

CASES = [
    (
        ("-m", "strategy.params.lookback=63,", "126"),
        "ERROR: strategy.params.lookback: the override 'strategy.params.lookback=63,' ends with ',' (a space in a "
        "sweep list splits it into two arguments); write strategy.params.lookback=63,126 with no spaces, or quote "
        "the whole override",
    ),
    (
        ("strategy.params.lookback=", "126"),
        "ERROR: '126' is not an override (KEY=VALUE or GROUP=OPTION); if it is the value of the argument before it, "
        "remove the space after '=' (or quote the value)",
    ),
    (
        ("broker=paper",),
        "ERROR: broker: broker=paper sends orders live, but mode=backtest: run `qt run mode=live broker=paper` "
        "(or drop broker= for a backtest)",
    ),
    (("mode=live", "broker=nope"), "ERROR: broker: no option 'nope'; choose one of: paper, ib"),
    (("validation=walk_fwd",), "ERROR: validation: no option 'walk_fwd'; choose one of: walk_forward"),
    (
        ("strategy._target_=${oc.env:HOME}",),
        None,  # names the key and says it is an interpolation
    ),
]


@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_override_mistakes_get_one_line(qt, tmp_path, args, message):
    flags = [a for a in args if a.startswith("-")]  # Hydra's flags come before the overrides
    out = qt("run", *flags, *SMALL, *(a for a in args if not a.startswith("-")))
    if message is None:
        assert out.returncode == 2, out.stderr
        last = out.stderr.strip().splitlines()[-1]
        assert last.startswith("ERROR: strategy._target_: '${oc.env:HOME}' is an interpolation"), out.stderr
    else:
        assert_one_error(out, message)
    assert result_files(tmp_path) == []
