"""The height of a layer of dark spins over the NV from a DEER image (seed 001, Fig. 3: the
surface spins 10 nm up).

A spin of the layer at x (in the layer's plane, `height` over the NV) is flipped with the tip
at u with the probability the PSF gives at u - x (`localize.response` of the frequency-lock
map); flipped, it leaves the NV's echo a factor cos(pi a 2 tau), a its dipolar coupling.
Averaged over a Poisson layer of density sigma the echo is exp(-sigma I_h(u)), with
I_h(u) = integral of p(u - x) (1 - cos(2 pi a(x) tau)) over the plane. The image is fitted by
b + c exp(-sigma I_h(u)) for each height; the height is where the residual is least, its error
where the residual has grown by one noise variance. That error is statistical: the layer's
spins sit at random places, not at their mean density, and the map's NV-axis field stands for
the spins' whole field. With the whole ring of the PSF in the image (the demo's geometry, the
map where the field is gentle) random layers came out 0.2 to 0.3 nm high; with an image
inside the ring, up to 1.9 nm low (tests/test_layer.py).
"""

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from .deconvolve import dephasing_kernel
from .localize import FieldMap, Grid, Line

PITCH = 1e-9  # m, of the grid that integrates over the layer's plane


@dataclass(frozen=True)
class LayerFit:
    """The layer's height over the NV (m) with its one-sigma error, its density (per m^2) and
    the image's background and echo contrast."""

    height: float
    height_error: float
    density: float
    background: float
    contrast: float


def decoherence(tips: np.ndarray, field: FieldMap, rf_offset: float, line: Line,
                height: float, radius: float, tau: float) -> np.ndarray:
    """I_h at each of `tips` (n, 3) (m^2: per unit density): spins of a disc of `radius` at
    `height` over the NV; where the map does not reach, the PSF is taken as zero (the map
    must cover the slice)."""
    axis = np.arange(-radius, radius + PITCH / 2, PITCH)
    x, y = np.meshgrid(axis, axis, indexing="ij")
    keep = x**2 + y**2 <= radius**2
    spins = np.stack([x[keep], y[keep], np.full(keep.sum(), height)], axis=-1)
    return dephasing_kernel(tips, field, rf_offset, line, spins, tau).sum(axis=-1) * PITCH**2


def _fit_density(values: np.ndarray, integral: np.ndarray) -> tuple[float, tuple, float]:
    """Density, (background, contrast) and residual sum of squares of b + c exp(-s I)."""
    def residual(log_density: float) -> tuple[float, np.ndarray]:
        shape = np.exp(-np.exp(log_density) * integral)
        design = np.stack([np.ones_like(shape), shape], axis=-1)
        coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
        return float(np.sum((values - design @ coefficients) ** 2)), coefficients

    scale = 1 / max(float(np.max(integral)), 1e-30)  # densities around one dip at the peak
    found = optimize.minimize_scalar(lambda q: residual(q)[0],
                                     bounds=(np.log(scale) - 7, np.log(scale) + 5),
                                     method="bounded")
    ssr, coefficients = residual(found.x)
    return float(np.exp(found.x)), tuple(coefficients), ssr


def layer_height(image: Grid, field: FieldMap, rf_offset: float, line: Line, tau: float,
                 heights: tuple[float, float], radius: float = 25e-9) -> LayerFit:
    """The height (within `heights`, m over the NV) of the layer of dark spins that best
    explains the DEER `image`, whose echo time is `tau`."""
    tips = image.points()
    values = image.values.ravel()
    keep = np.isfinite(values)
    tips, values = tips[keep], values[keep]
    if np.ptp(values) == 0:
        raise ValueError("the image is flat: no dark-spin signal")
    grid = np.linspace(*heights, int(round((heights[1] - heights[0]) / (PITCH / 2))) + 1)
    fits = [_fit_density(values, decoherence(tips, field, rf_offset, line, h, radius, tau))
            for h in grid]
    ssr = np.array([f[2] for f in fits])
    best = int(np.argmin(ssr))
    if best in (0, len(grid) - 1):
        raise ValueError(f"the best height is at the edge of {heights[0] * 1e9:.3g} to "
                         f"{heights[1] * 1e9:.3g} nm: search further")
    # a parabola through the least residual and its neighbours; the error where it has grown
    # by the noise variance (Delta chi^2 = 1)
    (ssr_lo, ssr_0, ssr_hi), step = ssr[best - 1:best + 2], grid[1] - grid[0]
    curvature = (ssr_lo - 2 * ssr_0 + ssr_hi) / step**2
    shift = (ssr_lo - ssr_hi) / (2 * curvature * step)
    variance = ssr_0 / max(len(values) - 4, 1)
    density, (background, contrast), _ = fits[best]
    return LayerFit(height=float(grid[best] + shift),
                    height_error=float(np.sqrt(2 * variance / curvature)) if curvature > 0
                    else np.inf, density=density, background=float(background),
                    contrast=float(contrast))
