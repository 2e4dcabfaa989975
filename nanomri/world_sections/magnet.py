"""World section of a three-axis superconducting vector magnet on AMI Model 430 supplies."""

from pydantic import model_validator

from .common import NonNegative, Positive, PositivePerAxis, Strict


class MagnetSpec(Strict):
    """Field limits, ramp-rate limits and persistent-switch timing (data-sheet values)."""

    max_field: Positive  # T, limit on |B| (the vector's sphere)
    axis_max_field: PositivePerAxis  # T, limit of each coil
    min_ramp_rate: Positive  # T/s, slowest rate every supply can ramp its coil at
    max_ramp_rate: Positive  # T/s, per coil
    initial_ramp_rate: Positive  # T/s
    coil_constant: PositivePerAxis  # T/A of each coil
    switch_heat_time: NonNegative  # s to open the persistent switch (heater on)
    switch_cool_time: NonNegative  # s to close it (heater off)
    quench_field: Positive | None = None  # T, |B| at which the simulated magnet quenches

    @model_validator(mode="after")
    def _ranges(self) -> "MagnetSpec":
        if self.min_ramp_rate > self.max_ramp_rate:
            raise ValueError("min_ramp_rate exceeds max_ramp_rate")
        if not self.min_ramp_rate <= self.initial_ramp_rate <= self.max_ramp_rate:
            raise ValueError(f"initial_ramp_rate = {self.initial_ramp_rate:g} T/s is outside "
                             f"[{self.min_ramp_rate:g}, {self.max_ramp_rate:g}] T/s")
        return self
