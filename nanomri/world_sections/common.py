"""Building blocks of every world-file section: strict models, finite and signed numbers, axes."""

import math
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

AXES = ("x", "y", "z")


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value}")
    return value


Finite = Annotated[float, AfterValidator(_finite)]
Positive = Annotated[Finite, Field(gt=0)]
NonNegative = Annotated[Finite, Field(ge=0)]


class Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PerAxis(Strict):
    """One value per scanner axis."""

    x: Finite
    y: Finite
    z: Finite

    def as_dict(self) -> dict[str, float]:
        return {axis: getattr(self, axis) for axis in AXES}


class PositivePerAxis(PerAxis):
    x: Positive
    y: Positive
    z: Positive
