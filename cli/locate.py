"""`nanomri locate <lock file> <spectrum file>`: the 3D offset from the NV of the dark spin in a
`freqlock ... deer` scan (its locked MW frequency the PSF map, its ratio the DEER image), with
the dark spins' line from a `deer` RF spectrum taken with the tip away (seed 001)."""

from pathlib import Path

import h5py
import numpy as np

from nanomri.analysis import fits
from nanomri.analysis import localize as lz
from nanomri.nv_spin import GAMMA_E, transition_frequency

AXES = ("tip_x", "tip_y", "tip_z")
SEARCH = 8e-9  # m per axis


def _read(path: Path) -> tuple[str, dict[str, np.ndarray], h5py.Group | None]:
    with h5py.File(path, "r") as h5:
        title = h5["entry/title"][()]
        title = title.decode() if isinstance(title, bytes) else str(title)
        columns = {k: v[()] for k, v in h5["entry/measurement"].items()}
        rf = h5.get("entry/instrument/rf/frequency")
        return title, columns, None if rf is None else float(rf[()])


def locate_files(lock: Path, spectrum: Path, search: float = SEARCH) -> lz.Location:
    """The dark spin's offset from the NV, from the two files."""
    title, columns, _ = _read(spectrum)
    if not title.startswith("deer "):
        raise ValueError(f"{spectrum}: not a deer RF spectrum ({title.split()[0]!r})")
    keep = np.isfinite(columns["rf_frequency"]) & np.isfinite(columns["ratio"])
    line = fits.odmr(columns["rf_frequency"][keep], columns["ratio"][keep])
    bias = line["centre"] / GAMMA_E  # the dark spins' g = 2 line: the field, tip away
    title, columns, rf = _read(lock)
    if not title.startswith("freqlock "):
        raise ValueError(f"{lock}: not a freqlock scan ({title.split()[0]!r})")
    if rf is None:
        raise ValueError(f"{lock}: no RF frequency recorded")
    locked = lz.grid_from_columns(columns, AXES, "mw_frequency")
    field = lz.field_from_lock(locked.values, float(transition_frequency(bias)), bias)
    image = lz.grid_from_columns(columns, AXES, "ratio")
    return lz.locate(image, lz.FieldMap(lz.Grid(locked.axes, field)), rf - line["centre"],
                     lz.lorentzian_line(line["fwhm"]), search)


def report(location: lz.Location) -> list[str]:
    nm = 1e9
    return [f"dark spin at {axis} {d * nm:+.2f} ± {e * nm:.2f} nm from the NV"
            for axis, d, e in zip("xyz", location.offset, location.error, strict=True)]
