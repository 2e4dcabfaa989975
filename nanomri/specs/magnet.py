"""World section of a three-axis superconducting vector magnet on AMI Model 430 supplies."""

from .common import NonNegative, Positive, PositivePerAxis, Strict


class MagnetSpec(Strict):
    """Field limits, ramp-rate limits and persistent-switch timing (data-sheet values)."""

    max_field: Positive  # T, limit on |B| (the vector's sphere)
    axis_max_field: PositivePerAxis  # T, limit of each coil
    max_ramp_rate: Positive  # T/s, per coil
    initial_ramp_rate: Positive  # T/s
    coil_constant: PositivePerAxis  # T/A of each coil
    switch_heat_time: NonNegative  # s to open the persistent switch (heater on)
    switch_cool_time: NonNegative  # s to close it (heater off)
