"""Finding and localising point emitters (NV centres) in a confocal image, in metres."""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.optimize import curve_fit

MAD_TO_SIGMA = 1.4826  # robust standard deviation of Gaussian noise from the median deviation


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


def background_and_noise(image: np.ndarray) -> tuple[float, float]:
    """Median background and robust noise, which a few bright spots do not bias."""
    background = float(np.median(image))
    noise = MAD_TO_SIGMA * float(np.median(np.abs(image - background)))
    return background, max(noise, np.sqrt(max(background, 1.0)))  # never below shot noise


def candidates(image: np.ndarray, threshold: float, radius: int) -> list[tuple[int, int]]:
    """Pixels that are local maxima of the smoothed image `threshold` noise above background."""
    smooth = ndimage.gaussian_filter(image.astype(float), 1.0)
    background, noise = background_and_noise(smooth)
    peaks = (ndimage.maximum_filter(smooth, size=2 * radius + 1) == smooth)
    peaks &= smooth > background + threshold * noise
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


def find_spots(image: np.ndarray, x: np.ndarray, y: np.ndarray, threshold: float = 5.0,
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
