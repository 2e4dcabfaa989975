"""Simulated closed-loop xyz scanner (the confocal stage): trapezoidal moves in real time.

The stage's trajectories are the world's (`world.paths`, read by the photon counter); any other
section keeps its own in `paths`, and other simulated instruments reach it through
`world.links`. The STM/AFM head with a tip is `scan_head.SimProbe`.
"""

import math
import threading
from collections.abc import Callable, Sequence
from functools import wraps

from nanomri.interfaces.errors import Refused
from nanomri.interfaces.scanner import AXES, MAX_PATH_MOVES, PathMove, ScannerConstraints
from nanomri.world_sections.probe import ProbeSpec
from nanomri.world_sections.scanner import ScannerSpec

from ..motion import Trajectory
from ..sim_world import SimWorld, open_section

LATERAL = ("x", "y")
TICK = 1e-9  # s, time resolution of a motion program: a move may start this early
SAMPLES_PER_FEATURE = 8  # path samples per surface feature width (crash check and loop)
MAX_SAMPLES = 200_000  # per lateral move, whatever the feature size
MAX_IDLE_STEP = 1.0  # s, longest loop step while nothing moves over the surface
LOOP_SETTLE = 10  # loop time constants simulated past the last planned move by the crash check
HISTORY = 10_000  # loop samples kept for queries of the recent past


def _check_axis(axis: str) -> None:
    if axis not in AXES:
        raise Refused("UNKNOWN_AXIS", f"unknown axis {axis!r}; the scanner has {AXES}")


def _locked(method: Callable) -> Callable:
    """Run `method` under the driver's lock: other instruments' threads query it too."""
    @wraps(method)
    def run(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return run


class SimScanner:
    """ScannerDriver over a SimWorld; its trajectories are the truth."""

    def __init__(self, world: SimWorld, key: str = "scanner"):
        spec = getattr(world.model.instruments, key)
        self.world, self.key = world, key
        self.constraints = self._constraints(spec)
        now = world.clock()
        if key == "scanner":
            self.paths = world.paths  # the photon counter follows the stage through these
        else:
            start = spec.initial_position.as_dict()
            self.paths = {axis: Trajectory.rest(start[axis], now) for axis in AXES}
        self._velocity = dict(self.constraints.max_velocity)
        self._acceleration = dict(self.constraints.max_acceleration)
        self._drift = dict.fromkeys(AXES, 0.0)
        self._lock = threading.RLock()
        self._program: tuple[PathMove, ...] = ()

    @staticmethod
    def _constraints(spec: ScannerSpec) -> ScannerConstraints:
        return ScannerConstraints(
            position_min=spec.position_min.as_dict(),
            position_max=spec.position_max.as_dict(),
            max_velocity=spec.max_velocity.as_dict(),
            max_acceleration=spec.max_acceleration.as_dict(),
            settle_time=spec.settle_time,
        )

    def _check_range(self, axis: str, position: float) -> None:
        _check_axis(axis)
        low, high = self.constraints.position_min[axis], self.constraints.position_max[axis]
        if not low <= position <= high:
            raise Refused("OUT_OF_RANGE", f"{axis} = {position:g} m is outside "
                                          f"[{low:g}, {high:g}] m")

    def _move(self, axis: str, position: float, t0: float, start: float | None = None,
              velocity: float | None = None, settle: float | None = None) -> Trajectory:
        """A move of `axis` from rest at `start` (default: where it is at t0) to `position`."""
        c = self.constraints
        start = float(self.paths[axis].position(t0)) if start is None else start
        return Trajectory.move(start, position, t0, velocity or self._velocity[axis],
                               self._acceleration[axis],
                               c.settle_time if settle is None else settle)

    @_locked
    def move_to(self, axis: str, position: float) -> None:
        self._check_range(axis, position)
        now = self.world.clock()
        self.paths[axis] = self._move(axis, position, now)
        if self.paths is self.world.paths:  # the stage's motion-start trigger output
            self.world.motion_started(now)

    @_locked
    def position(self, axis: str) -> float:
        _check_axis(axis)
        return float(self.paths[axis].position(self.world.clock()))

    @_locked
    def target(self, axis: str) -> float:
        _check_axis(axis)
        return self.paths[axis].final

    @_locked
    def is_moving(self, axis: str) -> bool:
        _check_axis(axis)
        return self.world.clock() < self.paths[axis].settled

    def velocity(self, axis: str) -> float:
        _check_axis(axis)
        return self._velocity[axis]

    @_locked
    def set_velocity(self, axis: str, velocity: float) -> None:
        _check_axis(axis)
        limit = self.constraints.max_velocity[axis]
        if not 0 < velocity <= limit:
            raise Refused("OUT_OF_RANGE", f"velocity of {axis} = {velocity:g} m/s is outside "
                                          f"(0, {limit:g}] m/s")
        self._velocity[axis] = velocity

    def acceleration(self, axis: str) -> float:
        _check_axis(axis)
        return self._acceleration[axis]

    @_locked
    def set_acceleration(self, axis: str, acceleration: float) -> None:
        _check_axis(axis)
        limit = self.constraints.max_acceleration[axis]
        if not 0 < acceleration <= limit:
            raise Refused("OUT_OF_RANGE", f"acceleration of {axis} = {acceleration:g} m/s² is "
                                          f"outside (0, {limit:g}] m/s²")
        self._acceleration[axis] = acceleration

    def _stop_axes(self, axes: tuple[str, ...], now: float) -> None:
        c = self.constraints
        for axis in axes:
            self.paths[axis] = self.paths[axis].stopped_at(now, c.max_acceleration[axis],
                                                           c.settle_time)

    @_locked
    def stop(self) -> None:
        self._stop_axes(AXES, self.world.clock())

    @_locked
    def load_path(self, moves: Sequence[PathMove]) -> None:
        if not 1 <= len(moves) <= MAX_PATH_MOVES:
            raise Refused("PATH", f"a motion program holds 1 to {MAX_PATH_MOVES} moves, "
                                  f"got {len(moves)}")
        for i, m in enumerate(moves):
            self._check_range(m.axis, m.target)
            limit = self.constraints.max_velocity[m.axis]
            if not (math.isfinite(m.start) and m.start >= 0):
                raise Refused("PATH", f"move {i} starts at {m.start!r} s; a start is a time "
                                      ">= 0 s from the program's start")
            if not 0 < m.velocity <= limit:
                raise Refused("OUT_OF_RANGE", f"move {i}: velocity of {m.axis} = "
                                              f"{m.velocity:g} m/s is outside (0, {limit:g}] m/s")
        self._program = tuple(sorted(moves, key=lambda m: m.start))

    @_locked
    def run_path(self) -> float:
        if not self._program:
            raise Refused("NO_PATH", "no motion program loaded; LoadPath one first")
        now = self.world.clock()
        moving = [a for a in AXES if now < self.paths[a].end]
        if moving:
            raise Refused("BUSY", f"{', '.join(moving)} still moving; a program starts at rest")
        pieces = {a: [self.paths[a]] for a in AXES}
        for i, m in enumerate(self._program):
            previous = pieces[m.axis][-1]
            start = now + m.start
            if previous.end - TICK < start < previous.end:  # the planner's rounding
                start = previous.end
            if start < previous.end:
                raise Refused("PATH", f"move {i} of {m.axis} starts at {m.start:g} s, before its "
                                      f"previous move ends at {previous.end - now:g} s")
            pieces[m.axis].append(self._move(m.axis, m.target, start, previous.final,
                                             m.velocity))
        paths = {a: Trajectory.chain(pieces[a]) for a in AXES}
        self.paths.update(paths)
        if self.paths is self.world.paths:
            self.world.motion_started(now)
        return max(p.settled for p in paths.values()) - now

    def drift_estimate(self, axis: str) -> float:
        _check_axis(axis)
        return self._drift[axis]

    @_locked
    def set_drift_estimate(self, axis: str, velocity: float) -> None:
        """Keep the estimate; the stage has no sample under a tip to follow, so it adds nothing
        to its piezos (the scan head, `SimProbe`, compensates)."""
        _check_axis(axis)
        limit = self.constraints.max_velocity[axis]
        if not -limit <= velocity <= limit:
            raise Refused("OUT_OF_RANGE", f"drift estimate of {axis} = {velocity:g} m/s is "
                                          f"outside [{-limit:g}, {limit:g}] m/s")
        self._drift[axis] = velocity

    def drift_compensation(self, axis: str) -> float:
        """0: the stage does not compensate drift."""
        _check_axis(axis)
        return 0.0

    def clock(self) -> float:
        """The world's clock, sped up by its clock rate."""
        return float(self.world.clock())


def open_driver(address: str) -> SimScanner:
    """The simulated stage of the world file at `address` (`<world>[#section]`)."""
    world, spec, key = open_section(address, "scanner", ScannerSpec)
    if isinstance(spec, ProbeSpec):
        raise Refused("UNSUPPORTED", f"instruments.{key} is a scan head with a tip: its device "
                                     "is a ScanHead")
    return world.driver(key, lambda: SimScanner(world, key))
