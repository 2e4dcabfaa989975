"""Dark spins located in 3D from DEER images and the point-spread function (PSF) that a
frequency-lock map and a DEER spectrum give (seed 001, Figs. 1c, 3 and 4).

The frequency lock measures, at every tip position u (relative to the NV), the tip's field on
the NV axis, dB(u). A dark spin at offset d from the NV feels, with the tip at u, the field the
NV feels with the tip at u - d: its DEER image is the PSF, p(u) = line(f_RF - f0 - gamma_e
dB(u)) with the dark spin's line (centre f0, tip away) from the DEER spectrum, shifted by d.
No model of the tip: the map is interpolated (cubic) between the positions where it was
measured. `locate` finds d of one spin: a cross-correlation over pixel shifts, then a
least-squares fit. Its errors are statistical: the map holds the field's NV-axis part, the
spin feels the whole field, a bias of ~0.2 nm at 0.12 T (tests/test_localize.py).
"""

from collections.abc import Callable
from dataclasses import dataclass
from itertools import product

import numpy as np
from scipy import optimize, signal
from scipy.interpolate import RegularGridInterpolator

from nanomri.nv_spin import GAMMA_E, ZERO_FIELD_SPLITTING

Line = Callable[[np.ndarray], np.ndarray]  # dark-spin response at a detuning (Hz), 1 at peak
NM = 1e-9
SIGNIFICANCE = 8.0  # correlation x sqrt(pixels) below which an image holds no spin: noise


@dataclass(frozen=True)
class Grid:
    """Values at tip positions on a regular grid: `axes` x, y, z (m, each increasing, one point
    for a plane or line; from the NV, or the motors' positions: an offset between two grids in
    one frame is the same), `values` of shape (len(x), len(y), len(z))."""

    axes: tuple[np.ndarray, np.ndarray, np.ndarray]
    values: np.ndarray

    def __post_init__(self):
        shape = tuple(len(a) for a in self.axes)
        if np.shape(self.values) != shape:
            raise ValueError(f"values of shape {np.shape(self.values)} on axes of {shape}")
        for name, axis in zip("xyz", self.axes, strict=True):
            if len(axis) > 1 and not np.all(np.diff(axis) > 0):
                raise ValueError(f"axis {name} must increase")

    def points(self) -> np.ndarray:
        """(n, 3) tip positions, in the order of `values.ravel()`."""
        grids = np.meshgrid(*self.axes, indexing="ij")
        return np.stack([g.ravel() for g in grids], axis=-1)


def grid_from_columns(columns: dict[str, np.ndarray], axes: tuple[str, str, str],
                      value: str, missing_ok: bool = False) -> Grid:
    """The Grid of column `value` over the positions of motor columns `axes` (x, y, z) of a
    scan file (a line or plane has one position along the others); NaN where the value is
    missing if `missing_ok` (a DEER image's pixels where the lock was lost), else an error."""
    missing = [name for name in (*axes, value) if name not in columns]
    if missing:
        raise ValueError(f"the scan has no column {', '.join(missing)}")
    done = np.all([np.isfinite(columns[a]) for a in axes], axis=0)
    positions = [np.unique(columns[a][done]) for a in axes]
    values = np.full(tuple(len(p) for p in positions), np.nan)
    index = tuple(np.searchsorted(p, columns[a][done]) for p, a in zip(positions, axes,
                                                                       strict=True))
    values[index] = columns[value][done]
    if not missing_ok and not np.all(np.isfinite(values)):
        raise ValueError(f"{value} is missing at {np.sum(~np.isfinite(values))} of "
                         f"{values.size} grid points (an aborted scan, or a lost lock)")
    return Grid(tuple(positions), values)


class FieldMap:
    """The tip's field on the NV axis (T) from a frequency-lock map, between its points."""

    def __init__(self, grid: Grid):
        if min(len(a) for a in grid.axes) < 4:
            raise ValueError("a field map needs at least 4 points along x, y and z "
                             "(cubic interpolation)")
        if not np.all(np.isfinite(grid.values)):
            raise ValueError("the field map has pixels where the lock found no resonance")
        self.grid = grid
        self._interpolate = RegularGridInterpolator(grid.axes, grid.values, method="cubic",
                                                    bounds_error=False, fill_value=None)

    def at(self, points: np.ndarray) -> np.ndarray:
        """Field (T) with the tip at `points` (..., 3); NaN outside the map."""
        points = np.asarray(points, dtype=float)
        inside = np.all([(points[..., i] >= a[0]) & (points[..., i] <= a[-1])
                         for i, a in enumerate(self.grid.axes)], axis=0)
        out = np.full(points.shape[:-1], np.nan)
        out[inside] = self._interpolate(points[inside])
        return out

    def extrapolated(self, points: np.ndarray) -> np.ndarray:
        """Field (T) at `points`, continued past the map's edge (a fit's trial offsets)."""
        return self._interpolate(np.asarray(points, dtype=float))


def field_from_lock(nv_frequency: np.ndarray, far_frequency: float, bias_field: float
                    ) -> np.ndarray:
    """Tip field on the NV axis (T) from the locked NV frequency: its shift from the tip-away
    value over the slope of |D - gamma_e B| at the bias field (Doherty et al. 2013)."""
    return (np.asarray(nv_frequency, dtype=float) - far_frequency) / _lock_slope(bias_field)


def lock_from_field(field: np.ndarray, far_frequency: float, bias_field: float) -> np.ndarray:
    """The NV frequency (Hz) a lock finds where the tip adds `field` (T) on the NV axis: the
    inverse of `field_from_lock`."""
    return far_frequency + np.asarray(field, dtype=float) * _lock_slope(bias_field)


def _lock_slope(bias_field: float) -> float:
    """d|D - gamma_e B|/dB (Hz/T) at the bias field."""
    return GAMMA_E * np.sign(GAMMA_E * bias_field - ZERO_FIELD_SPLITTING)


def lorentzian_line(fwhm: float) -> Line:
    """A dark-spin line of `fwhm` (Hz), as the DEER spectrum's fit gives it."""
    half = fwhm / 2
    return lambda detuning: half**2 / (np.asarray(detuning) ** 2 + half**2)


def response(field: np.ndarray, rf_offset: float, line: Line) -> np.ndarray:
    """DEER response of a dark spin whose field from the tip is `field` (T, on the NV axis):
    its line at f_RF - f0 - gamma_e dB (seed 001, Fig. 3a). `rf_offset` = f_RF - f0."""
    return line(rf_offset - GAMMA_E * field)


def psf(field: FieldMap, tips: np.ndarray, rf_offset: float, line: Line) -> np.ndarray:
    """The response of a dark spin at the NV with the tip at `tips` (..., 3); NaN outside the
    map."""
    return response(field.at(tips), rf_offset, line)


@dataclass(frozen=True)
class Location:
    """A dark spin's offset from the NV (m) with one-sigma errors, and its DEER dip."""

    offset: np.ndarray
    error: np.ndarray
    amplitude: float
    background: float
    correlation: float  # of the image with the PSF at the offset found by the search


def _correlated(image: Grid) -> list[bool]:
    """Axes searched by cross-correlation: those of at least 4 pixels of the finest pitch.
    The others (a plane's normal, planes further apart) are searched by sampling the PSF map
    at offsets of half the finest pixel: a resonant slice is about a pixel thin."""
    pixels = [np.diff(a).mean() for a in image.axes if len(a) > 1]
    if not pixels:
        raise ValueError("the image has a single pixel")
    finest = min(pixels)
    return [len(a) >= 4 and np.diff(a).mean() <= 1.01 * finest for a in image.axes]


def _shift_steps(image: Grid, correlated: list[bool], search: np.ndarray) -> list[np.ndarray]:
    """Candidate offsets along each axis: whole pixels along a correlated axis, half of the
    finest pixel along the others."""
    finest = min(np.diff(a).mean() for a in image.axes if len(a) > 1)
    steps = []
    for axis, whole, reach in zip(image.axes, correlated, search, strict=True):
        step = np.diff(axis).mean() if whole else finest / 2
        half = int(np.ceil(reach / step))
        steps.append(step * np.arange(-half, half + 1))
    return steps


def _masked_ncc(p: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|Pearson correlation| of the image (NaN where a pixel is missing) with each window of
    `p` (NaN outside the map), over the pixels that have both, and how many those are."""
    valid = np.isfinite(p).astype(float)
    p = np.nan_to_num(p)
    ones = np.isfinite(data).astype(float)
    data = np.nan_to_num(data)

    def corr(a, b):
        return signal.correlate(a, b, mode="valid")

    n = np.maximum(corr(valid, ones), 1.0)
    s_p, s_i = corr(p, ones), corr(valid, data)
    cov = corr(p, data) - s_p * s_i / n
    var_p = corr(p**2, ones) - s_p**2 / n
    var_i = corr(valid, data**2) - s_i**2 / n
    return np.abs(cov) / np.sqrt(np.maximum(var_p * var_i, 1e-300)), n


def best_shift(image: Grid, field: FieldMap, rf_offset: float, line: Line,
               search: float | tuple[float, float, float]) -> tuple[np.ndarray, float, int]:
    """The offset (m, on the pixel grid) whose shifted PSF correlates best with the image
    (either sign), within `search` (m, per axis); that correlation, and over how many pixels:
    those whose shifted position the map covers, at least half of the image."""
    search = np.broadcast_to(np.asarray(search, dtype=float), (3,))
    correlated = _correlated(image)
    steps = _shift_steps(image, correlated, search)
    looped = [i for i in range(3) if not correlated[i]]
    data = image.values - np.nanmean(image.values)
    if not np.any(np.nan_to_num(data)):
        raise ValueError("the image is flat: no dark-spin signal to locate")
    best, best_offset, best_n = -1.0, None, 0
    for chosen in product(*(steps[i] for i in looped)):
        # the PSF on the image grid padded by the search along the correlated axes
        axes = []
        for i, axis in enumerate(image.axes):
            if i in looped:
                axes.append(axis - chosen[looped.index(i)])
            else:
                axes.append(np.concatenate([axis[0] + steps[i][steps[i] < 0], axis,
                                            axis[-1] + steps[i][steps[i] > 0]]))
        grids = np.meshgrid(*axes, indexing="ij")
        ncc, n = _masked_ncc(psf(field, np.stack(grids, axis=-1), rf_offset, line), data)
        ncc[n < np.isfinite(data).sum() / 2] = 0.0
        k = np.unravel_index(np.argmax(ncc), ncc.shape)
        if ncc[k] > best:
            offset = np.empty(3)
            for i in range(3):
                if i in looped:
                    offset[i] = chosen[looped.index(i)]
                else:  # window start k: image pixel j sees the PSF at x_j + s, offset -s
                    offset[i] = -steps[i][k[i]]
            best, best_offset, best_n = float(ncc[k]), offset, int(n[k])
    if best_n < np.isfinite(data).sum() / 2:
        raise ValueError("the field map covers less than half of the image shifted by the "
                         f"search range ({search / NM} nm): map a larger volume")
    return best_offset, best, best_n


def locate(image: Grid, field: FieldMap, rf_offset: float, line: Line,
           search: float | tuple[float, float, float] = 8e-9) -> Location:
    """The offset (m) from the NV of the one dark spin in a DEER `image`, which is
    background + amplitude * PSF(u - offset), searched within `search` per axis."""
    start, correlation, pixels = best_shift(image, field, rf_offset, line, search)
    if correlation * np.sqrt(pixels) < SIGNIFICANCE:
        raise ValueError(f"no dark-spin signal in the image: its best correlation with the "
                         f"shifted PSF, {correlation:.3f}, is that of noise")
    points = image.points()
    p0 = psf(field, points - start, rf_offset, line)
    inside = np.isfinite(p0) & np.isfinite(image.values.ravel())  # the pixels the fit uses
    tips, values, p0 = points[inside] / NM, image.values.ravel()[inside], p0[inside]

    def model(params):
        d, amplitude, background = params[:3], params[3], params[4]
        return background + amplitude * response(field.extrapolated((tips - d) * NM),
                                                 rf_offset, line)

    amplitude, background = np.polyfit(p0, values, 1)
    fit = optimize.least_squares(lambda q: model(q) - values,
                                 [*(start / NM), amplitude, background],
                                 diff_step=1e-4, x_scale=[0.1, 0.1, 0.1, abs(amplitude) or 1,
                                                          1.0])
    dof = max(values.size - fit.x.size, 1)
    variance = 2 * fit.cost / dof
    try:
        covariance = np.linalg.inv(fit.jac.T @ fit.jac) * variance
        error = np.sqrt(np.diag(covariance)[:3]) * NM
    except np.linalg.LinAlgError:
        error = np.full(3, np.inf)
    return Location(offset=fit.x[:3] * NM, error=error, amplitude=float(fit.x[3]),
                    background=float(fit.x[4]), correlation=correlation)
