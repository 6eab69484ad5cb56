"""qt: a declarative, config-driven framework for quantitative trading.

Importing ``qt`` is cheap on purpose: subpackages load their heavy
dependencies (pandas, pyarrow, hydra) only when used, so ``qt --help`` is instant.
"""

__version__ = "0.1.0"
