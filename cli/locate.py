"""`nanomri locate <lock file> <spectrum file> [--map <file>] [--layer]`: the 3D offset from the
NV of the dark spin in a `freqlock ... deer` scan, or with `--layer` the height over the NV of a
layer of dark spins (its ratio the DEER image, its locked MW frequency the PSF map unless a
`freqlock` map of a larger volume is given), with the dark spins' line from a `deer` RF
spectrum taken with the tip away (seed 001, Figs. 3 and 4)."""

from pathlib import Path

import numpy as np

from nanomri.analysis import fits, layer
from nanomri.analysis import localize as lz
from nanomri.nexus import read_columns, read_setting
from nanomri.nv_spin import GAMMA_E, transition_frequency

AXES = ("tip_x", "tip_y", "tip_z")
SEARCH = 8e-9  # m per axis
MIN_HEIGHT = 1e-9  # m: a layer over the NV, not through it (its coupling diverges)


def _freqlock(path: Path) -> dict[str, np.ndarray]:
    """The columns of a freqlock scan; a tip axis it did not scan (a plane, a line) at the
    probe's place recorded with the scan."""
    title, columns = read_columns(path)
    if not title.startswith("freqlock "):
        raise ValueError(f"{path}: not a freqlock scan ({title.split()[0]!r})")
    for axis in AXES:
        recorded = read_setting(path, "probe", axis[-1])
        if axis not in columns and recorded is not None:
            columns[axis] = np.full(len(columns["mw_frequency"]), recorded)
    return columns


def deer_files(lock: Path, spectrum: Path, field_map: Path | None = None
               ) -> tuple[lz.Grid, lz.FieldMap, float, lz.Line]:
    """The DEER image of a `freqlock ... deer` scan (NaN where the lock was lost), the field
    map of the locked frequencies of `field_map` (a `freqlock` scan over a volume around the
    NV) if given, else of the DEER scan's own, f_RF minus the dark spins' line and that line's
    shape from the `deer` spectrum."""
    title, columns = read_columns(spectrum)
    if not title.startswith("deer "):
        raise ValueError(f"{spectrum}: not a deer RF spectrum ({title.split()[0]!r})")
    keep = np.isfinite(columns["rf_frequency"]) & np.isfinite(columns["ratio"])
    line = fits.odmr(columns["rf_frequency"][keep], columns["ratio"][keep])
    bias = line["centre"] / GAMMA_E  # the dark spins' g = 2 line: the field, tip away
    columns = _freqlock(lock)
    rf = read_setting(lock, "rf", "frequency")
    if rf is None:
        raise ValueError(f"{lock}: no RF frequency recorded")
    locked = lz.grid_from_columns(columns if field_map is None else _freqlock(field_map), AXES,
                                  "mw_frequency")
    field = lz.field_from_lock(locked.values, float(transition_frequency(bias)), bias)
    image = lz.grid_from_columns(columns, AXES, "ratio", missing_ok=True)
    return (image, lz.FieldMap(lz.Grid(locked.axes, field)), rf - line["centre"],
            lz.lorentzian_line(line["fwhm"]))


def locate_files(lock: Path, spectrum: Path, search: float = SEARCH,
                 field_map: Path | None = None) -> lz.Location:
    """The dark spin's offset from the NV, from the files of `deer_files`."""
    return lz.locate(*deer_files(lock, spectrum, field_map), search)


def layer_files(lock: Path, spectrum: Path, field_map: Path | None = None) -> layer.LayerFit:
    """The height over the NV of a layer of dark spins, from the files of `deer_files`; the
    echo's tau is the DEER scan's (its title)."""
    title = read_columns(lock)[0].split()
    if len(title) < 9 or title[6] != "deer":
        raise ValueError(f"{lock}: not a freqlock ... deer scan ({' '.join(title[:8])})")
    return layer_in(*deer_files(lock, spectrum, field_map), float(title[7]))


def layer_in(image: lz.Grid, field: lz.FieldMap, rf_offset: float, line: lz.Line,
             tau: float) -> layer.LayerFit:
    """`layer.layer_height`, looked for at the heights whose PSF the map holds under every
    image plane, above `MIN_HEIGHT`."""
    planes, levels = image.axes[2], field.grid.axes[2]
    heights = (max(planes.max() - levels.max(), MIN_HEIGHT), planes.min() - levels.min())
    if heights[1] - heights[0] < 2e-9:
        raise ValueError(f"the map's tip heights ({levels.min():.4g} to {levels.max():.4g} m) "
                         f"must reach at least 2 nm further under the image planes' "
                         f"({planes.min():.4g} to {planes.max():.4g} m) than over them")
    return layer.layer_height(image, field, rf_offset, line, tau, heights)


def report(location: lz.Location) -> list[str]:
    nm = 1e9
    return [f"dark spin at {axis} {d * nm:+.2f} ± {e * nm:.2f} nm from the NV"
            for axis, d, e in zip("xyz", location.offset, location.error, strict=True)]


def report_layer(found: layer.LayerFit) -> list[str]:
    return [f"dark-spin layer {found.height * 1e9:.2f} ± {found.height_error * 1e9:.2f} nm above "
            f"the NV, {found.density * 1e-18:.2g} spins/nm^2 (mean field: an order of magnitude)"]
