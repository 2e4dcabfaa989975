"""Simulated STM/AFM scan head: the scanner's moves plus a tip over the world's sample surface
(feedback, approach, retract, leapfrog, crash refusal along every simulated path) and drift
compensation (the estimated drift velocity added to the piezos, Nanonis-style)."""

from dataclasses import dataclass

import numpy as np

from nanomri.interfaces.errors import Refused
from nanomri.interfaces.scanner import AXES, FEEDBACK_UNITS, ScannerConstraints
from nanomri.surface import feature_size, surface_height
from nanomri.tunnelling import gap_for_amplitude, gap_for_current, gap_for_frequency_shift
from nanomri.world_sections.probe import ProbeSpec

from ..motion import Trajectory, follow
from ..sim_world import SimWorld, open_section
from .scanner import SimScanner, _check_axis, _locked

LATERAL = ("x", "y")
SAMPLES_PER_FEATURE = 8  # path samples per surface feature width (crash check and loop)
MAX_SAMPLES = 200_000  # per lateral move, whatever the feature size
MAX_IDLE_STEP = 1.0  # s, longest loop step while nothing moves over the surface
LOOP_SETTLE = 10  # loop time constants simulated past the last planned move by the crash check
HISTORY = 10_000  # loop samples kept for queries of the recent past


@dataclass
class _Loop:
    """An engaged feedback loop: its z path from engagement up to the last time simulated."""

    times: np.ndarray
    z: np.ndarray

    @property
    def t(self) -> float:
        return float(self.times[-1])

    @property
    def now(self) -> float:
        return float(self.z[-1])

    def extend(self, times: np.ndarray, z: np.ndarray) -> None:
        self.times = np.concatenate([self.times, times[1:]])[-HISTORY:]
        self.z = np.concatenate([self.z, z[1:]])[-HISTORY:]


@dataclass
class _Hop:
    """A leapfrog hop in flight: lift to `top`, lateral moves, landing from `landing` on."""

    top: float  # m
    base: float | None  # m, z to come back down to; None: land on the feedback setpoint
    lift: Trajectory  # the lift alone, to stay up when the landing is cancelled
    landing: float  # s, time the landing starts


class SimProbe(SimScanner):
    """ProbeDriver: a scan head whose tip meets `sample.surface` of the world.

    Any move whose path (lateral, z, or z as the loop would follow the surface) brings the tip
    to or below the surface is refused with Refused("CRASH") before anything changes.

    Positions, moves and paths are in the commanded frame. The drift estimate is applied to the
    piezos on top of them (`world.drift_compensation`), so the sample moves relative to that
    frame at its drift less the estimate (`world.sample_displacement`), and the offset counts
    against the travel: a move whose target plus the present offset leaves it is refused.
    """

    def __init__(self, world: SimWorld, key: str = "probe"):
        self.spec: ProbeSpec = getattr(world.model.instruments, key)
        self.surface = world.model.sample.surface
        if self.surface is None:
            raise ValueError(f"instruments.{key} is a probe but the world has no sample.surface")
        start = self.spec.initial_position
        moved = world.sample_displacement(world.clock())
        below = float(surface_height(self.surface, start.x, start.y, moved)) - start.z
        if below >= 0:
            raise ValueError(f"instruments.{key}.initial_position.z = {start.z:g} m is "
                             f"{below:g} m below sample.surface")
        super().__init__(world, key)
        c = self.constraints
        travel = min(c.position_max[a] - c.position_min[a] for a in LATERAL)
        self._step = min(feature_size(self.surface), travel / 1000) / SAMPLES_PER_FEATURE
        self._mode = c.feedback_modes[0]
        self._setpoints = {mode: _middle(*c.setpoint_range[mode], mode)
                           for mode in c.feedback_modes}
        self._leapfrog = 0.0
        self._loop: _Loop | None = None
        self._engage_at: float | None = None  # when a landing hands z to the loop
        self._hop: _Hop | None = None
        self._note = ""  # outcome of the last approach that found no surface

    @staticmethod
    def _constraints(spec: ProbeSpec) -> ScannerConstraints:
        base = SimScanner._constraints(spec)
        modes = spec.feedback_modes
        return ScannerConstraints(
            **{k: getattr(base, k) for k in ("position_min", "position_max", "max_velocity",
                                             "max_acceleration", "settle_time")},
            feedback_modes=modes,
            setpoint_range={mode: spec.setpoint_range(mode) for mode in modes},
            max_leapfrog_height=spec.max_leapfrog_height,
            approach_velocity=spec.approach_velocity,
            feedback_time_constant=spec.feedback_time_constant,
        )

    # --- the physics the loop and the tunnel current share ---------------------------------

    def _height(self, x, y, t) -> np.ndarray:
        """Surface height under commanded (x, y) at times t, the sample where it has moved."""
        return surface_height(self.surface, x, y, self.world.sample_displacement(t))

    def _offset(self, axis: str, t: float) -> float:
        """Offset the drift compensation has added to `axis`'s piezo at time t (m)."""
        return float(self.world.drift_compensation.at(t)[AXES.index(axis)])

    def _travel(self, axis: str, t: float) -> tuple[float, float]:
        """The piezo's travel of `axis` in the commanded frame at time t: less the offset."""
        c, offset = self.constraints, self._offset(axis, t)
        return c.position_min[axis] - offset, c.position_max[axis] - offset

    def _bias(self) -> float:
        """Bias of the junction: the simulated preamplifier's, or its section's initial one."""
        readout = self.world.links.tunnel_current
        if readout is not None:
            return float(readout.bias())
        spec = self.world.model.instruments.tunnel_current
        return spec.initial_bias if spec is not None else 0.0

    def _gap(self, mode: str, setpoint: float, bias: float) -> float:
        """The gap (m) at which the junction signal of `mode` equals `setpoint`."""
        if mode == "current":
            s = self.surface
            return gap_for_current(setpoint, bias, s.contact_conductance, s.tunnel_decay)
        fork = self.spec.fork
        if mode == "frequency_shift":
            return gap_for_frequency_shift(setpoint, fork.frequency_shift_contact,
                                           fork.decay_length)
        return gap_for_amplitude(setpoint, fork.free_amplitude)

    def _setpoint_gap(self) -> float:
        return self._gap(self._mode, self._setpoints[self._mode], self._bias())

    def _required_gap(self, what: str, bias: float | None = None) -> float:
        """The setpoint's gap, refused (CRASH) when the loop would hold the tip in the surface."""
        bias = self._bias() if bias is None else bias
        mode, setpoint = self._mode, self._setpoints[self._mode]
        gap = self._gap(mode, setpoint, bias)
        if gap > 0:
            return gap
        if mode == "current" and bias == 0:
            raise Refused("CRASH", f"{what}: at bias 0 V there is no tunnel current; the "
                                   f"current feedback would drive the tip into the surface")
        raise Refused("CRASH", f"{what}: the {mode} setpoint {setpoint:g} "
                               f"{FEEDBACK_UNITS[mode]} at bias {bias:g} V is reached only at "
                               f"a gap of {gap:.3g} m, in contact with the surface")

    # --- simulating the tip along planned paths ---------------------------------------------

    def _grid(self, paths: dict[str, Trajectory], t0: float, t1: float,
              extra: tuple[float, ...] = ()) -> np.ndarray:
        """Times at which to follow the tip over [t0, t1]: fine where it moves over the surface."""
        drift = max(float(np.hypot(*self.world.sample_velocity(t)[:2])) for t in (t0, t1))
        idle = min(MAX_IDLE_STEP, self._step / drift) if drift > 0 else MAX_IDLE_STEP
        pieces = [np.linspace(t0, t1, int(np.ceil((t1 - t0) / idle)) + 1), np.array(extra)]
        for axis in AXES:
            p = paths[axis]
            marks = np.append(p.starts, p.end)
            pieces.append(marks[(marks > t0) & (marks < t1)])
            if axis in LATERAL and p.starts.size and p.starts[0] < t1 and p.end > t0:
                a, b = max(t0, float(p.starts[0])), min(t1, p.end)
                n = min(np.ceil((b - a) * np.max(np.abs(p.velocities)) / self._step), MAX_SAMPLES)
                pieces.append(np.linspace(a, b, int(n) + 1))
        grid = np.unique(np.concatenate(pieces))
        return grid[(grid >= t0) & (grid <= t1)]

    def _follow(self, times: np.ndarray, heights: np.ndarray, z0: float, gap: float):
        """z of the loop over `times`, saturating where the piezo (with the drift compensation's
        offset at the last time) reaches the end of its travel."""
        low, high = self._travel("z", float(times[-1]))
        return follow(times, heights + gap, z0, self.constraints.feedback_time_constant, low, high)

    def _path(self, paths: dict[str, Trajectory], t0: float, t1: float, gap: float,
              loop_z0: float | None = None, engage: float | None = None):
        """times, x, y, z, surface height of the tip over [t0, t1]: z from `paths`, or from the
        loop started at z = loop_z0 at t0, or from `paths` until `engage` and the loop after."""
        times = self._grid(paths, t0, t1, () if engage is None else (engage,))
        x, y = paths["x"].position(times), paths["y"].position(times)
        h = self._height(x, y, times)
        if loop_z0 is not None:
            return times, x, y, self._follow(times, h, loop_z0, gap), h
        z = paths["z"].position(times)
        if engage is not None and engage <= t1:
            k = int(np.searchsorted(times, engage))
            z[k:] = self._follow(times[k:], h[k:], z[k], gap)
        return times, x, y, z, h

    def _refuse_crash(self, what: str, paths: dict[str, Trajectory], now: float,
                      loop_z0: float | None = None, engage: float | None = None,
                      gap: float | None = None) -> None:
        """Refused("CRASH") if the tip would touch the surface on these paths."""
        end = max(now, *(p.settled for p in paths.values()))
        if loop_z0 is not None or engage is not None:
            end = max(end, engage or now) + LOOP_SETTLE * self.constraints.feedback_time_constant
            gap = self._setpoint_gap() if gap is None else gap
        times, x, y, z, h = self._path(paths, now, end, gap or 0.0, loop_z0, engage)
        k = int(np.argmin(z - h))
        if z[k] - h[k] <= 0:
            raise Refused("CRASH", f"{what} would bring the tip to z = {z[k]:.4e} m at "
                                   f"(x, y) = ({x[k]:.4e}, {y[k]:.4e}) m, where the surface is "
                                   f"at height {h[k]:.4e} m ({h[k] - z[k]:.3g} m above the tip)")

    def _update(self, now: float) -> None:
        """Bring the tip's state up to `now`: landings hand over to the loop, the loop runs."""
        if self._engage_at is not None and now >= self._engage_at:
            t, self._engage_at, self._hop = self._engage_at, None, None
            self._loop = _Loop(np.array([t]), np.array([float(self.paths["z"].position(t))]))
        if self._hop is not None and self._engage_at is None and now >= self.paths["z"].settled:
            self._hop = None
        if self._loop is not None and now > self._loop.t:
            times, _, _, z, _ = self._path(self.paths, self._loop.t, now, self._setpoint_gap(),
                                           loop_z0=self._loop.now)
            self._loop.extend(times, z)

    def _now(self) -> float:
        now = self.world.clock()
        self._update(now)
        return now

    def _z(self, now: float) -> float:
        return self._loop.now if self._loop is not None else float(self.paths["z"].position(now))

    def _z_at(self, times: np.ndarray) -> np.ndarray:
        z = self.paths["z"].position(times)
        if self._loop is not None:
            held = times >= self._loop.times[0]
            z[held] = np.interp(times[held], self._loop.times, self._loop.z)
        return z

    def _moving(self, now: float) -> list[str]:
        return [a for a in AXES if now < self.paths[a].settled
                and not (a == "z" and self._loop is not None)]

    # --- what other simulated instruments read ----------------------------------------------

    @_locked
    def tip(self, times: np.ndarray | float) -> np.ndarray:
        """Tip position (N, 3) in m at `times` (now or the recent past)."""
        times = np.atleast_1d(np.asarray(times, dtype=float))
        self._now()
        return np.stack([self.paths["x"].position(times), self.paths["y"].position(times),
                         self._z_at(times)], axis=-1)

    @_locked
    def gap(self, times: np.ndarray | float) -> np.ndarray:
        """Tip height above the surface under it (m) at `times`; <= 0 is contact."""
        tip = self.tip(times)
        return tip[:, 2] - self._height(tip[:, 0], tip[:, 1], np.atleast_1d(times))

    @_locked
    def on_bias_change(self, bias: float) -> None:
        """Called by the simulated preamplifier before its bias changes: refuses (CRASH) a bias
        at which the current feedback would hold the tip in the surface."""
        now = self._now()
        if self._mode == "current" and (self._loop is not None or self._engage_at is not None):
            gap = self._required_gap(f"bias {bias:g} V", bias)
            if self._loop is not None:
                self._refuse_crash(f"bias {bias:g} V", self.paths, now, loop_z0=self._loop.now,
                                   gap=gap)

    # --- ScannerDriver ------------------------------------------------------------------------

    @_locked
    def position(self, axis: str) -> float:
        _check_axis(axis)
        now = self._now()
        return self._z(now) if axis == "z" else float(self.paths[axis].position(now))

    @_locked
    def target(self, axis: str) -> float:
        _check_axis(axis)
        self._now()
        return self._loop.now if axis == "z" and self._loop else self.paths[axis].final

    @_locked
    def is_moving(self, axis: str) -> bool:
        _check_axis(axis)
        return axis in self._moving(self._now())

    def _check_range(self, axis: str, position: float) -> None:
        """Refused (OUT_OF_RANGE) outside the travel, or when the drift compensation's present
        offset would take the piezo there."""
        super()._check_range(axis, position)
        offset = self._offset(axis, self.world.clock())
        low, high = self.constraints.position_min[axis], self.constraints.position_max[axis]
        if not low <= position + offset <= high:
            raise Refused("OUT_OF_RANGE", f"{axis} = {position:g} m plus the drift compensation's "
                                          f"offset of {offset:+.4g} m is {position + offset:g} m, "
                                          f"outside the piezo's travel [{low:g}, {high:g}] m")

    @_locked
    def set_drift_estimate(self, axis: str, velocity: float) -> None:
        """Apply `velocity` (m/s) to `axis`'s piezo from now on, on top of the commanded
        position: the tip follows a sample drifting at that velocity."""
        now = self._now()  # the loop so far, under the estimate it ran with
        super().set_drift_estimate(axis, velocity)
        self.world.drift_compensation.change(now, np.array([self._drift[a] for a in AXES]))

    @_locked
    def drift_compensation(self, axis: str) -> float:
        """Offset the compensation has added to `axis`'s piezo so far (m)."""
        _check_axis(axis)
        return self._offset(axis, self.world.clock())

    def load_path(self, moves) -> None:
        raise Refused("UNSUPPORTED", "a tip moves only by moves checked against the surface; "
                                     "motion programs are for the confocal stage")

    @_locked
    def move_to(self, axis: str, position: float) -> None:
        self._check_range(axis, position)
        now = self._now()
        if axis == "z":
            self._move_z(position, now)
        elif self._leapfrog > 0 or self._hop is not None:
            self._hop_to(axis, position, now)
        else:
            if self._engage_at is not None:
                raise Refused("BUSY", f"cannot move {axis} while the tip approaches the surface")
            new = {**self.paths, axis: self._move(axis, position, now)}
            z0 = self._loop.now if self._loop is not None else None
            self._refuse_crash(f"move {axis} -> {position:.4e} m", new, now, loop_z0=z0)
            self.paths[axis] = new[axis]

    def _move_z(self, position: float, now: float) -> None:
        if self._loop is not None or self._engage_at is not None:
            raise Refused("FEEDBACK_ON", "z is held by the feedback; switch it off or Retract "
                                         "before moving z")
        if self._hop is not None:
            raise Refused("BUSY", "cannot move z during a leapfrog hop")
        new = {**self.paths, "z": self._move("z", position, now)}
        self._refuse_crash(f"move z -> {position:.4e} m", new, now)
        self.paths["z"] = new["z"]
        self._note = ""

    def _hop_to(self, axis: str, position: float, now: float) -> None:
        """Leapfrog: lift, move laterally, come back down (or land on the setpoint)."""
        if self._engage_at is not None and self._hop is None:
            raise Refused("BUSY", f"cannot move {axis} while the tip approaches the surface")
        z_now, hop = self._z(now), self._hop
        if hop is None:
            top = min(z_now + self._leapfrog, self._travel("z", now)[1])
            base = None if self._loop is not None else z_now
        else:
            top, base = hop.top, hop.base
        gap = self._required_gap("leapfrog landing") if base is None else None
        lift = self._move("z", top, now, start=z_now, settle=0.0)
        new = dict(self.paths)
        new[axis] = self._move(axis, position, max(now, lift.end))
        landing = max(lift.end, *(new[a].settled for a in LATERAL))
        if base is None:
            down, engage, note = self._landing(top, landing, new["x"].final, new["y"].final, gap)
        else:
            down, engage, note = self._move("z", base, landing, start=top), None, ""
        new["z"] = lift.then(down)
        self._refuse_crash(f"leapfrog move {axis} -> {position:.4e} m (lift to z = {top:.4e} m)",
                           new, now, engage=engage, gap=gap)
        self._loop, self._engage_at, self._note = None, engage, note
        self._hop = _Hop(top, base, lift, landing)
        self.paths.update(new)

    def _landing(self, z_from: float, t0: float, x: float, y: float,
                 gap: float) -> tuple[Trajectory, float | None, str]:
        """z path at the approach velocity from z_from to the setpoint gap over (x, y), the time
        the loop takes over (None: the surface is out of reach), and a note if so."""
        c = self.constraints
        low, high = self._travel("z", t0)
        end = t0
        for _ in range(3):  # the surface drifts while the tip comes down
            h = float(self._height(x, y, end))
            goal = h + gap
            path = self._move("z", min(max(goal, low), high), t0, start=z_from,
                              velocity=c.approach_velocity, settle=0.0)
            end = path.end
        if goal < low:
            return path, None, (f"the approach reached the bottom of z travel ({low:.4e} m) "
                                f"without reaching the setpoint: the surface at {h:.4e} m is "
                                f"out of reach")
        return path, path.end, ""

    @_locked
    def stop(self) -> None:
        now = self._now()
        if self._loop is not None:
            self._stop_axes(LATERAL, now)  # the loop keeps holding z
            return
        self._stop_axes(AXES, now)
        self._engage_at, self._hop = None, None

    # --- ProbeDriver ----------------------------------------------------------------------------

    @_locked
    def retract(self) -> None:
        now = self._now()
        z_now = self._z(now)
        self._loop, self._engage_at, self._hop, self._note = None, None, None, ""
        self._stop_axes(LATERAL, now)
        self.paths["z"] = self._move("z", self._travel("z", now)[1], now, start=z_now)

    @_locked
    def approach(self) -> None:
        now = self._now()
        if self._loop is not None:
            return
        if self._engage_at is not None or self._hop is not None:
            raise Refused("BUSY", "an approach or a leapfrog hop is already under way")
        if moving := self._moving(now):
            raise Refused("BUSY", f"cannot approach while {', '.join(moving)} move; wait or Stop")
        gap = self._required_gap("Approach")
        x, y = (float(self.paths[a].position(now)) for a in LATERAL)
        path, engage, note = self._landing(self._z(now), now, x, y, gap)
        self._refuse_crash("Approach", {**self.paths, "z": path}, now, engage=engage, gap=gap)
        self.paths["z"], self._engage_at, self._note = path, engage, note

    @_locked
    def is_approaching(self) -> bool:
        self._now()
        return self._engage_at is not None

    @_locked
    def feedback(self) -> bool:
        self._now()
        return self._loop is not None

    @_locked
    def set_feedback(self, on: bool) -> None:
        now = self._now()
        if on:
            self._feedback_on(now)
        elif self._loop is not None:
            self.paths["z"], self._loop = Trajectory.rest(self._loop.now, now), None
        elif self._engage_at is not None:  # cancel the landing: stay up, or stop coming down
            hop = self._hop
            if hop is not None and now < hop.landing:
                self.paths["z"] = hop.lift
                hop.base = hop.top
            else:
                self._stop_axes(("z",), now)
                self._hop = None
            self._engage_at = None

    def _feedback_on(self, now: float) -> None:
        if self._loop is not None or self._engage_at is not None:
            return
        moving = self._moving(now)
        if self._hop is not None or moving:
            raise Refused("BUSY", "cannot switch the feedback on while the scanner moves "
                                  f"({', '.join(moving) or 'leapfrog hop'})")
        gap = self._required_gap("feedback on")
        z_now = self._z(now)
        self._refuse_crash("feedback on", self.paths, now, loop_z0=z_now, gap=gap)
        self._loop = _Loop(np.array([now]), np.array([z_now]))
        self._note = ""

    def feedback_mode(self) -> str:
        return self._mode

    def _check_mode(self, mode: str) -> None:
        if mode not in self.constraints.feedback_modes:
            raise Refused("UNSUPPORTED", f"this probe has no {mode!r} feedback; it has "
                                         f"{', '.join(self.constraints.feedback_modes)}")

    @_locked
    def set_feedback_mode(self, mode: str) -> None:
        self._check_mode(mode)
        self._now()
        if mode != self._mode and (self._loop is not None or self._engage_at is not None):
            raise Refused("FEEDBACK_ON", f"cannot switch the feedback from {self._mode} to "
                                         f"{mode} while it holds z; switch it off first")
        self._mode = mode

    def setpoint(self, mode: str) -> float:
        self._check_mode(mode)
        return self._setpoints[mode]

    @_locked
    def set_setpoint(self, mode: str, value: float) -> None:
        self._check_mode(mode)
        low, high = self.constraints.setpoint_range[mode]
        unit = FEEDBACK_UNITS[mode]
        if not low <= value <= high:
            raise Refused("OUT_OF_RANGE", f"{mode} setpoint {value:g} {unit} is outside "
                                          f"[{low:g}, {high:g}] {unit}")
        now = self._now()
        if mode == self._mode and self._engage_at is not None:
            raise Refused("BUSY", f"cannot change the {mode} setpoint while the tip lands on it")
        if mode == self._mode and self._loop is not None:
            before, self._setpoints[mode] = self._setpoints[mode], value
            try:
                gap = self._required_gap(f"{mode} setpoint {value:g} {unit}")
                self._refuse_crash(f"{mode} setpoint {value:g} {unit}", self.paths, now,
                                   loop_z0=self._loop.now, gap=gap)
            except Refused:
                self._setpoints[mode] = before
                raise
        self._setpoints[mode] = value

    def leapfrog_height(self) -> float:
        return self._leapfrog

    @_locked
    def set_leapfrog_height(self, height: float) -> None:
        limit = self.constraints.max_leapfrog_height
        if not 0.0 <= height <= limit:
            raise Refused("OUT_OF_RANGE", f"leapfrog height {height:g} m is outside "
                                          f"[0, {limit:g}] m")
        self._leapfrog = height

    @_locked
    def topography(self) -> float:
        self._now()
        if self._loop is None:
            return float("nan")
        return self._loop.now - self._setpoint_gap()

    @_locked
    def feedback_saturated(self) -> bool:
        now = self._now()
        if self._loop is None:
            return False
        x, y = (self.paths[a].position(now) for a in LATERAL)
        goal = float(self._height(x, y, now)) + self._setpoint_gap()
        low, high = self._travel("z", now)
        return not low <= goal <= high

    @_locked
    def tip_status(self) -> str:
        now = self._now()
        mode, setpoint = self._mode, self._setpoints[self._mode]
        aim = f"{mode} setpoint {setpoint:.3g} {FEEDBACK_UNITS[mode]}"
        if self._hop is not None:
            return (f"leapfrog hop: tip lifted to z = {self._hop.top:.4e} m, "
                    + ("landing on the " + aim if self._engage_at is not None else "feedback off"))
        if self._engage_at is not None:
            return f"approaching the surface: {aim}"
        if self._loop is not None:
            if self.feedback_saturated():
                return (f"feedback on ({aim}) but saturated at z = {self._loop.now:.4e} m: "
                        f"the surface is beyond the z travel")
            return f"feedback on ({aim}), topography {self.topography():.4e} m"
        if self._note:
            return self._note
        z = self._z(now)
        if z >= min(self._travel("z", now)[1], self.constraints.position_max["z"]):
            return "feedback off, tip retracted"  # where Retract put it: the top of the travel
        return f"feedback off, tip {float(self.gap(now)[0]):.3g} m above the surface"


def _middle(low: float, high: float, mode: str) -> float:
    """Default setpoint inside a range: geometric middle for currents (they span decades)."""
    return float(np.sqrt(low * high)) if mode == "current" else 0.5 * (low + high)


def open_driver(address: str) -> "SimProbe":
    """The simulated scan head of the world file at `address` (`<world>#probe`)."""
    world, spec, key = open_section(address, "probe", ProbeSpec)
    return world.driver(key, lambda: SimProbe(world, key))
