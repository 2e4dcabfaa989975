"""World section of a closed-loop xyz scanner (confocal stage or STM/AFM scan head)."""

from pydantic import model_validator

from .common import AXES, NonNegative, PerAxis, PositivePerAxis, Strict


class ScannerSpec(Strict):
    """Closed-loop xyz stage: travel, speed, acceleration, settling (data-sheet values)."""

    position_min: PerAxis
    position_max: PerAxis
    max_velocity: PositivePerAxis
    max_acceleration: PositivePerAxis
    settle_time: NonNegative
    initial_position: PerAxis

    @model_validator(mode="after")
    def _ranges(self) -> "ScannerSpec":
        low, high, start = (self.position_min.as_dict(), self.position_max.as_dict(),
                            self.initial_position.as_dict())
        for axis in AXES:
            if low[axis] >= high[axis]:
                raise ValueError(f"position_min.{axis} must be below position_max.{axis}")
            if not low[axis] <= start[axis] <= high[axis]:
                raise ValueError(f"initial_position.{axis} = {start[axis]:g} m is outside "
                                 f"[{low[axis]:g}, {high[axis]:g}] m")
        return self
