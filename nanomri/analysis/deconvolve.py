"""Deconvolution of a DEER image with the dark-spin PSF: how many dark spins sit in each voxel
around the NV (seed 001, Fig. 3d: the deconvolved image shows the spins spread in a layer).

A spin at x flipped with the tip at u (probability p(u - x), the PSF of `localize.response`
at the spin's place) leaves the NV's echo a factor cos(2 pi a(x) tau), a its dipolar
coupling. Averaged over spins of mean number n_v per voxel v (Poisson), the echo is
exp(-sum_v n_v K(u, v)), K = p (1 - cos 2 pi a tau): -ln(echo) is linear in n. The image,
ratio = background + contrast * echo, gives -ln(echo) at every pixel; n >= 0 is its
non-negative least-squares solution, each pixel weighted by its echo (the logarithm's noise
grows as 1/echo) and a ridge term keeping voxels the image cannot tell apart small.

One image plane places spins laterally on a plane of known height (e.g. the layer's, from
`layer.layer_height`); voxels of several heights need images at several tip heights (the
paper's xz scan): from one plane, far voxels trade places with near ones. The answer carries
the kernel's blind places: spins at the magic angle from the NV's axis (a = 0; ~14 nm off the
axis on a plane 10 nm up) and those whose 2 pi a tau is a multiple of 2 pi dephase nothing
and come out empty; a uniform layer deconvolves to rings around the NV (tests check means
over the region the NV feels, not single voxels).
"""

import numpy as np
from scipy import optimize

from nanomri.dark_spins import coupling

from .localize import FieldMap, Grid, Line, response

NV_AXIS = np.array([0.0, 0.0, 1.0])
ECHO_FLOOR = 0.05  # of the echo: below it a pixel says only "dephased", not by how much


def dephasing_kernel(tips: np.ndarray, field: FieldMap, rf_offset: float, line: Line,
                     spins: np.ndarray, tau: float) -> np.ndarray:
    """(tips, spins) K: a spin's flip probability with the tip at each of `tips` (the PSF
    at u - x; zero where the map does not reach) times the echo it then takes away,
    1 - cos(2 pi a tau); `spins` (n, 3) from the NV."""
    dephased = 1 - np.cos(2 * np.pi * coupling(spins, NV_AXIS, NV_AXIS) * tau)
    p = np.nan_to_num(response(field.at(tips[:, None, :] - spins[None]), rf_offset, line))
    return p * dephased


def deconvolve(image: Grid, field: FieldMap, rf_offset: float, line: Line, tau: float,
               voxels: np.ndarray, background: float, contrast: float,
               ridge: float = 1e-3) -> np.ndarray:
    """Mean number of dark spins in each of `voxels` ((n, 3) centres from the NV) that
    explains the DEER `image` (tips in the map's frame) whose echo time is `tau`;
    `background` and `contrast` take the image's ratio to the echo (e.g. a `LayerFit`'s);
    `ridge` is the weight of sum n^2 relative to the kernel's mean square column."""
    if contrast == 0:
        raise ValueError("the contrast must not be zero")
    tips, values = image.points(), image.values.ravel()
    keep = np.isfinite(values)
    echo = np.clip((values[keep] - background) / contrast, ECHO_FLOOR, 1.0)
    kernel = dephasing_kernel(tips[keep], field, rf_offset, line, voxels, tau)
    if not np.any(kernel):
        raise ValueError("no voxel is ever flipped under the image's tips: the PSF (the map) "
                         "does not reach them")
    weight = echo[:, None]
    scale = np.sqrt(ridge * np.mean(np.sum((weight * kernel) ** 2, axis=0)))
    system = np.vstack([weight * kernel, scale * np.eye(len(voxels))])
    target = np.concatenate([weight[:, 0] * -np.log(echo), np.zeros(len(voxels))])
    return optimize.lsq_linear(system, target, bounds=(0, np.inf)).x
