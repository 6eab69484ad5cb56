"""``hydra/sweeper=grid`` (qt's default): Hydra's basic grid sweeper, composing each run's config once.

Hydra's basic sweeper composes every job's config in the driver to validate it, and the
launcher composes it again (in a worker, for joblib). A compose of qt's config costs
~0.4 s, serial in the driver, so a 64-run sweep spent ~25 s validating before its first
run and parallel launchers could not be much faster than serial ones. This sweeper
skips that pass: an override that cannot compose fails in the launcher instead, with
Hydra's same message.
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper


class GridSweeper(BasicSweeper):
    """Every combination of the sweep overrides, launched in batches of ``max_batch_size`` (null: all)."""

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """No second compose: the launcher composes each job (and reports an override that cannot)."""
