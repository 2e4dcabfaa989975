"""Simulated 532 nm laser with an AOM: blanking and power, recorded in the world's history."""

from nanomri.interfaces.laser import LaserConstraints

from ..world import SimWorld, get_world


class SimLaser:
    """LaserDriver over a SimWorld; the beam reaches the sample `switch_time` after a command."""

    def __init__(self, world: SimWorld):
        self.world = world
        spec = world.model.instruments.laser
        self.constraints = LaserConstraints(max_power=spec.max_power, switch_time=spec.switch_time)
        self._power = spec.initial_power
        self._emission = False

    def _record(self) -> None:
        when = self.world.clock() + self.constraints.switch_time
        self.world.laser.record(when, self._power if self._emission else 0.0)

    def set_emission(self, on: bool) -> None:
        self._emission = bool(on)
        self._record()

    def emission(self) -> bool:
        return self._emission

    def set_power(self, power: float) -> None:
        if not 0.0 <= power <= self.constraints.max_power:
            raise ValueError(f"power {power:g} W is outside [0, {self.constraints.max_power:g}] W")
        self._power = power
        self._record()

    def power(self) -> float:
        return self._power


def open_driver(address: str) -> SimLaser:
    """The simulated laser of the world file at `address`."""
    return SimLaser(get_world(address))
