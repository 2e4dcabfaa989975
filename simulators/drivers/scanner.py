"""Simulated closed-loop xyz scanner: moves follow trapezoidal trajectories in real time."""

from nanomri.interfaces.scanner import AXES, ScannerConstraints

from ..motion import Trajectory
from ..world import SimWorld, get_world


def _check_axis(axis: str) -> None:
    if axis not in AXES:
        raise ValueError(f"unknown axis {axis!r}; the scanner has {AXES}")


class SimScanner:
    """ScannerDriver over a SimWorld; the world's trajectories are the truth."""

    def __init__(self, world: SimWorld):
        self.world = world
        spec = world.model.instruments.scanner
        self.constraints = ScannerConstraints(
            position_min=spec.position_min.as_dict(),
            position_max=spec.position_max.as_dict(),
            max_velocity=spec.max_velocity.as_dict(),
            max_acceleration=spec.max_acceleration.as_dict(),
            settle_time=spec.settle_time,
        )
        self._velocity = dict(self.constraints.max_velocity)

    def move_to(self, axis: str, position: float) -> None:
        _check_axis(axis)
        low, high = self.constraints.position_min[axis], self.constraints.position_max[axis]
        if not low <= position <= high:
            raise ValueError(f"{axis} = {position:g} m is outside [{low:g}, {high:g}] m")
        now = self.world.clock()
        c = self.constraints
        self.world.paths[axis] = Trajectory.move(
            self.position(axis), position, now, self._velocity[axis],
            c.max_acceleration[axis], c.settle_time)

    def position(self, axis: str) -> float:
        _check_axis(axis)
        return float(self.world.paths[axis].position(self.world.clock()))

    def target(self, axis: str) -> float:
        _check_axis(axis)
        return self.world.paths[axis].final

    def is_moving(self, axis: str) -> bool:
        _check_axis(axis)
        return self.world.clock() < self.world.paths[axis].settled

    def velocity(self, axis: str) -> float:
        _check_axis(axis)
        return self._velocity[axis]

    def set_velocity(self, axis: str, velocity: float) -> None:
        _check_axis(axis)
        limit = self.constraints.max_velocity[axis]
        if not 0 < velocity <= limit:
            raise ValueError(f"velocity of {axis} = {velocity:g} m/s is outside (0, {limit:g}] m/s")
        self._velocity[axis] = velocity

    def stop(self) -> None:
        now = self.world.clock()
        for axis in AXES:
            self.world.paths[axis] = self.world.paths[axis].stopped_at(
                now, self.constraints.max_acceleration[axis], self.constraints.settle_time)


def open_driver(address: str) -> SimScanner:
    """The simulated scanner of the world file at `address`."""
    return SimScanner(get_world(address))
