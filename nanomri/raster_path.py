"""The motion program and pixel gates of a hardware-timed raster image.

A raster taken in hardware is one program the scanner controller plays (a list of timed moves,
as a piezo controller's wave generator holds) and one gate per pixel the pulse sequencer plays,
both timed from the same start. Planned here from the stage's limits, so that every gate opens
where the stage really is: at rest on the pixel (step) or sweeping across it at constant
velocity (continuous, the ramps kept outside the image).
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .interfaces.scanner import PathMove

MODES = ("step", "continuous", "bidirectional")


@dataclass(frozen=True)
class AxisLimits:
    """How fast an axis may move: cruise velocity (m/s) and acceleration (m/s²)."""

    velocity: float
    acceleration: float


@dataclass(frozen=True)
class RasterPlan:
    """Where the stage waits, the moves it plays, and the gate of every pixel.

    `gates` holds one (open, close) window per pixel in acquisition order, in seconds from the
    program's start; line k of a bidirectional image is acquired last pixel first when k is odd.
    `windows` holds, for sweeps, the same gates as the fast axis's positions where each opens
    and closes (the pixel's edges, in the sweep's direction), for the stage's position
    comparator: gated there, a pixel is where the stage was, whatever the start latency of the
    gates' timer or the stage's lag. A step image has none: its gates open at rest.
    """

    start: dict[str, float]
    moves: tuple[PathMove, ...]
    gates: np.ndarray
    pixels: int
    lines: int
    reversed_odd_lines: bool
    windows: np.ndarray | None = None

    @property
    def duration(self) -> float:
        """Until the last gate closes (s)."""
        return float(self.gates[-1, 1])

    def line_gates(self) -> list[np.ndarray]:
        """The gate windows of each line."""
        return np.split(self.gates, self.lines)

    def line_windows(self) -> list[np.ndarray]:
        """The position windows of each line (sweeps only)."""
        return np.split(self.windows, self.lines)


def move_time(distance: float, velocity: float, acceleration: float) -> float:
    """Duration of a trapezoidal move from rest to rest (triangular when it is too short to
    reach `velocity`): kinematics at constant acceleration."""
    distance = abs(distance)
    if distance * acceleration >= velocity**2:
        return distance / velocity + velocity / acceleration
    return 2.0 * math.sqrt(distance / acceleration)


def _pitch(positions: np.ndarray, name: str) -> float:
    steps = np.diff(positions)
    if len(steps) == 0 or not np.allclose(steps, steps[0], rtol=1e-9, atol=0):
        raise ValueError(f"{name} pixels must be evenly spaced")
    return float(steps[0])


def plan_raster(fast_axis: str, fast: np.ndarray, slow_axis: str, slow: np.ndarray,
                dwell: float, mode: str, limits: dict[str, AxisLimits], settle: float,
                first_backwards: bool = False) -> RasterPlan:
    """The program and gates of an image of `fast` × `slow` pixel positions (m, ascending);
    `first_backwards` starts a bidirectional image with a backward sweep (an odd line)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not dwell > 0:
        raise ValueError(f"a hardware-timed raster needs a dwell > 0 s, got {dwell}")
    fast, slow = np.asarray(fast, dtype=float), np.asarray(slow, dtype=float)
    pitch = _pitch(fast, "fast axis")
    if mode == "step":
        return _plan_step(fast_axis, fast, slow_axis, slow, dwell, limits, settle, pitch)
    return _plan_sweeps(fast_axis, fast, slow_axis, slow, dwell, limits, settle, pitch,
                        mode == "bidirectional", first_backwards)


def _plan_step(fast_axis, fast, slow_axis, slow, dwell, limits, settle, pitch) -> RasterPlan:
    """Count at rest on each pixel after its move has settled; fly back between lines."""
    f, s = limits[fast_axis], limits[slow_axis]
    period = dwell + move_time(pitch, f.velocity, f.acceleration) + settle
    flyback = move_time(fast[-1] - fast[0], f.velocity, f.acceleration)
    moves, gates, t = [], [], 0.0
    for k, y in enumerate(slow):
        opens = t + period * np.arange(len(fast))
        gates.append(np.column_stack([opens, opens + dwell]))
        moves += [PathMove(fast_axis, float(o) + dwell, float(x), f.velocity)
                  for o, x in zip(opens[:-1], fast[1:], strict=True)]
        if k + 1 < len(slow):
            leave = float(opens[-1]) + dwell
            step = move_time(slow[k + 1] - y, s.velocity, s.acceleration)
            moves += [PathMove(fast_axis, leave, float(fast[0]), f.velocity),
                      PathMove(slow_axis, leave, float(slow[k + 1]), s.velocity)]
            t = leave + max(flyback, step) + settle
    return RasterPlan({fast_axis: float(fast[0]), slow_axis: float(slow[0])}, tuple(moves),
                      np.concatenate(gates), len(fast), len(slow), False)


def _plan_sweeps(fast_axis, fast, slow_axis, slow, dwell, limits, settle, pitch,
                 bidirectional, first_backwards) -> RasterPlan:
    """Sweep each line at pitch/dwell, ramps outside the image, gate i centred on pixel i."""
    f, s = limits[fast_axis], limits[slow_axis]
    velocity = pitch / dwell
    if velocity > f.velocity:
        raise ValueError(f"{pitch:g} m pixels in {dwell:g} s need {velocity:g} m/s; the "
                         f"{fast_axis} axis moves at most {f.velocity:g} m/s: dwell at least "
                         f"{pitch / f.velocity:g} s")
    ramp = velocity / f.acceleration
    run_up = velocity**2 / (2 * f.acceleration)  # distance covered while accelerating
    ends = (float(fast[0] - pitch / 2 - run_up), float(fast[-1] + pitch / 2 + run_up))
    sweep = move_time(ends[1] - ends[0], velocity, f.acceleration)
    flyback = 0.0 if bidirectional else move_time(ends[1] - ends[0], f.velocity, f.acceleration)
    opens = ramp + dwell * np.arange(len(fast))
    edges = np.column_stack([fast - pitch / 2, fast + pitch / 2])
    moves, gates, windows, t = [], [], [], 0.0
    for k, y in enumerate(slow):
        backwards = bidirectional and (k + first_backwards) % 2 == 1
        moves.append(PathMove(fast_axis, t, ends[0] if backwards else ends[1], velocity))
        gates.append(np.column_stack([t + opens, t + opens + dwell]))
        windows.append(edges[::-1, ::-1] if backwards else edges)
        if k + 1 < len(slow):
            leave = t + sweep
            step = move_time(slow[k + 1] - y, s.velocity, s.acceleration)
            moves.append(PathMove(slow_axis, leave, float(slow[k + 1]), s.velocity))
            if not bidirectional:
                moves.append(PathMove(fast_axis, leave, ends[0], f.velocity))
            t = leave + max(flyback, step) + settle
    first = ends[1] if bidirectional and first_backwards else ends[0]
    return RasterPlan({fast_axis: first, slow_axis: float(slow[0])}, tuple(moves),
                      np.concatenate(gates), len(fast), len(slow), bidirectional,
                      np.concatenate(windows))


def with_approach(plan: RasterPlan, here: dict[str, float], limits: dict[str, AxisLimits],
                  settle: float) -> RasterPlan:
    """The plan started from `here` (m, at rest): the program first takes each axis to its
    start point at top speed and lets it settle, then plays the image, later by that time."""
    moves = [PathMove(axis, 0.0, target, limits[axis].velocity)
             for axis, target in plan.start.items() if here[axis] != target]
    if not moves:
        return plan
    delay = max(move_time(m.target - here[m.axis], m.velocity, limits[m.axis].acceleration)
                for m in moves) + settle
    return dataclasses.replace(plan, start=dict(here), moves=tuple(moves) + _later(plan, delay),
                               gates=plan.gates + delay)


def with_gate_lag(plan: RasterPlan, lag: float) -> RasterPlan:
    """The plan for gates whose timer starts `lag` s after the program (a sequencer started by
    the stage's motion-start output, with its start latency): every move that much later, so
    that each gate, timed from the timer's start, still falls where the plan puts the stage."""
    return dataclasses.replace(plan, moves=_later(plan, lag))


def _later(plan: RasterPlan, delay: float) -> tuple[PathMove, ...]:
    """The plan's moves `delay` s later."""
    return tuple(dataclasses.replace(m, start=m.start + delay) for m in plan.moves)
