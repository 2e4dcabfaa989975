"""`nanomri analyze <file>`: the analysis a nanomri NeXus file calls for, from the macro line
that made it (its entry/title): the fit of a point measurement, the fringe period of a Ramsey
line, the FWHM of a resonant slice, the edge of a T1-contrast line, the cluster's edges on the
rows of a T1-contrast image, the NV centres of a raster.
"""

from pathlib import Path

import numpy as np

from nanomri.analysis import ferritin_image, fits, lines
from nanomri.analysis.spots import find_spots
from nanomri.nexus import read_columns, read_image, read_snapshot


def _finite(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points a scan completed (an aborted one leaves NaN)."""
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def analyze_line(path: Path, words: list[str], data: dict[str, np.ndarray]) -> list[str]:
    """An `nvline` file: its mode decides what is measured."""
    motor, mode, tau = words[1], words[5], float(words[6])
    x, y = _finite(data[motor], data["ratio"])
    if mode == "ramsey":
        pi_half = read_snapshot(path, "mw_pi_half")
        if pi_half is None:
            raise ValueError(f"{path}: no pi/2 pulse length recorded (the Ramsey phase time "
                             "counts the pulses)")
        period = lines.fringe_period(x, y)
        gradient = lines.tip_gradient(period, tau, pi_half=pi_half)
        return [f"fringe period {period.value:.4g} ± {period.error:.2g} m",
                f"tip gradient {gradient.value:.4g} ± {gradient.error:.2g} T/m "
                f"({gradient.value / 1e5:.3g} G/nm)"]
    if mode in ("cwesr", "deer"):
        width = lines.slice_fwhm(x, y)
        return [f"resonant slice FWHM {width.value:.4g} ± {width.error:.2g} m"]
    if mode == "t1":
        edge = lines.edge_width(x, y)
        bound = "" if edge.resolved else " (upper bounds: the width is not resolved)"
        return [f"edge at {edge.position:.4g} m, 10-90 % rise {edge.rise_10_90:.3g} m, "
                f"PSF FWHM {edge.psf_fwhm:.3g} m{bound}"]
    raise ValueError(f"no analysis for nvline mode {mode!r}")


def analyze_t1_image(path: Path) -> list[str]:
    """An `nvraster ... t1` file: the cluster's edges on its rows (seed 000)."""
    image, x, _ = read_image(path)
    edges = ferritin_image.row_edges(image, x)
    if not edges:
        return ["no cluster edge on any row"]
    left, right = np.array([e.position for e in edges[::2]]), np.array([e.position for e in
                                                                         edges[1::2]])
    found = [f"cluster on {len(left)} of {len(image)} rows: left edge at median "
             f"{np.median(left):.4g} m, right edge at median {np.median(right):.4g} m"]
    fit = ferritin_image.cluster_profile(image, x).fit
    for side, e in (("left", fit.left), ("right", fit.right)):
        found.append(f"{side} edge of the rows' mean: 10-90 % rise {e.rise_10_90:.3g} m"
                     + (f" ± {e.psf_fwhm_err * e.rise_10_90 / e.psf_fwhm:.2g} m" if e.resolved
                        else " at most (not resolved)"))
    return found


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
        return analyze_line(path, words, data)
    if macro == "nvraster" and len(words) > 9 and words[9] == "t1":
        return analyze_t1_image(path)
    if macro == "raster":
        image, x, y = read_image(path)
        return [f"NV centre at x {s.x:.4g} ± {s.x_err:.1g} m, y {s.y:.4g} ± {s.y_err:.1g} m"
                for s in find_spots(image, x, y)] or ["no NV centre found"]
    raise ValueError(f"{path}: no analysis for files of {macro or 'an untitled scan'!r}")
