"""Simulated 532 nm laser with an AOM: blanking, power, gating and interlock, in the world."""

from nanomri.interfaces.errors import Refused
from nanomri.interfaces.laser import LaserConstraints, LaserMode
from nanomri.world_sections.laser import LaserSpec

from ..sim_world import SimWorld, open_section


class SimLaser:
    """LaserDriver over a SimWorld; the beam reaches the sample `switch_time` after a command."""

    def __init__(self, world: SimWorld, spec: LaserSpec | None = None):
        self.world = world
        spec = spec or world.model.instruments.laser
        self.constraints = LaserConstraints(max_power=spec.max_power)
        self.switch_time = spec.switch_time
        self._power = spec.initial_power
        self._emission = False
        self._mode = LaserMode.CW
        self._interlock_open = spec.interlock_open

    def _record(self) -> None:
        when = self.world.clock() + self.switch_time
        power = self._power if self._emission else 0.0
        self.world.laser.record(when, power, gated=self._mode == LaserMode.GATED)

    def set_emission(self, on: bool) -> None:
        if on and self._interlock_open:
            raise Refused("INTERLOCK", "the laser interlock is open: emission refused until "
                                       "it is closed")
        self._emission = bool(on)
        self._record()

    def emission(self) -> bool:
        return self._emission

    def set_power(self, power: float) -> None:
        if not 0.0 <= power <= self.constraints.max_power:
            raise Refused("OUT_OF_RANGE", f"power {power:g} W is outside "
                                          f"[0, {self.constraints.max_power:g}] W")
        self._power = power
        self._record()

    def power(self) -> float:
        return self._power

    def set_mode(self, mode: LaserMode) -> None:
        self._mode = LaserMode(mode)
        self._record()

    def mode(self) -> LaserMode:
        return self._mode

    def interlock_open(self) -> bool:
        return self._interlock_open

    def set_interlock(self, is_open: bool) -> None:
        """The interlock loop opens (a door, a key) or closes; opening cuts the beam at once,
        and closing it again does not restore emission: someone must unblank on purpose."""
        self._interlock_open = bool(is_open)
        if is_open and self._emission:
            self._emission = False
            self._record()


def open_driver(address: str) -> SimLaser:
    """The simulated laser of the world file at `address` (`<world>[#section]`)."""
    world, spec, key = open_section(address, "laser", LaserSpec)
    return world.driver(key, lambda: SimLaser(world, spec))
