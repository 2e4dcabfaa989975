"""Height of a sample surface under a scanning tip: tilted plane, Gaussian bumps, steps, drift."""

import numpy as np

from .world_sections.probe import SurfaceSpec

FOUR_LN2 = 4.0 * np.log(2.0)


def surface_height(surface: SurfaceSpec, x: np.ndarray | float, y: np.ndarray | float,
                   elapsed: np.ndarray | float = 0.0) -> np.ndarray:
    """z (m) of the surface at scan-head positions (x, y), `elapsed` seconds after the drift origin.

    The sample moves by drift * elapsed relative to the head, so the height at (x, y) is the
    undrifted height at (x - dx t, y - dy t) plus dz t.
    """
    x, y, t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, y, elapsed)))
    drift = surface.drift
    u, v = x - drift.x * t, y - drift.y * t
    z = surface.height + surface.slope.x * u + surface.slope.y * v + drift.z * t
    for bump in surface.bumps:
        r2 = (u - bump.x) ** 2 + (v - bump.y) ** 2
        z = z + bump.height * np.exp(-FOUR_LN2 * r2 / bump.fwhm**2)
    for step in surface.steps:
        s = (u - step.x) * np.cos(step.angle) + (v - step.y) * np.sin(step.angle)
        z = z + step.height * 0.5 * (1.0 + np.tanh(s / step.width))
    return z


def feature_size(surface: SurfaceSpec) -> float:
    """Shortest lateral length over which the surface changes shape (m); inf when it is a plane."""
    widths = [b.fwhm for b in surface.bumps] + [s.width for s in surface.steps]
    return min(widths, default=np.inf)
