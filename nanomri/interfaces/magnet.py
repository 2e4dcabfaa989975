"""Driver interface of a three-axis superconducting vector magnet with a persistent switch."""

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from .errors import Refused

AXES = ("x", "y", "z")
Vector = tuple[float, float, float]  # (Bx, By, Bz) in T
ROUNDING = 1e-12  # relative slack on |B| for vectors made from (|B|, theta, phi) at the limit


class MagnetState(IntEnum):
    """What the supplies are doing (the AMI 430 states, folded over the three coils)."""

    HOLDING = 0  # at the setpoint (or at zero), field steady
    RAMPING = 1  # moving along a straight line in B space
    PAUSED = 2  # held short of the setpoint by Pause (or after a quench was reset)
    HEATING_SWITCH = 3  # persistent switch opening: no ramp until it is warm
    COOLING_SWITCH = 4  # persistent switch closing into persistent mode
    QUENCH = 5  # a coil quenched: field lost, nothing moves until the quench is reset


@dataclass(frozen=True)
class MagnetConstraints:
    """Field limits (T), ramp-rate range (T/s, of the fastest coil) and switch times (s)."""

    max_field: float  # limit on |B|
    axis_max_field: dict[str, float]  # limit on |B_axis| of each coil
    min_ramp_rate: float
    max_ramp_rate: float
    switch_heat_time: float
    switch_cool_time: float


class MagnetDriver(Protocol):
    """A vector magnet whose coils ramp together along straight lines in B space.

    The ramp rate is that of the coil with the largest change; the others ramp proportionally
    slower so that the three arrive together. Refusals are `Refused` with reasons FIELD_LIMIT,
    BAD_SHAPE, NOT_FINITE, OUT_OF_RANGE (ramp rate), PERSISTENT, QUENCH or BUSY; real supplies
    add INSTRUMENT (a supply refused a command) and NO_SWITCH.
    """

    constraints: MagnetConstraints

    def ramp_to(self, target: Vector) -> None:
        """Start ramping to `target` (T) and return at once."""

    def field(self) -> Vector:
        """The field in the magnet now (T), also while it ramps."""

    def target(self) -> Vector:
        """The setpoint of the present or last ramp (T)."""

    def currents(self) -> Vector:
        """The current in each coil now (A)."""

    def state(self) -> MagnetState:
        """What the magnet is doing now."""

    def ramp_rate(self) -> float:
        """The ramp rate of the fastest coil (T/s)."""

    def set_ramp_rate(self, rate: float) -> None:
        """Set the ramp rate (T/s); a ramp under way continues at the new rate."""

    def pause(self) -> None:
        """Stop ramping and hold the field where it is now (never a sudden change)."""

    def resume(self) -> None:
        """Continue a paused ramp to the setpoint."""

    def persistent(self) -> bool:
        """True while the switch heater is off (switch closing or closed): no ramp possible."""

    def set_persistent(self, on: bool) -> None:
        """Switch heater off (True, enter persistent mode) or on (False, leave it)."""

    def fault(self) -> str:
        """Why the magnet is in QUENCH, or '' when it is not."""

    def reset_quench(self) -> None:
        """Clear a quench; the magnet then holds the field it has (zero) and may ramp again."""


def check_field(target: Vector, constraints: MagnetConstraints) -> Vector:
    """`target` as floats if it is a finite vector inside every coil's limit and the |B| sphere;
    else `Refused` naming the limit."""
    if len(target) != 3:
        raise Refused("BAD_SHAPE", f"a field vector has 3 components (Bx, By, Bz), "
                                   f"got {len(target)}")
    vector = tuple(float(b) for b in target)
    for axis, b in zip(AXES, vector, strict=True):
        if not math.isfinite(b):
            raise Refused("NOT_FINITE", f"B{axis} must be a finite number, got {b}")
        limit = constraints.axis_max_field[axis]
        if abs(b) > limit:
            raise Refused("FIELD_LIMIT", f"B{axis} = {b:g} T is outside the {axis} coil's "
                                         f"limits [{-limit:g}, {limit:g}] T")
    magnitude = math.sqrt(sum(b * b for b in vector))
    if magnitude > constraints.max_field * (1 + ROUNDING):
        raise Refused("FIELD_LIMIT", f"|B| = {magnitude:g} T is beyond the magnet's max_field "
                                     f"of {constraints.max_field:g} T")
    return vector  # type: ignore[return-value]


def check_ramp_rate(rate: float, constraints: MagnetConstraints) -> float:
    """`rate` if it lies in [min_ramp_rate, max_ramp_rate]; else `Refused` naming the range."""
    low, high = constraints.min_ramp_rate, constraints.max_ramp_rate
    if not low <= rate <= high:  # also false for NaN
        raise Refused("OUT_OF_RANGE", f"ramp rate {rate:g} T/s is outside [{low:g}, {high:g}] T/s")
    return float(rate)


def ramp_duration(start: Vector, end: Vector, rate: float) -> float:
    """Time of a straight ramp whose fastest coil moves at `rate` (T/s)."""
    return max(abs(e - s) for s, e in zip(start, end, strict=True)) / rate


def axis_rates(start: Vector, end: Vector, rate: float) -> Vector:
    """Ramp rate of each coil so that all arrive together along the line (T/s); a coil that does
    not move keeps `rate`."""
    delta = [abs(e - s) for s, e in zip(start, end, strict=True)]
    largest = max(delta)
    if largest == 0.0:
        return (rate, rate, rate)
    return tuple(rate * d / largest if d > 0 else rate for d in delta)  # type: ignore[return-value]


def to_spherical(vector: Vector, direction: tuple[float, float]) -> tuple[float, float, float]:
    """(|B|, theta, phi) of `vector`: theta from +z, phi from +x towards +y (rad, phi in
    [-pi, pi]). Where an angle is undefined (zero field, field along z) it is taken from
    `direction` = (theta, phi)."""
    bx, by, bz = vector
    magnitude = math.sqrt(bx * bx + by * by + bz * bz)
    if magnitude == 0.0:
        return 0.0, direction[0], direction[1]
    theta = math.acos(max(-1.0, min(1.0, bz / magnitude)))
    phi = math.atan2(by, bx) if (bx != 0.0 or by != 0.0) else direction[1]
    return magnitude, theta, phi


def from_spherical(magnitude: float, theta: float, phi: float) -> Vector:
    """(Bx, By, Bz) of |B|, theta (from +z) and phi (from +x), in T and rad."""
    s = math.sin(theta)
    return (magnitude * s * math.cos(phi), magnitude * s * math.sin(phi),
            magnitude * math.cos(theta))
