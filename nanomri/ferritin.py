"""Ferritin's iron as magnetic noise on the NV: the field variance of its cores, the T1 it
gives, and clusters of cores in a cell section (seed 000)."""

import numpy as np

from .magnetic_tip import MU0_OVER_4PI
from .nv_spin import GAMMA_E, ZERO_FIELD_SPLITTING

BOHR_MAGNETON = 9.2740100783e-24  # J/T
FE3_SPIN = 2.5  # Fe3+, S = 5/2, g = 2
GRID_POINTS = 9  # per diameter, of the cubic grid that averages over a core's volume
EXPANDED_BEYOND = 3.0  # diameters from the NV beyond which a core's mean is expanded


def _core_points(diameter: float) -> np.ndarray:
    """(k, 3) offsets of a cubic grid filling a sphere of `diameter`, evenly weighted."""
    axis = (np.arange(GRID_POINTS) + 0.5) / GRID_POINTS - 0.5
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    return grid[np.linalg.norm(grid, axis=-1) <= 0.5] * diameter


def _per_spin(r: np.ndarray, nv_axis: np.ndarray, radius: float = 0.0) -> np.ndarray:
    """B_perp^2 per c of a spin at `r` (..., 3) from the NV, (5 - 3 cos^2 theta) / r^6, or
    its mean over a ball of `radius` there to second order: f + radius^2/10 Laplacian(f),
    the Laplacian being (144 - 72 cos^2 theta) / r^8 (mean-value expansion of a ball)."""
    distance2 = np.sum(r**2, axis=-1)
    cos2 = (r @ nv_axis) ** 2 / distance2
    return (5 - 3 * cos2) / distance2**3 + radius**2 / 10 * (144 - 72 * cos2) / distance2**4


def transverse_variance(relative: np.ndarray, nv_axis: np.ndarray, spins: float,
                        diameter: float, fraction: float) -> np.ndarray:
    """<B_perp^2> (T^2) at the NV from cores centred at `relative` (..., k, 3) from it, summed
    over cores: `spins` uncorrelated Fe3+ spread over each core, each a dipole of variance
    (g mu_B)^2 S(S+1)/3 per axis, of which an antiferromagnetic core keeps `fraction`; a
    dipole at r gives |B|^2 = 6 c/r^6 and B_n^2 = (1 + 3 cos^2 theta) c/r^6. A core is
    averaged over a grid of its volume up to `EXPANDED_BEYOND` diameters from the NV, beyond
    by the ball's second-order mean (within 1 % there, better farther)."""
    per_axis = fraction * (2 * BOHR_MAGNETON) ** 2 * FE3_SPIN * (FE3_SPIN + 1) / 3
    c = MU0_OVER_4PI**2 * per_axis
    r = np.asarray(relative, dtype=float)
    per_core = _per_spin(r, nv_axis, diameter / 2)
    near = np.sum(r**2, axis=-1) < (EXPANDED_BEYOND * diameter) ** 2
    if near.any():
        spread = r[near][:, None, :] + _core_points(diameter)
        per_core[near] = _per_spin(spread, nv_axis).mean(axis=-1)
    return spins * c * per_core.sum(axis=-1)


def relaxation_rate(variance: np.ndarray, correlation_time: float,
                    transition: float = ZERO_FIELD_SPLITTING) -> np.ndarray:
    """1/T1 (1/s) a Lorentzian field noise of transverse variance `variance` (T^2) and
    correlation time tau_c adds: 3 gamma^2 <B_perp^2> tau_c / (1 + omega0^2 tau_c^2)
    (Redfield relaxation by a Lorentzian noise spectrum)."""
    gamma = 2 * np.pi * GAMMA_E  # rad/s/T
    omega = 2 * np.pi * transition
    return 3 * gamma**2 * variance * correlation_time / (1 + (omega * correlation_time) ** 2)


def cluster(centre: tuple[float, float], size: tuple[float, float], cores: int,
            depth: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """(cores, 3) ferritin centres of a cluster in a section: x, y uniform in an ellipse of
    `size` (full axes, m) around `centre`, and the depth below the section's surface (m,
    positive), uniform in `depth`."""
    r = np.sqrt(rng.uniform(size=cores))
    phi = rng.uniform(0, 2 * np.pi, size=cores)
    x = centre[0] + 0.5 * size[0] * r * np.cos(phi)
    y = centre[1] + 0.5 * size[1] * r * np.sin(phi)
    return np.stack([x, y, rng.uniform(*depth, size=cores)], axis=-1)
