"""World section of a microwave or RF signal generator (R&S SMB100A / SGS100A class)."""

import math

from pydantic import Field, model_validator

from ..sequence import CHANNELS
from .common import NonNegative, Positive, Strict


class SignalGeneratorSpec(Strict):
    """Frequency and level ranges, list capacity and settling times (data-sheet values)."""

    frequency_min: Positive  # Hz
    frequency_max: Positive  # Hz
    power_min: Positive  # W at the output (SI; 1 mW = 0 dBm)
    power_max: Positive  # W
    frequency_settle_time: NonNegative  # s, after a frequency change or a sweep/list step
    level_settle_time: NonNegative  # s, after a level change or switching the output
    list_max_points: int = Field(ge=2)  # also the most points of a sweep
    list_min_dwell: Positive  # s per sweep or list point
    list_max_dwell: Positive = 100.0  # s per sweep or list point
    phase_max: Positive = 4 * math.pi  # rad, phase setting range +-720 deg
    trigger_channel: str = "spare"  # sequencer channel wired to the external trigger input
    initial_frequency: Positive  # Hz
    initial_power: Positive  # W

    @model_validator(mode="after")
    def _consistent(self) -> "SignalGeneratorSpec":
        if self.frequency_min >= self.frequency_max:
            raise ValueError(f"frequency_min {self.frequency_min:g} Hz must be below "
                             f"frequency_max {self.frequency_max:g} Hz")
        if self.power_min >= self.power_max:
            raise ValueError(f"power_min {self.power_min:g} W must be below "
                             f"power_max {self.power_max:g} W")
        if self.list_min_dwell > self.list_max_dwell:
            raise ValueError(f"list_min_dwell {self.list_min_dwell:g} s exceeds "
                             f"list_max_dwell {self.list_max_dwell:g} s")
        if not self.frequency_min <= self.initial_frequency <= self.frequency_max:
            raise ValueError(f"initial_frequency {self.initial_frequency:g} Hz is outside "
                             f"[{self.frequency_min:g}, {self.frequency_max:g}] Hz")
        if not self.power_min <= self.initial_power <= self.power_max:
            raise ValueError(f"initial_power {self.initial_power:g} W is outside "
                             f"[{self.power_min:g}, {self.power_max:g}] W")
        if self.trigger_channel not in CHANNELS:
            raise ValueError(f"trigger_channel {self.trigger_channel!r} is not a sequencer "
                             f"channel; channels: {CHANNELS}")
        return self
