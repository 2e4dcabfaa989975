"""World section of a microwave or RF signal generator (R&S SMB100A / SGS100A class)."""

from pydantic import Field

from .common import NonNegative, Positive, Strict


class SignalGeneratorSpec(Strict):
    """Frequency and level ranges, list capacity and settling times (data-sheet values)."""

    frequency_min: Positive  # Hz
    frequency_max: Positive  # Hz
    power_min: Positive  # W at the output (SI; 1 mW = 0 dBm)
    power_max: Positive  # W
    frequency_settle_time: NonNegative  # s, after a frequency change
    level_settle_time: NonNegative  # s, after a level change
    list_max_points: int = Field(ge=2)
    list_min_dwell: Positive  # s per list point
    initial_frequency: Positive  # Hz
    initial_power: Positive  # W
