"""Simulated vector magnet: straight ramps in B space at the ramp rate, persistent switch, quench.

The field follows the commanded ramps in the world's time; other simulated instruments read it
with `world.links.magnet.field()`.
"""

import math
from dataclasses import dataclass

from nanomri.interfaces.errors import Refused
from nanomri.interfaces.magnet import (
    AXES,
    MagnetConstraints,
    MagnetState,
    Vector,
    check_field,
    check_ramp_rate,
    ramp_duration,
)
from nanomri.world_sections.magnet import MagnetSpec

from ..sim_world import SimWorld, open_section

ZERO: Vector = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Ramp:
    """A straight path in B space from `start` at `t0` to `end` at `t1`, at rest outside."""

    start: Vector
    end: Vector
    t0: float
    t1: float

    @classmethod
    def rest(cls, field: Vector, t: float) -> "Ramp":
        """A field held at `field` from `t` on."""
        return cls(field, field, t, t)

    def at(self, t: float) -> Vector:
        """The field at time `t` (T)."""
        if t >= self.t1:
            return self.end
        if t <= self.t0:
            return self.start
        u = (t - self.t0) / (self.t1 - self.t0)
        return tuple(s + (e - s) * u for s, e in zip(self.start, self.end, strict=True))

    def crossing(self, magnitude: float) -> float | None:
        """The first time |B| reaches `magnitude` along this ramp, or None if it never does."""
        d = [e - s for s, e in zip(self.start, self.end, strict=True)]
        a = sum(x * x for x in d)
        if a == 0.0:
            return None
        b = 2 * sum(s * x for s, x in zip(self.start, d, strict=True))
        c = sum(s * s for s in self.start) - magnitude**2
        if c >= 0.0:
            return self.t0
        u = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)  # c < 0: one root ahead
        return self.t0 + u * (self.t1 - self.t0) if u <= 1.0 else None


class SimVectorMagnet:
    """MagnetDriver over a SimWorld: the coils ramp together, taking their real time."""

    def __init__(self, world: SimWorld, spec: MagnetSpec):
        self.world = world
        self.constraints = MagnetConstraints(
            max_field=spec.max_field,
            axis_max_field=spec.axis_max_field.as_dict(),
            min_ramp_rate=spec.min_ramp_rate,
            max_ramp_rate=spec.max_ramp_rate,
            switch_heat_time=spec.switch_heat_time,
            switch_cool_time=spec.switch_cool_time,
        )
        self._coil_constant = spec.coil_constant.as_dict()
        self._quench_field = spec.quench_field
        now = world.clock()
        self._rate = spec.initial_ramp_rate
        self._target = ZERO
        self._path = Ramp.rest(ZERO, now)
        self._quench_at: float | None = None  # when the present ramp reaches quench_field
        self._heater_on = True  # switch open: the supplies drive the coils
        self._switched = now  # when the last heater change has taken effect
        self._quench = ""  # why the magnet quenched; '' while it has not

    # --- time

    def _now(self) -> float:
        """The world's time, after any quench the ramp has run into by then."""
        now = self.world.clock()
        if self._quench_at is not None and now >= self._quench_at:
            field = self._path.at(self._quench_at)
            self._collapse(self._quench_at, self._worst_coil(field),
                           math.sqrt(sum(b * b for b in field)))
        return now

    def _worst_coil(self, field: Vector) -> str:
        limits = self.constraints.axis_max_field
        return max(AXES, key=lambda axis: abs(field[AXES.index(axis)]) / limits[axis])

    def _collapse(self, t: float, axis: str, magnitude: float) -> None:
        """A quench: the stored energy is dumped, the field is zero from `t` on."""
        self._quench = (f"quench of the {axis} coil at |B| = {magnitude:.4g} T: the field "
                        f"collapsed to zero")
        self._path = Ramp.rest(ZERO, t)
        self._quench_at = None

    def _set_path(self, path: Ramp) -> None:
        self._path = path
        q = self._quench_field
        self._quench_at = path.crossing(q) if q is not None else None

    def _start(self, now: float, target: Vector) -> None:
        here = self._path.at(now)
        self._target = target
        self._set_path(Ramp(here, target, now, now + ramp_duration(here, target, self._rate)))

    def _check_can_ramp(self, now: float) -> None:
        if self._quench:
            raise Refused("QUENCH", f"{self._quench}; reset the quench before ramping")
        if not self._heater_on:
            raise Refused("PERSISTENT", "the magnet is persistent (switch heater off): leave "
                                        "persistent mode before ramping")
        if now < self._switched:
            raise Refused("PERSISTENT", f"the persistent switch is still heating: ramps are "
                                        f"possible in {self._switched - now:.3g} s")

    # --- MagnetDriver

    def ramp_to(self, target: Vector) -> None:
        vector = check_field(target, self.constraints)
        now = self._now()
        self._check_can_ramp(now)
        self._start(now, vector)

    def field(self) -> Vector:
        return self._path.at(self._now())

    def field_at(self, t: float) -> Vector:
        """The field at world time `t`, now or in the recent past (T)."""
        self._now()
        return self._path.at(t)

    def target(self) -> Vector:
        return self._target

    def currents(self) -> Vector:
        field = self.field()
        return tuple(b / self._coil_constant[axis] for axis, b in zip(AXES, field, strict=True))

    def state(self) -> MagnetState:
        now = self._now()
        if self._quench:
            return MagnetState.QUENCH
        if now < self._switched:
            return MagnetState.HEATING_SWITCH if self._heater_on else MagnetState.COOLING_SWITCH
        if now < self._path.t1:
            return MagnetState.RAMPING
        return MagnetState.HOLDING if self._path.end == self._target else MagnetState.PAUSED

    def ramp_rate(self) -> float:
        return self._rate

    def set_ramp_rate(self, rate: float) -> None:
        self._rate = check_ramp_rate(rate, self.constraints)
        now = self._now()
        if now < self._path.t1:
            self._start(now, self._target)

    def pause(self) -> None:
        now = self._now()
        self._set_path(Ramp.rest(self._path.at(now), now))

    def resume(self) -> None:
        now = self._now()
        if self._path.at(now) == self._target:
            return
        self._check_can_ramp(now)
        self._start(now, self._target)

    def persistent(self) -> bool:
        return not self._heater_on

    def set_persistent(self, on: bool) -> None:
        now = self._now()
        if self._quench:
            raise Refused("QUENCH", f"{self._quench}; reset the quench first")
        if bool(on) != self._heater_on:
            return
        if on and now < self._path.t1:
            raise Refused("BUSY", "cannot enter persistent mode while ramping: wait for the "
                                  "ramp to end or Pause it")
        c = self.constraints
        self._heater_on = not on
        self._switched = now + (c.switch_cool_time if on else c.switch_heat_time)

    def fault(self) -> str:
        self._now()
        return self._quench

    def reset_quench(self) -> None:
        self._now()
        self._quench = ""

    # --- simulation only

    def quench(self, axis: str = "z") -> None:
        """Quench the magnet now, as if the `axis` coil went normal (for tests)."""
        if axis not in AXES:
            raise ValueError(f"unknown coil {axis!r}; the magnet has {AXES}")
        now = self._now()
        field = self._path.at(now)
        self._collapse(now, axis, math.sqrt(sum(b * b for b in field)))


def open_driver(address: str) -> SimVectorMagnet:
    """The simulated magnet of `<world file>[#<section>]` (default section `magnet`)."""
    world, spec, key = open_section(address, "magnet", MagnetSpec)
    return world.driver(key, lambda: SimVectorMagnet(world, spec))
