"""Seed 000's reading of a T1-contrast image of ferritin: the magnetic noise a shortened T1
means, how far the core that makes it lies, the point-spread function of one core there, and
the edges of the cluster along the image's rows."""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from nanomri import ferritin
from nanomri.nv_spin import ZERO_FIELD_SPLITTING

from . import fits
from .lines import Edge, plateau_fit

NV_AXIS = np.array([0.0, 0.0, 1.0])  # the image's z: the NV's axis normal to the surface
FARTHEST = 200e-9  # m: cores farther give too little noise to be the one measured


@dataclass(frozen=True)
class CoreModel:
    """A ferritin core as seed 000 models it: `spins` Fe3+ uniform in a sphere of `diameter`,
    keeping `fraction` of their paramagnetic variance, its noise correlated over
    `correlation_time`."""

    spins: float = 4000
    diameter: float = 8e-9
    fraction: float = 0.06  # 0.02 mT^2 at ~9 nm (seed 000)
    correlation_time: float = 2.84e-10  # s: 0.01 mT^2 takes T1 from 3.3 ms to 0.1 ms (Fig. 1C)

    def variance(self, relative: np.ndarray) -> np.ndarray:
        """<B_perp^2> (T^2) at the NV of one core at each of `relative` (..., 3) from it."""
        relative = np.asarray(relative, dtype=float)[..., None, :]
        return ferritin.transverse_variance(relative, NV_AXIS, self.spins, self.diameter,
                                            self.fraction)

    def rate_per_variance(self) -> float:
        """1/T1 (1/s) per T^2 of noise: ferritin.relaxation_rate is linear in it."""
        return float(ferritin.relaxation_rate(1.0, self.correlation_time, ZERO_FIELD_SPLITTING))


SEED_000 = CoreModel()


def t1_at(ratio: float, tau: float, decay: fits.Fit) -> float:
    """T1 (s) of a pixel of a T1-contrast image at dark time `tau`, from the polarisation
    curve the NV shows without ferritin, offset + amplitude exp(-tau/T1) (`fits.decay`):
    the same sequence and laser, only the NV's T1 changed."""
    left = (ratio - decay["offset"]) / decay["amplitude"]
    if not 0 < left < 1:
        top = decay["offset"] + decay["amplitude"]
        raise ValueError(f"a ratio of {ratio:.4g} at {tau:.3g} s is outside the polarisation "
                         f"curve ({decay['offset']:.4g} to {top:.4g})")
    return -tau / np.log(left)


def noise_variance(t1: float, t1_without: float, model: CoreModel = SEED_000) -> float:
    """<B_perp^2> (T^2) of the noise that shortens the NV's T1 from `t1_without` to `t1`."""
    if not (0 < t1 < t1_without):
        raise ValueError(f"T1 with ferritin ({t1:.3g} s) must be positive and shorter than "
                         f"without ({t1_without:.3g} s)")
    return (1 / t1 - 1 / t1_without) / model.rate_per_variance()


def core_distance(variance: float, model: CoreModel = SEED_000) -> float:
    """Distance (m) straight above the NV of the one core that gives `variance` (T^2)."""
    def excess(d: float) -> float:
        return float(np.log(model.variance([0.0, 0.0, d])) - np.log(variance))

    near, far = 0.51 * model.diameter, FARTHEST
    if not variance > 0 or excess(far) > 0:
        raise ValueError(f"a noise of {variance:.3g} T^2 is too small for a core within "
                         f"{far * 1e9:.0f} nm")
    if excess(near) < 0:
        raise ValueError(f"a noise of {variance:.3g} T^2 is more than one core can give")
    return brentq(excess, near, far, xtol=1e-13)


def psf(x: np.ndarray, distance: float, tau: float, t1_without: float,
        model: CoreModel = SEED_000) -> np.ndarray:
    """The T1 contrast at dark time `tau` of one core `distance` above the NV as the scan
    moves it by `x` (m) sideways: 1 - exp(-tau Delta(1/T1)), the fraction of the NV's
    polarisation it takes, over a polarisation decay exp(-tau/T1) (seed 000, Fig. 1C)."""
    where = np.stack([np.asarray(x, dtype=float), np.zeros(np.shape(x)),
                      np.full(np.shape(x), distance)], axis=-1)
    rate = model.variance(where) * model.rate_per_variance()
    return (1 - np.exp(-tau * rate)) * np.exp(-tau / t1_without)


def psf_fwhm(distance: float, tau: float, t1_without: float,
             model: CoreModel = SEED_000) -> float:
    """FWHM (m) of `psf`: the resolution of the image of one core."""
    x = np.linspace(0.0, 10 * distance, 20001)
    profile = psf(x, distance, tau, t1_without, model)
    return 2 * float(x[np.argmax(profile < profile[0] / 2)])


def row_edges(image: np.ndarray, x: np.ndarray) -> list[Edge]:
    """The left and right edges of the cluster on every row of `image` (rows along `x`) that
    a plateau fits; rows with no significant cluster are left out."""
    edges = []
    for row in np.asarray(image, dtype=float):
        keep = np.isfinite(row)
        try:
            fit = plateau_fit(x[keep], row[keep])
        except ValueError:
            continue
        edges += [fit.left, fit.right]
    return edges
