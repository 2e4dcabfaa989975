"""Tango device of the three-axis vector magnet: field vector, ramps, persistent mode, quench.

The field is set as components (Bx, By, Bz) or as |B|, theta, phi (theta from +z, phi from +x
towards +y); every write ramps the coils together along a straight line in B space to the new
vector, the fastest coil at `ramp_rate`. Reads give the field in the magnet now, also while it
ramps; the write values of all six attributes show the setpoint. States: MOVING while ramping
or while the persistent switch heats or cools, ON when holding (or paused short of the
setpoint), FAULT after a quench. Field components, |B| and State push change events from 100 ms
polling. Refusals: NANOMRI_FIELD_LIMIT (a coil's limit or the |B| sphere), NANOMRI_PERSISTENT
(no ramp in persistent mode), NANOMRI_QUENCH, NANOMRI_BUSY; nothing changes when refused.
"""

import math
from contextlib import suppress

from tango import AttrWriteType, DevFailed, DevState
from tango.server import attribute, command

from nanomri.interfaces.magnet import (
    AXES,
    MagnetState,
    Vector,
    check_field,
    from_spherical,
    to_spherical,
)

from .base import InstrumentDevice
from .validation import refusals, require_finite

POLL_MS = 100  # field components, |B| and State are polled for their change events
FIELD_CHANGE = "1e-5"  # T, 0.1 G: smallest field change that makes an event
MOVING_STATES = (MagnetState.RAMPING, MagnetState.HEATING_SWITCH, MagnetState.COOLING_SWITCH)


def _vector(v: Vector) -> str:
    return "(" + ", ".join(f"{b:.6g}" for b in v) + ") T"


def _component(axis: str) -> attribute:
    index = AXES.index(axis)

    def read(self: "VectorMagnet") -> float:
        return self.driver.field()[index]

    def write(self: "VectorMagnet", value: float) -> None:
        target = list(self.driver.target())
        target[index] = require_finite(f"B{axis}", value)
        self.ramp(tuple(target))

    return attribute(
        name=f"B{axis}", dtype=float, access=AttrWriteType.READ_WRITE, unit="T",
        format="%.6f", fget=read, fset=write, polling_period=POLL_MS, abs_change=FIELD_CHANGE,
        doc=f"{axis} component of the field now; writing ramps to the new vector")


def _current(axis: str) -> attribute:
    def read(self: "VectorMagnet") -> float:
        return self.driver.currents()[AXES.index(axis)]

    return attribute(name=f"I{axis}", dtype=float, unit="A", format="%.4f", fget=read,
                     doc=f"current in the {axis} coil now")


class VectorMagnet(InstrumentDevice):
    """Superconducting vector magnet; every field in tesla, ramps take their real time."""

    INSTRUMENT = "magnet"

    Bx = _component("x")
    By = _component("y")
    Bz = _component("z")
    Ix = _current("x")
    Iy = _current("y")
    Iz = _current("z")

    def init_instrument(self) -> None:
        c = self.driver.constraints
        for axis in AXES:
            limit = c.axis_max_field[axis]
            self.set_write_limits(f"B{axis}", -limit, limit)
        self.set_write_limits("B", 0.0, c.max_field)
        self.set_write_limits("theta", 0.0, math.pi)
        self.set_write_limits("phi", -math.pi, math.pi)
        self.set_write_limits("ramp_rate", c.min_ramp_rate, c.max_ramp_rate)
        self._direction = (0.0, 0.0)  # (theta, phi) kept for |B| = 0
        self._show_setpoint(self.driver.target())
        self.set_change_event("State", True, True)
        if not self.is_attribute_polled("State"):
            self.poll_attribute("State", POLL_MS)

    # --- the vector as |B|, theta, phi

    @attribute(dtype=float, access=AttrWriteType.READ_WRITE, unit="T", format="%.6f",
               polling_period=POLL_MS, abs_change=FIELD_CHANGE,
               doc="magnitude |B| of the field now; writing ramps, keeping the direction")
    def B(self) -> float:
        return to_spherical(self.driver.field(), self._direction)[0]

    @B.write
    def B(self, value: float) -> None:
        _, theta, phi = self._setpoint()
        self.ramp(from_spherical(require_finite("B", value), theta, phi))

    @attribute(dtype=float, access=AttrWriteType.READ_WRITE, unit="rad", format="%.6f",
               doc="polar angle of the field from +z now; writing ramps, keeping |B| and phi")
    def theta(self) -> float:
        return to_spherical(self.driver.field(), self._direction)[1]

    @theta.write
    def theta(self, value: float) -> None:
        magnitude, _, phi = self._setpoint()
        self._turn(magnitude, require_finite("theta", value), phi)

    @attribute(dtype=float, access=AttrWriteType.READ_WRITE, unit="rad", format="%.6f",
               doc="azimuth of the field from +x towards +y now; writing ramps, keeping |B| "
                   "and theta")
    def phi(self) -> float:
        return to_spherical(self.driver.field(), self._direction)[2]

    @phi.write
    def phi(self, value: float) -> None:
        magnitude, theta, _ = self._setpoint()
        self._turn(magnitude, theta, require_finite("phi", value))

    def _setpoint(self) -> tuple[float, float, float]:
        return to_spherical(self.driver.target(), self._direction)

    def _turn(self, magnitude: float, theta: float, phi: float) -> None:
        """A new direction: ramp to it, or only remember it while the setpoint is zero."""
        if magnitude > 0.0:
            self.ramp(from_spherical(magnitude, theta, phi))
        else:
            self._direction = (theta, phi)
            self._show_setpoint(self.driver.target())

    # --- ramping

    @attribute(dtype=float, access=AttrWriteType.READ_WRITE, unit="T/s", format="%.3e",
               memorized=True, hw_memorized=True,
               doc="ramp rate of the coil with the largest change (the others follow the line)")
    def ramp_rate(self) -> float:
        return self.driver.ramp_rate()

    @ramp_rate.write
    def ramp_rate(self, value: float) -> None:
        require_finite("ramp_rate", value)
        with refusals():
            self.driver.set_ramp_rate(value)

    @attribute(dtype=float, unit="T/s", format="%.3e", doc="highest ramp rate of the coils")
    def max_ramp_rate(self) -> float:
        return self.driver.constraints.max_ramp_rate

    @attribute(dtype=float, unit="T", format="%.4f", doc="limit on |B| in any direction")
    def max_field(self) -> float:
        return self.driver.constraints.max_field

    @attribute(dtype=MagnetState, doc="what the supplies do: HOLDING, RAMPING, PAUSED, "
                                      "HEATING_SWITCH, COOLING_SWITCH or QUENCH")
    def magnet_state(self) -> MagnetState:
        return self.driver.state()

    @attribute(dtype=bool, access=AttrWriteType.READ_WRITE,
               doc="True: switch heater off, the field persists with no ramp possible; "
                   "switching takes the switch's heating or cooling time")
    def persistent(self) -> bool:
        return self.driver.persistent()

    @persistent.write
    def persistent(self, on: bool) -> None:
        with refusals():
            self.driver.set_persistent(bool(on))

    def ramp(self, target: Vector) -> None:
        """Start the ramp to `target` after checking it against every limit."""
        with refusals():
            vector = check_field(target, self.driver.constraints)
            self.driver.ramp_to(vector)
        if any(vector):
            self._direction = to_spherical(vector, self._direction)[1:]
        self._show_setpoint(self.driver.target())

    def _show_setpoint(self, vector: Vector) -> None:
        """Put the setpoint in the write values of all six field attributes (except where it
        lies beyond an attribute's limits, e.g. set on the supplies' front panels)."""
        magnitude, theta, phi = to_spherical(vector, self._direction)
        values = dict(zip(("Bx", "By", "Bz"), vector, strict=True))
        values.update(B=min(magnitude, self.driver.constraints.max_field), theta=theta, phi=phi)
        for name, value in values.items():
            with suppress(DevFailed):
                self.get_device_attr().get_w_attr_by_name(name).set_write_value(value)

    @command(dtype_in=(float,), doc_in="[Bx, By, Bz] in T: ramp along a straight line to it")
    def RampTo(self, vector: list[float]) -> None:
        self.ramp(tuple(vector))

    @command(doc_in="Stop ramping and hold the field where it is now")
    def Pause(self) -> None:
        self.safe_state()

    @command(doc_in="Continue a paused ramp to the setpoint")
    def Resume(self) -> None:
        with refusals():
            self.driver.resume()

    @command(doc_in="Hold the field where it is now (safe state), as Pause")
    def Stop(self) -> None:
        self.safe_state()

    @command(doc_in="Clear a quench; the magnet then holds zero field and may ramp again")
    def ResetQuench(self) -> None:
        with refusals():
            self.driver.reset_quench()

    def safe_state(self) -> None:
        with refusals():
            self.driver.pause()

    # --- state

    def dev_state(self) -> DevState:
        if self._driver is None:
            return DevState.FAULT
        state = self._driver.state()
        if state == MagnetState.QUENCH:
            return DevState.FAULT
        return DevState.MOVING if state in MOVING_STATES else DevState.ON

    def dev_status(self) -> str:
        if self._driver is None:
            return self.get_status()
        d = self._driver
        state = d.state()
        if state == MagnetState.QUENCH:
            return f"{d.fault()}; ResetQuench, then ramp again"
        if state == MagnetState.HEATING_SWITCH:
            return "heating the persistent switch to leave persistent mode"
        if state == MagnetState.COOLING_SWITCH:
            return "cooling the persistent switch to enter persistent mode"
        if state == MagnetState.RAMPING:
            return (f"ramping to {_vector(d.target())} at {d.ramp_rate():.3g} T/s, "
                    f"now {_vector(d.field())}")
        if state == MagnetState.PAUSED:
            return (f"paused at {_vector(d.field())}, short of the setpoint "
                    f"{_vector(d.target())}; Resume to continue")
        persistent = ", persistent" if d.persistent() else ""
        return f"holding {_vector(d.field())}{persistent}"
