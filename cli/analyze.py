"""`nanomri analyze <file>`: the analysis a nanomri NeXus file calls for, from the macro line
that made it (its entry/title): the fit of a point measurement, the fringe period of a Ramsey
line, the FWHM of a resonant slice, the edge of a T1-contrast line, the NV centres of a raster.
"""

from pathlib import Path

import h5py
import numpy as np

from nanomri.analysis import fits, lines
from nanomri.analysis.spots import find_spots
from nanomri.nexus import read_image
from nanomri.nv_spin import GAMMA_E


def read_columns(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """A scan file's macro line (entry/title) and its measurement columns."""
    with h5py.File(path, "r") as h5:
        title = h5["entry/title"][()]
        title = title.decode() if isinstance(title, bytes) else str(title)
        measurement = h5["entry/measurement"]
        return title, {k: measurement[k][()] for k in measurement}


def _finite(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points a scan completed (an aborted one leaves NaN)."""
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def analyze_line(words: list[str], data: dict[str, np.ndarray]) -> list[str]:
    """An `nvline` file: its mode decides what is measured."""
    motor, mode, tau = words[1], words[5], float(words[6])
    x, y = _finite(data[motor], data["ratio"])
    if mode == "ramsey":
        period = lines.fringe_period(x, y)
        gradient = lines.tip_gradient(period, tau, GAMMA_E)
        return [f"fringe period {period.value:.4g} ± {period.error:.2g} m",
                f"tip gradient {gradient.value:.4g} ± {gradient.error:.2g} T/m "
                f"({gradient.value / 1e5:.3g} G/nm)"]
    if mode in ("cwesr", "deer"):
        width = lines.slice_fwhm(x, y)
        return [f"resonant slice FWHM {width.value:.4g} ± {width.error:.2g} m"]
    if mode == "t1":
        edge = lines.edge_width(x, y)
        return [f"edge at {edge.position:.4g} m, 10-90 % rise {edge.rise_10_90:.3g} m, "
                f"PSF FWHM {edge.psf_fwhm:.3g} m"]
    raise ValueError(f"no analysis for nvline mode {mode!r}")


def analyze(path: Path) -> list[str]:
    """Lines of results for the file at `path`."""
    title, data = read_columns(path)
    words = title.split()
    macro = words[0] if words else ""
    if macro in fits.FOR_MACRO:
        fit, units = fits.FOR_MACRO[macro]
        x_name = next(k for k in data if k not in ("point_nb", "ratio", "signal", "reference"))
        result = fit(*_finite(data[x_name], data["ratio"]))
        return [f"{macro}: {result.describe(units)}"]
    if macro == "nvline":
        return analyze_line(words, data)
    if macro == "raster":
        image, x, y = read_image(path)
        return [f"NV centre at x {s.x:.4g} ± {s.x_err:.1g} m, y {s.y:.4g} ± {s.y_err:.1g} m"
                for s in find_spots(image, x, y)] or ["no NV centre found"]
    raise ValueError(f"{path}: no analysis for files of {macro or 'an untitled scan'!r}")
