"""Run-level settings (top-level keys of the composed config), validated before any data loads."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError, model_validator

from qt.config.problems import settings_error
from qt.errors import ConfigError


class RunSettings(BaseModel):
    """``capital``, the ``start``/``end`` window (inclusive dates), ``seed`` and extra ``allowed_targets``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    capital: PositiveFloat = 1_000_000.0
    start: date | None = None
    end: date | None = None
    seed: int = 0
    allowed_targets: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered_window(self) -> RunSettings:
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start ({self.start}) must not be after end ({self.end})")
        return self

    @classmethod
    def parse(cls, values: dict[str, object]) -> RunSettings:
        """Validate the top-level keys; errors name the key (``capital: ...``)."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            error = settings_error(exc, "")
            raise (ConfigError("start, end", str(error)) if not error.key else error) from None
