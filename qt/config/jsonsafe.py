"""One conversion of result values into what JSON can hold: numpy scalars to Python, NaN and infinities to null.

Every file qt writes as JSON (metrics.json, performance.json, manifest.json, stress.json,
error and state records) goes through ``json_safe``, so NaN is never written as the
non-standard ``NaN`` literal and a numpy scalar never breaks ``json.dumps``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def json_safe(value: Any) -> Any:
    """``value`` with mappings keyed by strings, tuples as lists, numpy values as Python ones, NaN/inf as None.

    Examples
    --------
    >>> json_safe({"sharpe": np.float64("nan"), "n": np.int64(3), "w": np.array([0.5, np.inf])})
    {'sharpe': None, 'n': 3, 'w': [0.5, None]}
    """
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, np.datetime64):
        return str(value)
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def dumps(data: Any) -> str:
    """Pretty, key-sorted JSON of ``json_safe(data)`` with a final newline (strict: no NaN literal)."""
    return json.dumps(json_safe(data), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json(data: Any, path: Path) -> None:
    """``dumps(data)`` into ``path``."""
    path.write_text(dumps(data))
