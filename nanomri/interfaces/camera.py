"""Driver interface of the EMCCD camera of widefield imaging, and the checks of its settings."""

import enum
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .errors import Refused


class TriggerMode(enum.IntEnum):
    """What starts a frame: the camera's own timer, or a rising edge on its trigger input."""

    INTERNAL = 0
    EXTERNAL = 1


@dataclass(frozen=True)
class CameraConstraints:
    """Sensor size (pixels), offered readout rates (Hz), exposure (s), gain, set points (K),
    frames per series."""

    width: int
    height: int
    pixel_size: float
    readout_rates: tuple[float, ...]
    min_exposure: float
    max_exposure: float
    max_em_gain: int
    min_temperature: float
    max_temperature: float
    em_gain_max_temperature: float
    max_frames: int = 2**31 - 1  # longest series Acquire takes (the Andor SDK counts in C int)


def check_exposure(c: CameraConstraints, exposure: float) -> None:
    """Refuse a non-finite exposure or one outside the camera's range."""
    if not (math.isfinite(exposure) and c.min_exposure <= exposure <= c.max_exposure):
        raise Refused("OUT_OF_RANGE", f"exposure {exposure:g} s is outside "
                                      f"[{c.min_exposure:g}, {c.max_exposure:g}] s")


def check_em_gain(c: CameraConstraints, gain: int) -> None:
    """Refuse an EM gain outside 1..max_em_gain."""
    if not 1 <= gain <= c.max_em_gain:
        raise Refused("OUT_OF_RANGE", f"EM gain {gain} is outside [1, {c.max_em_gain}]")


def check_readout_rate(c: CameraConstraints, rate: float) -> float:
    """The offered readout rate equal to `rate` (to 1 ppm); refuse any other."""
    for offered in c.readout_rates:
        if math.isfinite(rate) and abs(rate - offered) <= 1e-6 * offered:
            return offered
    rates = ", ".join(f"{r:g}" for r in c.readout_rates)
    raise Refused("NOT_OFFERED", f"readout rate {rate:g} Hz is not offered; rates: {rates} Hz")


def check_roi(c: CameraConstraints, roi: tuple[int, int, int, int], binning: int) -> None:
    """Refuse a ROI (x, y, width, height) off the sensor or not a multiple of `binning`."""
    x, y, w, h = roi
    if x < 0 or y < 0 or w < 1 or h < 1 or x + w > c.width or y + h > c.height:
        raise Refused("ROI", f"ROI x={x} y={y} width={w} height={h} does not fit on the "
                             f"{c.width} x {c.height} pixel sensor")
    if not 1 <= binning <= min(c.width, c.height):
        raise Refused("OUT_OF_RANGE", f"binning {binning} is outside "
                                      f"[1, {min(c.width, c.height)}]")
    if w % binning or h % binning:
        raise Refused("BINNING", f"binning {binning} does not divide the ROI of "
                                 f"{w} x {h} pixels")


def check_frames(c: CameraConstraints, frames: int) -> None:
    """Refuse a series of less than one frame or more than max_frames."""
    if not 1 <= frames <= c.max_frames:
        raise Refused("OUT_OF_RANGE", f"frames {frames} is outside [1, {c.max_frames}]")


def check_setpoint(c: CameraConstraints, kelvin: float) -> None:
    """Refuse a temperature set point the cooler cannot hold."""
    if not (math.isfinite(kelvin) and c.min_temperature <= kelvin <= c.max_temperature):
        raise Refused("OUT_OF_RANGE", f"set point {kelvin:g} K is outside "
                                      f"[{c.min_temperature:g}, {c.max_temperature:g}] K")


def readout_time(rows: int, pixels: int, vertical_shift_time: float, rate: float) -> float:
    """Time to read one frame (s): every ROI row shifted once, every (binned) pixel digitised."""
    return rows * vertical_shift_time + pixels / rate


class CameraDriver(Protocol):
    """An EMCCD that exposes, reads out and buffers frames in real time.

    Settings may change only while idle (Refused BUSY otherwise). The driver is thread-safe:
    the device reads frames from its event thread while Tango serves clients.
    """

    constraints: CameraConstraints

    def set_exposure(self, exposure: float) -> None:
        """Exposure of a frame in internal trigger mode (s)."""

    def exposure(self) -> float: ...

    def set_em_gain(self, gain: int) -> None:
        """Electron-multiplying gain, 1 (no multiplication) to max_em_gain."""

    def em_gain(self) -> int: ...

    def set_readout_rate(self, rate: float) -> None:
        """Horizontal pixel readout rate (Hz), one of constraints.readout_rates."""

    def readout_rate(self) -> float: ...

    def set_roi(self, roi: tuple[int, int, int, int], binning: int) -> None:
        """Region read out (x, y, width, height in sensor pixels) and its square binning."""

    def roi(self) -> tuple[int, int, int, int]: ...

    def binning(self) -> int: ...

    def set_trigger_mode(self, mode: TriggerMode) -> None: ...

    def trigger_mode(self) -> TriggerMode: ...

    def readout_time(self) -> float:
        """Time to read one frame with the present ROI, binning and rate (s)."""

    def frame_period(self) -> float:
        """Time between frames in internal trigger mode (s): max(exposure, readout)."""

    def temperature(self) -> float:
        """Sensor temperature now (K)."""

    def set_setpoint(self, kelvin: float) -> None: ...

    def setpoint(self) -> float: ...

    def set_cooler(self, on: bool) -> None: ...

    def cooler(self) -> bool: ...

    def acquire(self, frames: int) -> None:
        """Start acquiring `frames` frames; Refused BUSY, or WARM with EM gain on a warm sensor."""

    def stop(self) -> None:
        """End the acquisition now; frames already read stay in the buffer."""

    def is_acquiring(self) -> bool: ...

    def frame_count(self) -> int:
        """Frames read in the present (or last) acquisition."""

    def frames_requested(self) -> int: ...

    def frames_since(self, serial: int) -> list[tuple[int, int, np.ndarray]]:
        """(serial, index, image) of the buffered frames from `serial` on, oldest first.

        Serials count every frame since the driver opened, across acquisitions; the index
        counts frames within their acquisition. Only the last frames are kept.
        """

    def last_image(self) -> np.ndarray:
        """The last frame read (uint16 counts, rows x columns after binning)."""

    def sums(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Sums of the even ("on") and odd ("off") frames of complete pairs, and the pairs."""

    def pairs(self) -> int:
        """Complete on/off pairs in the sums."""

    def missed_triggers(self) -> int:
        """Trigger pulses ignored because the previous frame was still being read."""
