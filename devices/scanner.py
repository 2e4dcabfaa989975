"""Tango device of an xyz scanner: the confocal stage, or an STM/AFM scan head with a tip.

Every scanner has positions, velocities, MOVING state, Stop and drift correction. A scan head
with a tip (its driver's constraints list feedback modes) adds the z feedback, Approach,
Retract, leapfrog moves and topography; on a stage those refuse with NANOMRI_UNSUPPORTED.
"""

import enum
import math
import time

from tango import AttrQuality, AttrWriteType, DevState
from tango.server import attribute, command

from nanomri.interfaces.scanner import AXES, FEEDBACK_MODES, FEEDBACK_UNITS

from .base import InstrumentDevice
from .validation import fail, refusals, require_finite


class FeedbackMode(enum.IntEnum):
    """Signal the z feedback holds: tunnel current (STM), frequency shift or amplitude (AFM)."""

    CURRENT = 0
    FREQUENCY_SHIFT = 1
    AMPLITUDE = 2


assert [m.name.lower() for m in FeedbackMode] == list(FEEDBACK_MODES)


def _position(axis: str) -> attribute:
    def read(self: "Scanner") -> float:
        return self.driver.position(axis)

    def write(self: "Scanner", value: float) -> None:
        self.move(axis, value)

    return attribute(
        name=axis,
        dtype=float,
        access=AttrWriteType.READ_WRITE,
        unit="m",
        format="%.6e",
        doc=f"{axis} position of the scanner; writing starts a move",
        fget=read,
        fset=write,
        polling_period=100,
        abs_change="1e-10",
    )


def _velocity(axis: str) -> attribute:
    def read(self: "Scanner") -> float:
        return self.driver.velocity(axis)

    def write(self: "Scanner", value: float) -> None:
        require_finite(f"velocity_{axis}", value)
        with refusals():
            self.driver.set_velocity(axis, value)

    return attribute(
        name=f"velocity_{axis}",
        dtype=float,
        access=AttrWriteType.READ_WRITE,
        unit="m/s",
        format="%.3e",
        doc=f"cruise velocity of the {axis} axis",
        fget=read,
        fset=write,
        memorized=True,
        hw_memorized=True,
    )


def _drift_estimate(axis: str) -> attribute:
    def read(self: "Scanner") -> float:
        return self.driver.drift_estimate(axis)

    def write(self: "Scanner", value: float) -> None:
        require_finite(f"drift_estimate_{axis}", value)
        with refusals():
            self.driver.set_drift_estimate(axis, value)

    return attribute(
        name=f"drift_estimate_{axis}",
        dtype=float,
        access=AttrWriteType.READ_WRITE,
        unit="m/s",
        format="%.3e",
        doc=f"estimated drift velocity of the sample along {axis} (for drift_corrected_{axis})",
        fget=read,
        fset=write,
        memorized=True,
        hw_memorized=True,
    )


def _drift_corrected(axis: str) -> attribute:
    def read(self: "Scanner") -> float:
        return self.driver.corrected_position(axis)

    return attribute(
        name=f"drift_corrected_{axis}",
        dtype=float,
        unit="m",
        format="%.6e",
        doc=f"{axis} position in the sample's frame: position minus the estimated drift",
        fget=read,
    )


def _setpoint(mode: str) -> attribute:
    unit = FEEDBACK_UNITS[mode]

    def read(self: "Scanner") -> float:
        return self.driver.setpoint(mode) if mode in self.feedback_modes else 0.0

    def write(self: "Scanner", value: float) -> None:
        require_finite(f"setpoint_{mode}", value)
        self.require_tip(f"setpoint_{mode}")
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


class Scanner(InstrumentDevice):
    """Closed-loop xyz scanner; every position in metres, moves take their real time."""

    INSTRUMENT = "scanner"

    x = _position("x")
    y = _position("y")
    z = _position("z")
    velocity_x = _velocity("x")
    velocity_y = _velocity("y")
    velocity_z = _velocity("z")
    drift_estimate_x = _drift_estimate("x")
    drift_estimate_y = _drift_estimate("y")
    drift_estimate_z = _drift_estimate("z")
    drift_corrected_x = _drift_corrected("x")
    drift_corrected_y = _drift_corrected("y")
    drift_corrected_z = _drift_corrected("z")
    setpoint_current = _setpoint("current")
    setpoint_frequency_shift = _setpoint("frequency_shift")
    setpoint_amplitude = _setpoint("amplitude")

    def init_instrument(self) -> None:
        c = self.driver.constraints
        for axis in AXES:
            self.set_write_limits(axis, c.position_min[axis], c.position_max[axis])
            self.set_write_limits(f"velocity_{axis}", 0.0, c.max_velocity[axis])
            limit = c.max_velocity[axis]
            self.set_write_limits(f"drift_estimate_{axis}", -limit, limit)
        for mode in c.feedback_modes:
            self.set_write_limits(f"setpoint_{mode}", *c.setpoint_range[mode])
        if c.has_tip:
            self.set_write_limits("leapfrog_height", 0.0, c.max_leapfrog_height)

    @property
    def feedback_modes(self) -> tuple[str, ...]:
        return self.driver.constraints.feedback_modes

    def require_tip(self, what: str) -> None:
        """Refuse (NANOMRI_UNSUPPORTED) a tip command or setting on a scanner without a tip."""
        if not self.driver.constraints.has_tip:
            fail("UNSUPPORTED", f"{what}: this scanner has no tip (a confocal stage); tip "
                                f"commands need an STM/AFM scan head")

    def move(self, axis: str, position: float) -> None:
        """Start a move after checks that Tango's own limit check does not make (NaN)."""
        require_finite(axis, position)
        with refusals():
            self.driver.move_to(axis, position)

    @attribute(dtype=bool, access=AttrWriteType.READ_WRITE,
               doc="True while the z feedback holds the tip at its setpoint; writing True "
                   "engages it where the tip is, False holds z where it is")
    def feedback(self) -> bool:
        return bool(self.feedback_modes) and self.driver.feedback()

    @feedback.write
    def feedback(self, on: bool) -> None:
        self.require_tip("feedback")
        with refusals():
            self.driver.set_feedback(bool(on))

    @attribute(dtype=FeedbackMode, access=AttrWriteType.READ_WRITE, memorized=True,
               hw_memorized=True,
               doc="signal the z feedback holds: CURRENT (STM, setpoint_current), "
                   "FREQUENCY_SHIFT or AMPLITUDE (tuning-fork AFM)")
    def feedback_mode(self) -> FeedbackMode:
        if not self.feedback_modes:
            return FeedbackMode.CURRENT
        return FeedbackMode(FEEDBACK_MODES.index(self.driver.feedback_mode()))

    @feedback_mode.write
    def feedback_mode(self, value: int) -> None:
        self.require_tip("feedback_mode")
        if value not in FeedbackMode.__members__.values():
            fail("UNKNOWN_MODE", f"feedback_mode {value} is not one of "
                                 f"{', '.join(f'{m.value} ({m.name})' for m in FeedbackMode)}")
        with refusals():
            self.driver.set_feedback_mode(FEEDBACK_MODES[int(value)])

    @attribute(dtype=float, access=AttrWriteType.READ_WRITE, unit="m", format="%.3e",
               memorized=True, hw_memorized=True,
               doc="lift before each lateral move, then back down (0: the tip is dragged)")
    def leapfrog_height(self) -> float:
        return self.driver.leapfrog_height() if self.feedback_modes else 0.0

    @leapfrog_height.write
    def leapfrog_height(self, value: float) -> None:
        require_finite("leapfrog_height", value)
        self.require_tip("leapfrog_height")
        with refusals():
            self.driver.set_leapfrog_height(value)

    @attribute(dtype=float, unit="m", format="%.6e", polling_period=100, abs_change="1e-11",
               doc="surface height under the tip measured by the feedback (invalid while off)")
    def topography(self):
        value = self.driver.topography() if self.feedback_modes else math.nan
        if math.isnan(value):
            return math.nan, time.time(), AttrQuality.ATTR_INVALID
        return value

    def dev_state(self) -> DevState:
        if self._driver is None:
            return DevState.FAULT
        d = self._driver
        if any(d.is_moving(a) for a in AXES) or (self.feedback_modes and d.is_approaching()):
            return DevState.MOVING
        if self.feedback_modes and d.feedback_saturated():
            return DevState.ALARM
        return DevState.ON

    def dev_status(self) -> str:
        if self._driver is None:
            return self.get_status()
        moving = [a for a in AXES if self._driver.is_moving(a)]
        status = f"moving {', '.join(moving)}" if moving else "at rest"
        return f"{status}; {self._driver.tip_status()}" if self.feedback_modes else status

    @command(doc_in="Decelerate every axis to rest (a z feedback that is on stays on)")
    def Stop(self) -> None:
        self.driver.stop()

    @command(doc_in="Move the tip down at the approach velocity until the feedback signal "
                    "reaches its setpoint, then feedback on (MOVING meanwhile)")
    def Approach(self) -> None:
        self.require_tip("Approach")
        with refusals():
            self.driver.approach()

    @command(doc_in="Feedback off, lateral axes stopped, tip to the top of z travel")
    def Retract(self) -> None:
        self.require_tip("Retract")
        self.driver.retract()

    def safe_state(self) -> None:
        self.driver.stop()
        if self.feedback_modes:
            self.driver.retract()
