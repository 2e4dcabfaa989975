"""Trajectories of one scanner axis in time: trapezoidal moves and stops at finite acceleration,
chained moves, and the path of an axis held by a first-order feedback loop."""

import itertools
from dataclasses import dataclass

import numpy as np

CROSSING_SLACK = 1e-9  # s: a crossing this much before `after` (rounding of clock times
# of ~1e5 s is ~1e-11 s) is seen at `after`


@dataclass(frozen=True)
class Trajectory:
    """Piecewise constant-acceleration path; at rest before `starts[0]` and after `end`."""

    starts: np.ndarray  # phase start times (s)
    positions: np.ndarray  # position at each phase start (m)
    velocities: np.ndarray  # velocity at each phase start (m/s)
    accelerations: np.ndarray  # constant acceleration of each phase (m/s²)
    end: float  # time the axis comes to rest (s)
    final: float  # position at rest (m)
    settled: float  # time after which the closed loop has settled (s)

    @classmethod
    def rest(cls, position: float, t: float) -> "Trajectory":
        """An axis standing at `position`."""
        empty = np.empty(0)
        return cls(empty, empty, empty, empty, t, position, t)

    @classmethod
    def move(cls, start: float, target: float, t0: float, velocity: float, acceleration: float,
             settle: float) -> "Trajectory":
        """From rest at `start` to rest at `target`: accelerate, cruise, decelerate."""
        distance, sign = abs(target - start), np.sign(target - start)
        t_acc = velocity / acceleration
        if acceleration * t_acc**2 >= distance:  # never reaches cruise velocity
            t_acc = np.sqrt(distance / acceleration)
        peak = acceleration * t_acc
        t_cruise = (distance - acceleration * t_acc**2) / peak if peak > 0 else 0.0
        d_acc = 0.5 * acceleration * t_acc**2
        starts = np.array([t0, t0 + t_acc, t0 + t_acc + t_cruise])
        positions = start + sign * np.array([0.0, d_acc, d_acc + peak * t_cruise])
        velocities = sign * np.array([0.0, peak, peak])
        accelerations = sign * np.array([acceleration, 0.0, -acceleration])
        end = t0 + 2 * t_acc + t_cruise
        return cls(starts, positions, velocities, accelerations, end, target, end + settle)

    def position(self, t: np.ndarray | float) -> np.ndarray:
        """Position at time(s) t."""
        t = np.asarray(t, dtype=float)
        out = np.full(t.shape, self.final)
        if self.starts.size == 0:
            return out
        i = np.searchsorted(self.starts, t, side="right") - 1
        inside = (i >= 0) & (t < self.end)
        j, dt = i[inside], t[inside] - self.starts[i[inside]]
        out[inside] = (self.positions[j] + self.velocities[j] * dt
                       + 0.5 * self.accelerations[j] * dt**2)
        out[i < 0] = self.positions[0]
        return out

    def velocity(self, t: float) -> float:
        """Velocity at time t."""
        if self.starts.size == 0 or not self.starts[0] <= t < self.end:
            return 0.0
        j = int(np.searchsorted(self.starts, t, side="right") - 1)
        return float(self.velocities[j] + self.accelerations[j] * (t - self.starts[j]))

    def crossing(self, level: float, after: float, direction: int = 0) -> float | None:
        """The first time from `after` on at which the axis is at `level`, None if never: what a
        position comparator of the stage controller sees. With `direction` +1 (-1) only a
        crossing while moving up (down), or arriving there, counts."""
        if self.starts.size == 0 or after >= self.end:
            return after if self.final == level else None
        first = max(int(np.searchsorted(self.starts, after, side="right")) - 1, 0)
        if after < self.starts[0] and self.positions[0] == level:
            return after
        for j in range(first, self.starts.size):
            begin = self.starts[j]
            end = self.starts[j + 1] if j + 1 < self.starts.size else self.end
            lo = max(after - begin, 0.0) - CROSSING_SLACK
            dt = _first_root(0.5 * self.accelerations[j], self.velocities[j],
                             self.positions[j] - level, lo, end - begin, direction)
            if dt is not None:  # a level passed just at `after` (rounding) is passed then
                return max(float(begin + dt), after)
        return self.end if self.final == level else None

    def then(self, other: "Trajectory") -> "Trajectory":
        """This path, a rest at its final position, then `other` (which starts after our end)."""
        return Trajectory.chain([self, other])

    @classmethod
    def chain(cls, paths: "list[Trajectory]") -> "Trajectory":
        """`then` over many paths at once (a motion program of thousands of moves): each
        starts at or after the end of the one before."""
        paths = [p for p in paths if p.starts.size] or paths[-1:]
        if len(paths) <= 1:
            return paths[0]
        for a, b in itertools.pairwise(paths):
            if b.starts[0] < a.end:
                raise ValueError(f"a path from {b.starts[0]} s cannot follow one ending at "
                                 f"{a.end} s")
        def joined(field: str, rest: list) -> np.ndarray:
            parts = []
            for p, r in zip(paths, rest, strict=True):
                parts += [getattr(p, field), [r]]
            return np.concatenate(parts[:-1])

        rests_t = [p.end for p in paths]
        rests_x = [p.final for p in paths]
        zeros = [0.0] * len(paths)
        last = paths[-1]
        return cls(joined("starts", rests_t), joined("positions", rests_x),
                   joined("velocities", zeros), joined("accelerations", zeros),
                   last.end, last.final, last.settled)

    def stopped_at(self, t: float, acceleration: float, settle: float) -> "Trajectory":
        """This path interrupted at t: decelerate at `acceleration` to rest where it gets."""
        p, v = float(self.position(t)), self.velocity(t)
        if v == 0.0:
            return Trajectory.rest(p, t)
        t_stop = abs(v) / acceleration
        final = p + v * t_stop / 2
        accel = -np.sign(v) * acceleration
        return Trajectory(np.array([t]), np.array([p]), np.array([v]), np.array([accel]),
                          t + t_stop, final, t + t_stop + settle)


def _first_root(a: float, b: float, c: float, lo: float, hi: float,
                direction: int = 0) -> float | None:
    """The smallest x in [lo, hi] with a x² + b x + c = 0 where the slope 2 a x + b is not
    against `direction` (0: any slope), None if there is none."""
    if a == 0.0:
        roots = [-c / b] if b != 0.0 else ([lo] if c == 0.0 else [])
    else:
        disc = b * b - 4 * a * c
        if disc < 0:
            return None
        q = -0.5 * (b + np.copysign(np.sqrt(disc), b))  # stable form of the two roots
        roots = [q / a, c / q] if q != 0.0 else [0.0]
    inside = [x for x in roots if lo <= x <= hi and direction * (2 * a * x + b) >= 0]
    return min(inside) if inside else None


def follow(times: np.ndarray, targets: np.ndarray, start: float, time_constant: float,
           low: float = -np.inf, high: float = np.inf) -> np.ndarray:
    """Path of an axis held by a first-order loop, dz/dt = (target - z) / tau, from z = `start`
    at times[0], clipped to [low, high] (the loop saturates at the end of travel).

    The target is taken linear between samples, for which each step is exact at any step length:
    z1 = r1 - s tau + (z0 - r0 + s tau) exp(-dt / tau), s = (r1 - r0) / dt.
    """
    times, targets = np.asarray(times, dtype=float), np.asarray(targets, dtype=float)
    dt = np.diff(times)
    decay = np.exp(-dt / time_constant)
    lag = np.divide(np.diff(targets), dt, out=np.zeros_like(dt), where=dt > 0) * time_constant
    out = np.empty(times.shape)
    z = min(max(float(start), low), high)
    out[0] = z
    r, a, sl = targets.tolist(), decay.tolist(), lag.tolist()
    for k in range(len(dt)):
        z = r[k + 1] - sl[k] + (z - r[k] + sl[k]) * a[k]
        z = min(max(z, low), high)
        out[k + 1] = z
    return out
