"""Tango device of an xyz scanner (the confocal stage): positions, velocities, drift estimate.

The STM/AFM scan head, which adds a tip, is `ScanHead` (`scan_head.py`), a subclass of this.
"""

import json
import math

from tango import AttrWriteType, DevState
from tango.server import attribute, command

from nanomri.interfaces.errors import Refused
from nanomri.interfaces.scanner import AXES, PathMove

from .base import InstrumentDevice
from .validation import refusals, require_finite


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


def _acceleration(axis: str) -> attribute:
    def read(self: "Scanner") -> float:
        return self.driver.acceleration(axis)

    def write(self: "Scanner", value: float) -> None:
        with refusals():
            self.driver.set_acceleration(axis, require_finite(f"acceleration_{axis}", value))

    return attribute(
        name=f"acceleration_{axis}",
        dtype=float,
        access=AttrWriteType.READ_WRITE,
        unit="m/s²",
        format="%.3e",
        doc=f"acceleration and deceleration of the {axis} axis's moves",
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
        doc=f"estimated drift velocity of the sample along {axis}; a scan head adds it to the "
            f"{axis} piezo (drift_compensation_{axis}), a stage without a tip does not",
        fget=read,
        fset=write,
        memorized=True,
        hw_memorized=True,
    )


def _drift_compensation(axis: str) -> attribute:
    def read(self: "Scanner") -> float:
        return self.driver.drift_compensation(axis)

    return attribute(
        name=f"drift_compensation_{axis}",
        dtype=float,
        unit="m",
        format="%.6e",
        doc=f"offset the drift compensation has added to the {axis} piezo so far, on top of "
            f"{axis}: drift_estimate_{axis} integrated over time; counts against the travel",
        fget=read,
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
    acceleration_x = _acceleration("x")
    acceleration_y = _acceleration("y")
    acceleration_z = _acceleration("z")
    drift_estimate_x = _drift_estimate("x")
    drift_estimate_y = _drift_estimate("y")
    drift_estimate_z = _drift_estimate("z")
    drift_compensation_x = _drift_compensation("x")
    drift_compensation_y = _drift_compensation("y")
    drift_compensation_z = _drift_compensation("z")

    @attribute(dtype=float, unit="s", format="%.3f",
               doc="the controller's clock: the time the drift estimates' velocities are per")
    def clock(self) -> float:
        return self.driver.clock()

    @attribute(dtype=float, unit="s", format="%.3e",
               doc="time a closed-loop axis takes to settle after a move")
    def settle_time(self) -> float:
        return self.driver.constraints.settle_time

    def init_instrument(self) -> None:
        c = self.driver.constraints
        for axis in AXES:
            self.set_write_limits(axis, c.position_min[axis], c.position_max[axis])
            self.set_write_limits(f"velocity_{axis}", 0.0, c.max_velocity[axis])
            self.set_write_limits(f"acceleration_{axis}", 0.0, c.max_acceleration[axis])
            limit = c.max_velocity[axis]
            self.set_write_limits(f"drift_estimate_{axis}", -limit, limit)

    def move(self, axis: str, position: float) -> None:
        """Start a move after checks that Tango's own limit check does not make (NaN)."""
        require_finite(axis, position)
        with refusals():
            self.driver.move_to(axis, position)

    def dev_state(self) -> DevState:
        if self._driver is None:
            return DevState.FAULT
        return DevState.MOVING if any(self._driver.is_moving(a) for a in AXES) else DevState.ON

    def dev_status(self) -> str:
        if self._driver is None:
            return self.get_status()
        moving = [a for a in AXES if self._driver.is_moving(a)]
        return f"moving {', '.join(moving)}" if moving else "at rest"

    @command(doc_in="Decelerate every axis to rest (a z feedback that is on stays on)")
    def Stop(self) -> None:
        self.driver.stop()

    @command(dtype_in=str, doc_in='Motion program, JSON list of {"axis", "start" (s from the '
             'program start), "target" (m), "velocity" (m/s)}: checked and kept for RunPath')
    def LoadPath(self, text: str) -> None:
        with refusals():
            self.driver.load_path(parse_path(text))

    @command(dtype_out=float, doc_out="s until every axis has settled",
             doc_in="Play the loaded program from now; its start fires the motion-start output")
    def RunPath(self) -> float:
        with refusals():
            return self.driver.run_path()

    def safe_state(self) -> None:
        self.driver.stop()


def parse_path(text: str) -> list[PathMove]:
    """The moves of a LoadPath argument, refusing what is not a list of complete moves."""
    try:
        items = json.loads(text)
    except ValueError as e:
        raise Refused("PATH", f"motion program is not JSON: {e}") from None
    fields = {"axis", "start", "target", "velocity"}
    if not isinstance(items, list):
        raise Refused("PATH", "a motion program is a JSON list of moves")
    moves = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != fields:
            raise Refused("PATH", f"move {i} must have exactly {sorted(fields)}")
        numbers = [item[k] for k in ("start", "target", "velocity")]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
            raise Refused("PATH", f"move {i}: start, target and velocity must be numbers")
        if not all(math.isfinite(v) for v in numbers):
            raise Refused("PATH", f"move {i}: start, target and velocity must be finite")
        moves.append(PathMove(str(item["axis"]), *(float(v) for v in numbers)))
    return moves
