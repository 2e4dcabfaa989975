"""Height of a sample surface under a scanning tip: tilted plane, Gaussian bumps, steps, and
where the sample has moved to under the head."""

import numpy as np

from .world_sections.probe import SurfaceSpec

FOUR_LN2 = 4.0 * np.log(2.0)


def surface_height(surface: SurfaceSpec, x: np.ndarray | float, y: np.ndarray | float,
                   displacement: np.ndarray | None = None) -> np.ndarray:
    """z (m) of the surface at scan-head positions (x, y) with the sample moved by
    `displacement` (m, (..., 3) broadcast against x and y; default none) relative to the head.

    The height at (x, y) is the undisplaced height at (x - dx, y - dy) plus dz. How far the
    sample has moved (its drift, less what the head compensates) is the simulation's to say.
    """
    d = np.zeros(3) if displacement is None else np.asarray(displacement, dtype=float)
    x, y, dx, dy, dz = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float),
                                           d[..., 0], d[..., 1], d[..., 2])
    u, v = x - dx, y - dy
    z = surface.height + surface.slope.x * u + surface.slope.y * v + dz
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
