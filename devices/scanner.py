"""Tango device of the xyz scanner: positions, velocities, MOVING state and Stop."""

from tango import AttrWriteType, DevState
from tango.server import attribute, command

from nanomri.interfaces.scanner import AXES

from .base import InstrumentDevice
from .validation import require_finite


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


class Scanner(InstrumentDevice):
    """Closed-loop xyz scanner; every position in metres, moves take their real time."""

    INSTRUMENT = "scanner"

    x = _position("x")
    y = _position("y")
    z = _position("z")
    velocity_x = _velocity("x")
    velocity_y = _velocity("y")
    velocity_z = _velocity("z")

    def init_instrument(self) -> None:
        c = self.driver.constraints
        for axis in AXES:
            self.set_write_limits(axis, c.position_min[axis], c.position_max[axis])
            self.set_write_limits(f"velocity_{axis}", 0.0, c.max_velocity[axis])

    def move(self, axis: str, position: float) -> None:
        """Start a move after checks that Tango's own limit check does not make (NaN)."""
        require_finite(axis, position)
        self.driver.move_to(axis, position)

    def dev_state(self) -> DevState:
        if self._driver is None:
            return DevState.FAULT
        if any(self._driver.is_moving(a) for a in AXES):
            return DevState.MOVING
        return DevState.ON

    def dev_status(self) -> str:
        if self._driver is None:
            return self.get_status()
        moving = [a for a in AXES if self._driver.is_moving(a)]
        return f"moving {', '.join(moving)}" if moving else "at rest"

    @command(doc_in="Decelerate every axis to rest (safe state)")
    def Stop(self) -> None:
        self.safe_state()

    def safe_state(self) -> None:
        self.driver.stop()
