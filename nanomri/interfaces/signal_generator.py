"""Driver interface of a microwave / RF signal generator with frequency sweep and list modes."""

import enum
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .errors import Refused

MILLIWATT = 1e-3  # W at 0 dBm


def watt_to_dbm(power: float) -> float:
    """Level in dBm of `power` W (0 dBm = 1 mW)."""
    return 10.0 * math.log10(power / MILLIWATT)


def dbm_to_watt(level: float) -> float:
    """Power in W of a level of `level` dBm."""
    return MILLIWATT * 10.0 ** (level / 10.0)


class Mode(enum.IntEnum):
    """What sets the output frequency: the CW setting, a linear sweep or a list."""

    FIXED = 0
    SWEEP = 1
    LIST = 2


class TriggerSource(enum.IntEnum):
    """What advances a sweep or list by one point."""

    IMMEDIATE = 0  # every `dwell` seconds, on its own (continuous, wraps around)
    SOFTWARE = 1  # each `trigger()` call (the device's Trigger command)
    EXTERNAL = 2  # each rising edge at the trigger input


@dataclass(frozen=True)
class Sweep:
    """A linear frequency sweep of `points` points from `start` to `stop` (Hz)."""

    start: float
    stop: float
    points: int

    def frequencies(self) -> np.ndarray:
        return np.linspace(self.start, self.stop, self.points)


@dataclass(frozen=True)
class SignalGeneratorConstraints:
    """Ranges (Hz, W, rad, s) and data-sheet settling times (s) of one generator."""

    frequency_min: float
    frequency_max: float
    power_min: float
    power_max: float
    phase_max: float  # the phase setting lies in [-phase_max, phase_max]
    list_max_points: int  # also the most points of a sweep
    dwell_min: float  # s per sweep or list point
    dwell_max: float
    frequency_settle_time: float
    level_settle_time: float


class SignalGeneratorDriver(Protocol):
    """A CW source whose output can also step through a sweep or a list on triggers.

    Sweep, list, dwell and trigger settings are kept in every mode; they act in their mode.
    A sweep or list starts at its first point when its mode is chosen, when any of its
    settings change and on `restart()`; after the last point it wraps to the first.
    """

    constraints: SignalGeneratorConstraints

    def set_frequency(self, frequency: float) -> None:
        """Set the CW frequency (Hz), the output frequency in FIXED mode."""

    def frequency(self) -> float:
        """The CW frequency setting (Hz)."""

    def set_power(self, power: float) -> None:
        """Set the output level (W), in FIXED and SWEEP mode."""

    def power(self) -> float:
        """The level setting (W)."""

    def set_output(self, on: bool) -> None:
        """Switch the RF output on (True) or off (False)."""

    def output(self) -> bool:
        """True while the RF output is on."""

    def set_phase(self, phase: float) -> None:
        """Set the phase of the output relative to the reference (rad)."""

    def phase(self) -> float:
        """The phase setting (rad)."""

    def set_mode(self, mode: Mode) -> None:
        """Choose FIXED, SWEEP or LIST; LIST needs a list loaded first."""

    def mode(self) -> Mode:
        """The frequency mode."""

    def set_sweep(self, sweep: Sweep) -> None:
        """Set start, stop (Hz) and number of points of the sweep."""

    def sweep(self) -> Sweep:
        """The sweep setting."""

    def set_dwell(self, dwell: float) -> None:
        """Time per point (s) of a sweep or list under IMMEDIATE trigger."""

    def dwell(self) -> float:
        """The dwell setting (s)."""

    def set_list(self, frequencies: np.ndarray, powers: np.ndarray) -> None:
        """Load a list of points: frequencies (Hz) and levels (W) of equal length."""

    def list_frequencies(self) -> np.ndarray:
        """Frequencies of the loaded list (Hz); empty before the first load."""

    def list_powers(self) -> np.ndarray:
        """Levels of the loaded list (W)."""

    def set_trigger(self, source: TriggerSource) -> None:
        """Choose what advances the sweep or list."""

    def trigger(self) -> TriggerSource:
        """The trigger source."""

    def software_trigger(self) -> None:
        """Advance the sweep or list by one point (SOFTWARE trigger source)."""

    def restart(self) -> None:
        """Go back to the first point of the sweep or list."""

    def step(self) -> int:
        """Index of the current sweep or list point; -1 in FIXED mode or when unknown."""

    def settled(self) -> bool:
        """True once the output carries the last commanded frequency, level and phase."""


def check_range(name: str, value: float, low: float, high: float, unit: str) -> None:
    """Raise `Refused` OUT_OF_RANGE unless low <= value <= high (shared by every driver)."""
    if not low <= value <= high:
        raise Refused("OUT_OF_RANGE", f"{name} {value:g} {unit} is outside "
                                      f"[{low:g}, {high:g}] {unit}")
