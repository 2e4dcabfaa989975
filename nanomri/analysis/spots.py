"""Finding and localising point emitters (NV centres) in a confocal image, in metres."""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.optimize import curve_fit

MAD_TO_SIGMA = 1.4826  # robust standard deviation of Gaussian noise from the median deviation
SMOOTHING = 1.0  # pixels: sigma of the Gaussian filter of the peak search


@dataclass(frozen=True)
class Spot:
    """A fitted 2-D Gaussian spot: centre and 1-sigma errors (m), width sigma (m), peak height."""

    x: float
    y: float
    x_err: float
    y_err: float
    sigma: float
    amplitude: float


def _gaussian(coords, amplitude, x0, y0, sigma, offset):
    x, y = coords
    return offset + amplitude * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))


def noise_gain(shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Standard deviation per pixel of unit white noise after the Gaussian filter: about
    1 / (2 sqrt(pi) sigma) inside, more at the edges, whose reflection counts pixels twice."""
    rows, cols = (np.sqrt((ndimage.gaussian_filter1d(np.eye(n), sigma, axis=0) ** 2).sum(1))
                  for n in shape)
    return np.outer(rows, cols)


def significance(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The smoothed image, and by how many noise sigmas each of its pixels stands above the
    median background. The noise is the MAD of the image, which a few bright spots do not
    bias, and never below the shot noise of the background."""
    smooth = ndimage.gaussian_filter(image, SMOOTHING)
    gain = noise_gain(image.shape, SMOOTHING)
    background = float(np.median(smooth))
    noise = MAD_TO_SIGMA * float(np.median(np.abs(smooth - background) / gain))
    noise = max(noise, np.sqrt(max(background, 1.0)))
    return smooth, (smooth - background) / (noise * gain)


def candidates(image: np.ndarray, threshold: float, radius: int) -> list[tuple[int, int]]:
    """Pixels that are local maxima of the smoothed image `threshold` noise above background."""
    smooth, sigmas = significance(image)
    peaks = (ndimage.maximum_filter(smooth, size=2 * radius + 1) == smooth) & (sigmas > threshold)
    return [tuple(p) for p in np.argwhere(peaks)]


def fit_spot(image: np.ndarray, x: np.ndarray, y: np.ndarray, row: int, col: int,
             radius: int) -> Spot | None:
    """Least-squares 2-D Gaussian + offset on a window, Poisson-weighted; None if it fails."""
    rows = slice(max(row - radius, 0), row + radius + 1)
    cols = slice(max(col - radius, 0), col + radius + 1)
    window = image[rows, cols].astype(float)
    xx, yy = np.meshgrid(x[cols], y[rows])
    pixel = abs(x[1] - x[0])
    p0 = (window.max() - np.median(window), x[col], y[row], 1.5 * pixel, np.median(window))
    try:
        popt, pcov = curve_fit(_gaussian, (xx.ravel(), yy.ravel()), window.ravel(), p0=p0,
                               sigma=np.sqrt(np.maximum(window.ravel(), 1.0)), maxfev=4000)
    except (RuntimeError, ValueError):
        return None
    amplitude, x0, y0, sigma, _ = popt
    inside = xx.min() <= x0 <= xx.max() and yy.min() <= y0 <= yy.max()
    if amplitude <= 0 or not inside or not 0.2 * pixel < abs(sigma) < radius * pixel:
        return None
    errors = np.sqrt(np.diag(pcov))
    return Spot(float(x0), float(y0), float(errors[1]), float(errors[2]), float(abs(sigma)),
                float(amplitude))


def find_spots(image: np.ndarray, x: np.ndarray, y: np.ndarray, threshold: float = 6.0,
               radius: int = 3) -> list[Spot]:
    """Spots in `image` (rows along y, columns along x, positions in m), brightest first."""
    image = np.nan_to_num(np.asarray(image, dtype=float), nan=float(np.nanmedian(image)))
    spots = [fit_spot(image, x, y, r, c, radius) for r, c in candidates(image, threshold, radius)]
    return sorted((s for s in spots if s is not None), key=lambda s: -s.amplitude)


def match_spots(found: list[Spot], truth: np.ndarray,
                max_distance: float) -> list[tuple[int, Spot | None, float]]:
    """Pair each true (x, y) with the nearest unpaired spot within `max_distance` (m)."""
    free = list(found)
    pairs = []
    for i, (tx, ty) in enumerate(np.asarray(truth)[:, :2]):
        dists = [np.hypot(s.x - tx, s.y - ty) for s in free]
        j = int(np.argmin(dists)) if dists else -1
        if j >= 0 and dists[j] <= max_distance:
            pairs.append((i, free.pop(j), float(dists[j])))
        else:
            pairs.append((i, None, float("nan")))
    return pairs


def darkest(image: np.ndarray, size: int = 3) -> tuple[tuple[int, int], float]:
    """(row, column) and value of the least mean of `size` x `size` pixels of `image` (NaN
    pixels, where a measurement was lost, taken as the median): a dip found above the noise of
    single pixels."""
    filled = np.nan_to_num(image, nan=np.nanmedian(image))
    smooth = ndimage.uniform_filter(filled, size, mode="nearest")
    row, col = np.unravel_index(np.argmin(smooth), smooth.shape)
    return (int(row), int(col)), float(smooth[row, col])
