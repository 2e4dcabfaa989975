"""World section of the 532 nm excitation laser."""

from .common import NonNegative, Positive, Strict


class LaserSpec(Strict):
    """Excitation laser with its modulator."""

    max_power: Positive  # W
    switch_time: NonNegative  # s, blanking rise/fall time
    initial_power: NonNegative  # W
