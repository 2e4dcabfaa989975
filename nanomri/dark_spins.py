"""Dark electron spins (g = 2, S = 1/2, unpolarised) near the NV: their coupling to it, the RF
flips a DEER sequence gives those in the tip's resonant slice, and the NV coherence they leave.

Each dark spin is +1/2 or -1/2 at random in each repetition and shifts the NV's transition by
a s; an RF pulse flips it with the probability of its Rabi formula. The NV's coherence, in the
toggling frame of its MW pulses, gains phase 2 pi a (s Y_before - s Y_after) if the spin was
flipped between the two parts of the free time, 2 pi a s Y if not; averaged over s = +-1/2,
each spin leaves a factor of cosines. Quantum projection noise: two values of s, not a
continuum, so one spin gives full-depth oscillations (seed 001, Fig. 4a).
"""

import itertools

import numpy as np

from .magnetic_tip import MU0_OVER_4PI
from .nv_spin import GAMMA_E, Block

PLANCK = 6.62607015e-34  # J s
LINE_NODES = 12  # Gauss-Hermite nodes over a dark spin's inhomogeneous line


def coupling(relative: np.ndarray, nv_axis: np.ndarray, spin_axes: np.ndarray) -> np.ndarray:
    """Secular dipolar coupling (Hz) of the NV (axis n) and g = 2 spins quantised along m at
    `relative` (..., 3) from it: mu0/4pi h gamma_e^2 [n.m - 3 (n.r^)(m.r^)] / r^3."""
    r = np.linalg.norm(relative, axis=-1)
    unit = relative / r[..., None]
    n_m = np.sum(spin_axes * nv_axis, axis=-1)
    n_r = unit @ nv_axis
    m_r = np.sum(spin_axes * unit, axis=-1)
    return MU0_OVER_4PI * PLANCK * GAMMA_E**2 * (n_m - 3 * n_r * m_r) / r**3


def resonance(fields: np.ndarray) -> np.ndarray:
    """Resonance frequency (Hz) of g = 2 spins in `fields` (..., 3): gamma_e |B|."""
    return GAMMA_E * np.linalg.norm(fields, axis=-1)


def flip_probability(detuning: np.ndarray, rabi: float, duration: float,
                     t2_star: float) -> np.ndarray:
    """Probability that an RF pulse flips a spin `detuning` (Hz) off resonance: the Rabi formula
    (Omega/Omega_eff)^2 sin^2(pi Omega_eff t), averaged over the spin's Gaussian line of T2*."""
    nodes, weights = np.polynomial.hermite.hermgauss(LINE_NODES)
    sigma = 1.0 / (np.sqrt(2) * np.pi * t2_star)
    d = np.asarray(detuning, dtype=float)[..., None] + np.sqrt(2) * sigma * nodes
    effective2 = rabi**2 + d**2
    p = rabi**2 / effective2 * np.sin(np.pi * np.sqrt(effective2) * duration) ** 2
    return p @ weights / np.sqrt(np.pi)


def coherence_left(block: Block, flips: list[tuple[float, np.ndarray]],
                   couplings: np.ndarray) -> np.ndarray:
    """(pixels,) factor of the NV coherence after `block`, from spins of `couplings` (pixels,
    spins) that RF pulses at times `flips` flip with probabilities (pixels, spins): the product
    over spins of the mean over s = +-1/2 and over flip outcomes of cos(2 pi a s Phi)."""
    cuts = [block.toggled_before(t) for t, _ in flips]
    total = block.toggled
    pieces = np.diff([0.0, *cuts, total])  # Y between successive flips
    factor = np.zeros(couplings.shape)
    for outcome in itertools.product((0, 1), repeat=len(flips)):
        weight = np.ones(couplings.shape)
        for flipped, (_, p) in zip(outcome, flips, strict=True):
            weight = weight * (p if flipped else 1 - p)
        signs = np.cumprod([1, *(-1 if f else 1 for f in outcome)])
        phi = float(np.dot(signs, pieces))
        factor += weight * np.cos(np.pi * couplings * phi)  # s = +-1/2: phase +-pi a Phi
    return np.prod(factor, axis=-1)


def surface_layer(density: float, height: float, radius: float,
                  rng: np.random.Generator) -> np.ndarray:
    """(k, 3) positions relative to the NV of spins of a layer `height` above it, `density`
    per m^2, out to `radius` laterally: Poisson in number, uniform in the disc."""
    count = rng.poisson(density * np.pi * radius**2)
    r = radius * np.sqrt(rng.uniform(size=count))
    phi = rng.uniform(0, 2 * np.pi, size=count)
    return np.stack([r * np.cos(phi), r * np.sin(phi), np.full(count, height)], axis=-1)
