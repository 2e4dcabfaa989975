"""Tango device of an STM/AFM scan head: the scanner's axes plus a tip over the sample surface.

Adds to `Scanner` the z feedback (constant current for STM, constant frequency shift or
amplitude for a tuning-fork AFM) with its setpoints, Approach, Retract, leapfrog moves and
topography. Its driver must have a tip (constraints with feedback modes); a setpoint of a mode
the head lacks refuses with NANOMRI_UNSUPPORTED. The simulated head refuses any move whose path
would crash the tip into the surface (NANOMRI_CRASH). The head applies drift_estimate_{x,y,z} to
its piezos (drift compensation): the tip follows the sample, x, y, z stay in the sample's frame
and drift_compensation_{x,y,z} is the offset added so far, which counts against the travel.
"""

import enum
import math
import time

from tango import AttrQuality, AttrWriteType, DevState
from tango.server import attribute, command

from nanomri.interfaces.scanner import FEEDBACK_MODES, FEEDBACK_UNITS

from .scanner import Scanner
from .validation import fail, refusals, require_finite


class FeedbackMode(enum.IntEnum):
    """Signal the z feedback holds: tunnel current (STM), frequency shift or amplitude (AFM)."""

    CURRENT = 0
    FREQUENCY_SHIFT = 1
    AMPLITUDE = 2


assert [m.name.lower() for m in FeedbackMode] == list(FEEDBACK_MODES)


def _setpoint(mode: str) -> attribute:
    unit = FEEDBACK_UNITS[mode]

    def read(self: "ScanHead") -> float:
        return self.driver.setpoint(mode) if mode in self.feedback_modes else 0.0

    def write(self: "ScanHead", value: float) -> None:
        require_finite(f"setpoint_{mode}", value)
        if mode not in self.feedback_modes:
            fail("UNSUPPORTED", f"this scan head has no {mode} feedback; it has "
                                f"{', '.join(self.feedback_modes)}")
        with refusals():
            self.driver.set_setpoint(mode, value)

    return attribute(
        name=f"setpoint_{mode}",
        dtype=float,
        access=AttrWriteType.READ_WRITE,
        unit=unit,
        format="%.4e",
        doc=f"setpoint of the {mode} feedback ({unit})" + ("; |I|, whatever the bias sign"
                                                           if mode == "current" else ""),
        fget=read,
        fset=write,
        memorized=True,
        hw_memorized=True,
    )


class ScanHead(Scanner):
    """An xyz scan head carrying an STM tip or an AFM tuning fork over the sample."""

    INSTRUMENT = "scan_head"

    setpoint_current = _setpoint("current")
    setpoint_frequency_shift = _setpoint("frequency_shift")
    setpoint_amplitude = _setpoint("amplitude")

    def init_instrument(self) -> None:
        c = self.driver.constraints
        if not c.has_tip:
            self._driver = None
            self.set_state(DevState.FAULT)
            self.set_status(f"driver {self.Driver} has no tip: a confocal stage is a Scanner")
            return
        super().init_instrument()
        for mode in c.feedback_modes:
            self.set_write_limits(f"setpoint_{mode}", *c.setpoint_range[mode])
        self.set_write_limits("leapfrog_height", 0.0, c.max_leapfrog_height)

    @property
    def feedback_modes(self) -> tuple[str, ...]:
        return self.driver.constraints.feedback_modes


    @attribute(dtype=bool, access=AttrWriteType.READ_WRITE,
               doc="True while the z feedback holds the tip at its setpoint; writing True "
                   "engages it where the tip is, False holds z where it is")
    def feedback(self) -> bool:
        return self.driver.feedback()

    @feedback.write
    def feedback(self, on: bool) -> None:
        with refusals():
            self.driver.set_feedback(bool(on))

    @attribute(dtype=FeedbackMode, access=AttrWriteType.READ_WRITE, memorized=True,
               hw_memorized=True,
               doc="signal the z feedback holds: CURRENT (STM, setpoint_current), "
                   "FREQUENCY_SHIFT or AMPLITUDE (tuning-fork AFM)")
    def feedback_mode(self) -> FeedbackMode:
        return FeedbackMode(FEEDBACK_MODES.index(self.driver.feedback_mode()))

    @feedback_mode.write
    def feedback_mode(self, value: int) -> None:
        if value not in FeedbackMode.__members__.values():
            fail("UNKNOWN_MODE", f"feedback_mode {value} is not one of "
                                 f"{', '.join(f'{m.value} ({m.name})' for m in FeedbackMode)}")
        with refusals():
            self.driver.set_feedback_mode(FEEDBACK_MODES[int(value)])

    @attribute(dtype=float, access=AttrWriteType.READ_WRITE, unit="m", format="%.3e",
               memorized=True, hw_memorized=True,
               doc="lift before each lateral move, then back down (0: the tip is dragged)")
    def leapfrog_height(self) -> float:
        return self.driver.leapfrog_height()

    @leapfrog_height.write
    def leapfrog_height(self, value: float) -> None:
        require_finite("leapfrog_height", value)
        with refusals():
            self.driver.set_leapfrog_height(value)

    @attribute(dtype=float, unit="m", format="%.6e", polling_period=100, abs_change="1e-11",
               doc="surface height under the tip measured by the feedback (invalid while off)")
    def topography(self):
        value = self.driver.topography()
        if math.isnan(value):
            return math.nan, time.time(), AttrQuality.ATTR_INVALID
        return value

    def dev_state(self) -> DevState:
        state = super().dev_state()
        if state == DevState.ON and self._driver.is_approaching():
            return DevState.MOVING
        if state == DevState.ON and self._driver.feedback_saturated():
            return DevState.ALARM
        return state

    def dev_status(self) -> str:
        status = super().dev_status()
        return status if self._driver is None else f"{status}; {self._driver.tip_status()}"

    @command(doc_in="Move the tip down at the approach velocity until the feedback signal "
                    "reaches its setpoint, then feedback on (MOVING meanwhile)")
    def Approach(self) -> None:
        with refusals():
            self.driver.approach()

    @command(doc_in="Feedback off, lateral axes stopped, tip to the top of z travel")
    def Retract(self) -> None:
        self.driver.retract()

    def safe_state(self) -> None:
        self.driver.stop()
        self.driver.retract()
