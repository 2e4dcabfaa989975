"""Refocusing the confocal spot on the sensor NV, as a physicist does by hand and Qudi's
optimizer does: a line of timed counts through the present focus along x, y and z in turn,
and a move to each line's fitted peak. Long NV scans do it periodically against drift."""

from collections.abc import Callable, Mapping

import numpy as np

from nanomri.analysis import fits, lines
from nanomri.interfaces.laser import LaserMode

from .sequence_runner import SequenceRunner

AXES = ("x", "y", "z")
SPANS = {"x": 0.6e-6, "y": 0.6e-6, "z": 2.0e-6}  # m: two PSF widths (300 nm, 900 nm axial)
POINTS = 21
DWELL = 0.02  # s of counts per point


def refocus(focus: dict[str, float], move: Callable[[str, float], None],
            count: Callable[[], float], spans: Mapping[str, float] = SPANS,
            points: int = POINTS) -> dict[str, fits.Measured]:
    """Peak of the counts along each axis through `focus` (updated in place), the focus moved
    there. An axis without a peak puts the focus back where it was and raises ValueError."""
    found = {}
    for axis in AXES:
        start = focus[axis]
        line = start + np.linspace(-spans[axis] / 2, spans[axis] / 2, points)
        counts = []
        for position in line:
            move(axis, float(position))
            counts.append(count())
        try:
            peak = lines.peak_centre(line, np.array(counts))
        except ValueError as exc:
            move(axis, start)
            raise ValueError(f"no NV along {axis} within {spans[axis] / 2:.2g} m of "
                             f"{start:.6g} m ({exc}): the focus is left where it was") from exc
        move(axis, peak.value)
        focus[axis], found[axis] = peak.value, peak
    return found


def refocus_with(macro, runner: SequenceRunner, dwell: float = DWELL) -> None:
    """Refocus from within a macro with the scanner's motors `x`, `y`, `z`; the laser CW and
    emitting meanwhile, then as it was (gated by the sequencer or CW, emitting or blanked)."""
    motors = {axis: macro.getMoveable(axis) for axis in AXES}
    where = {axis: motors[axis].getPosition() for axis in AXES}
    laser = runner.dev["laser"]
    mode, emission = int(laser.mode), bool(laser.emission)
    laser.mode, laser.emission = int(LaserMode.CW), True
    try:
        found = refocus(where, lambda axis, p: motors[axis].move(p),
                        lambda: (macro.checkPoint(), runner.count(dwell))[1])
    finally:
        laser.mode, laser.emission = mode, emission
    macro.output("refocused: " + ", ".join(f"{axis} {m.value:.6g} ± {m.error:.1g} m"
                                           for axis, m in found.items()))
