"""The field of a magnetic tip (one or several point dipoles) and its gradient, in SI units."""

import numpy as np

MU0_OVER_4PI = 1e-7  # T m / A
GRADIENT_STEP = 1e-12  # m, central difference step of `gradient`


def dipole_field(points: np.ndarray, positions: np.ndarray, moments: np.ndarray) -> np.ndarray:
    """B (T), shape (..., 3), at `points` (..., 3) of dipoles at `positions` (k, 3) with
    `moments` (k, 3) in A m^2: B = mu0/4pi (3 r^(m.r^) - m) / r^3 (Jackson eq. 5.56)."""
    r = np.asarray(points, dtype=float)[..., None, :] - np.asarray(positions, dtype=float)
    distance = np.linalg.norm(r, axis=-1, keepdims=True)
    unit = r / distance
    m = np.asarray(moments, dtype=float)
    along = np.sum(unit * m, axis=-1, keepdims=True)
    return MU0_OVER_4PI * np.sum((3 * unit * along - m) / distance**3, axis=-2)


def gradient(points: np.ndarray, positions: np.ndarray, moments: np.ndarray,
             axis: np.ndarray) -> np.ndarray:
    """d(B . axis)/d(x, y, z) in T/m, shape (..., 3): how fast the field a spin quantised
    along `axis` feels changes as the tip moves (with the opposite sign)."""
    axis = np.asarray(axis, dtype=float)
    points = np.asarray(points, dtype=float)
    out = np.empty(points.shape)
    for i in range(3):
        step = np.zeros(3)
        step[i] = GRADIENT_STEP
        ahead = dipole_field(points + step, positions, moments) @ axis
        behind = dipole_field(points - step, positions, moments) @ axis
        out[..., i] = (ahead - behind) / (2 * GRADIENT_STEP)
    return out


def unit_vector(theta: float, phi: float) -> np.ndarray:
    """The unit vector at polar angle `theta` from z and azimuth `phi` from x (rad)."""
    return np.array([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])
