"""Confocal NV fluorescence: the detected count rate at scanner positions, from the world."""

import numpy as np

from .world import Optics

FOUR_LN2 = 4.0 * np.log(2.0)


def psf(offsets: np.ndarray, fwhm_lateral: float, fwhm_axial: float) -> np.ndarray:
    """Confocal point-spread function, a 3-D Gaussian normalised to 1 at its centre.

    offsets: (..., 3) displacements from the focus (m). Gaussian of given FWHM: exp(-4 ln2 r²/w²).
    """
    lateral = (offsets[..., 0] ** 2 + offsets[..., 1] ** 2) / fwhm_lateral**2
    axial = offsets[..., 2] ** 2 / fwhm_axial**2
    return np.exp(-FOUR_LN2 * (lateral + axial))


def saturation(power: np.ndarray | float, saturation_power: float) -> np.ndarray:
    """Fraction of its saturated emission an NV gives: s/(1+s), s = P/P_sat (two-level system)."""
    s = np.asarray(power, dtype=float) / saturation_power
    return s / (1.0 + s)


def dead_time_loss(rate: np.ndarray, dead_time: float) -> np.ndarray:
    """Rate a non-paralysable detector reports for a true rate: m = n / (1 + n tau_d)."""
    return rate / (1.0 + rate * dead_time)


def detected_rate(focus: np.ndarray, nv_centres: np.ndarray, power: np.ndarray | float,
                  optics: Optics, brightness: np.ndarray | None = None) -> np.ndarray:
    """Counts/s the APD reports with the focus at `focus` (N, 3) and the laser at `power` (W).

    power is a scalar or (N,) so that a gate can follow the laser's history; `brightness`
    (N, NV centres) scales each centre's fluorescence by its spin state (1: ms=0).
    """
    focus = np.atleast_2d(focus)
    offsets = focus[:, None, :] - np.asarray(nv_centres)[None, :, :]
    weights = psf(offsets, optics.psf_fwhm_lateral, optics.psf_fwhm_axial)
    overlap = (weights if brightness is None else weights * brightness).sum(axis=1)
    power = np.broadcast_to(np.asarray(power, dtype=float), overlap.shape)
    fluorescence = optics.nv_saturation_rate * saturation(power, optics.nv_saturation_power)
    rate = overlap * fluorescence + optics.background_rate_per_watt * power
    return dead_time_loss(rate, optics.detector_dead_time) + optics.dark_count_rate
