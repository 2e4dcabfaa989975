"""Seed 000's reading of a T1-contrast image of ferritin: the magnetic noise a shortened T1
means, how far the core that makes it lies, the point-spread function of one core there, and
the edges of the cluster along the image's rows and on their mean."""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.optimize import brentq

from nanomri import ferritin
from nanomri.nv_spin import ZERO_FIELD_SPLITTING

from . import fits
from .lines import SMOOTHING, Edge, Plateau, plateau_fit

NV_AXIS = np.array([0.0, 0.0, 1.0])  # the image's z: the NV's axis normal to the surface
FARTHEST = 200e-9  # m: cores farther give too little noise to be the one measured
PSF_REACH = 10  # distances of the core from the NV over which its PSF is taken: beyond, nil
PSF_SAMPLES = 1001  # points of the PSF along each axis of the edge worked out from it (0.01 %)


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
    x = np.linspace(0.0, PSF_REACH * distance, 20001)
    profile = psf(x, distance, tau, t1_without, model)
    return 2 * float(x[np.argmax(profile < profile[0] / 2)])


def edge_rise(distance: float, tau: float, t1_without: float,
              model: CoreModel = SEED_000) -> float:
    """10-90 % rise (m) of a straight edge of a layer of cores `distance` above the NV as the
    image shows it: the edge blurred by `psf` in two dimensions, the integral of its line
    spread function. The PSF falls off as a power of the distance, not as a Gaussian: the
    rise is longer than a Gaussian of the same FWHM gives (1.09 FWHM), ~1.3 FWHM at 9 nm."""
    r = np.linspace(0.0, PSF_REACH * distance, PSF_SAMPLES)
    radial = psf(r, distance, tau, t1_without, model)
    # the line spread function at x >= 0: the PSF integrated along the edge (y)
    line = np.trapezoid(np.interp(np.hypot(r[:, None], r[None, :]), r, radial, right=0.0),
                        r, axis=1)
    # the edge, symmetric about its middle: 1/2 + its share of the line spread up to x
    share = np.concatenate([[0.0], np.cumsum((line[1:] + line[:-1]) / 2 * np.diff(r))])
    edge = 0.5 + 0.5 * share / share[-1]
    return 2 * float(np.interp(0.9, edge, r))


def row_edges(image: np.ndarray, x: np.ndarray) -> list[Edge]:
    """The left and right edges of the cluster on every row of `image` (rows along `x`) that
    a plateau fits; rows with no significant cluster are left out. A single row places an
    edge but rarely resolves its width (see `cluster_profile` for that)."""
    edges = []
    for row in np.asarray(image, dtype=float):
        keep = np.isfinite(row)
        try:
            fit = plateau_fit(x[keep], row[keep])
        except ValueError:
            continue
        edges += [fit.left, fit.right]
    return edges


@dataclass(frozen=True)
class ClusterProfile:
    """The cluster's cross-section along the image's rows: which rows cross it, their mean
    and the plateau fitted to it, whose edges tell how sharp the image shows the cluster's
    edges (a width the mean does not resolve is an upper bound: see `lines.Edge`)."""

    rows: np.ndarray  # indices of the rows averaged
    profile: np.ndarray  # their mean along x (NaN where none is finite)
    fit: Plateau


def _mean(image: np.ndarray, axis: int) -> np.ndarray:
    """Mean of the finite pixels along `axis`; NaN where there is none (a scan aborted)."""
    finite = np.isfinite(image)
    counts = finite.sum(axis)
    sums = np.where(finite, image, 0.0).sum(axis)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _half_extent(profile: np.ndarray, background: float) -> slice:
    """From the first to the last point where the profile, smoothed, is more than half its
    largest excursion from `background` away from it, that way: where a cluster's plateau is
    above half its height, between the edges a plateau fit would place."""
    filled = np.where(np.isfinite(profile), profile, background)
    excursion = ndimage.gaussian_filter1d(filled - background, SMOOTHING, mode="nearest")
    inside = np.flatnonzero(excursion / excursion[np.argmax(np.abs(excursion))] > 0.5)
    return slice(int(inside[0]), int(inside[-1]) + 1)


def crossing_rows(image: np.ndarray) -> np.ndarray:
    """Indices of the rows of `image` that cross the cluster: the cluster's columns are where
    the mean of all rows is more than half its excursion from the level at the image's left
    and right ends (the background), and the rows those where the mean over these columns is.
    From means, not single rows: a row too noisy to show the cluster still crosses it."""
    image = np.asarray(image, dtype=float)
    across = _mean(image, axis=0)
    ends = max(len(across) // 10, 3)
    background = float(np.nanmedian(np.concatenate([across[:ends], across[-ends:]])))
    columns = _half_extent(across, background)
    return np.arange(len(image))[_half_extent(_mean(image[:, columns], axis=1), background)]


def cluster_profile(image: np.ndarray, x: np.ndarray) -> ClusterProfile:
    """The mean of the rows of `image` that cross the cluster and the plateau fitted to it:
    the edges' widths with errors from the fit, as sharp as the rows' noise allows to tell
    (single rows rarely can). The mean blurs the edges also by how far their places wander
    from row to row, so its width bounds the image's resolution from above; for a straight
    edge it is the resolution's (`edge_rise`)."""
    image = np.asarray(image, dtype=float)
    rows = crossing_rows(image)
    profile = _mean(image[rows], axis=0)
    keep = np.isfinite(profile)
    return ClusterProfile(rows, profile, plateau_fit(x[keep], profile[keep]))
