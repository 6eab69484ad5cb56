"""Short names for strategies, so YAML can say ``_target_: xmom`` instead of a module path.

``STRATEGIES`` is a ``qt.config.names.NameRegistry`` like every other short-name registry;
config loading receives it (``build(..., names=STRATEGIES)``) instead of importing it.

Examples
--------
>>> @register_strategy("my_idea")
... class MyIdea: ...
>>> STRATEGIES.lookup("my_idea", "strategy._target_") is MyIdea
True
"""

from __future__ import annotations

from qt.config.names import NameRegistry
from qt.config.plugins import load_plugins

STRATEGIES = NameRegistry(
    "strategy",
    {
        "xmom": "qt.strategies.xmom_crosssec.CrossSectionalMomentum",
        "equal_weight": "qt.strategies.equal_weight.EqualWeightStrategy",
        "pipeline": "qt.strategies.pipeline.strategy.PipelineStrategy",
        "mr_pairs": "qt.strategies.mr_pairs.PairsTrading",
        "multi": "qt.strategies.multi.MultiStrategy",
    },
    on_miss=load_plugins,  # plugin modules in the strategy folders register their names on import
)
register_strategy = STRATEGIES.register
