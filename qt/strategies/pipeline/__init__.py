"""The pipeline strategy: universe -> signal graph -> combine -> select -> weight, built from a YAML spec."""

from qt.strategies.pipeline.strategy import PipelineStrategy

__all__ = ["PipelineStrategy"]
