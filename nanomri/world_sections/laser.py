"""World section of the 532 nm excitation laser."""

from .common import NonNegative, Positive, Strict


class LaserSpec(Strict):
    """Excitation laser with its modulator (AOM) and safety interlock."""

    max_power: Positive  # W
    switch_time: NonNegative  # s, blanking rise/fall time
    initial_power: NonNegative  # W
    interlock_open: bool = False  # state of the interlock loop at power-up (e.g. door open)
