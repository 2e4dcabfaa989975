"""`nanomri locate <lock file> <spectrum file> [--map <file>]`: the 3D offset from the NV of the
dark spin in a `freqlock ... deer` scan (its ratio the DEER image, its locked MW frequency the
PSF map unless a `freqlock` map of a larger volume is given), with the dark spins' line from a
`deer` RF spectrum taken with the tip away (seed 001)."""

from pathlib import Path

import h5py
import numpy as np

from nanomri.analysis import fits
from nanomri.analysis import localize as lz
from nanomri.nv_spin import GAMMA_E, transition_frequency

from .analyze import read_columns

AXES = ("tip_x", "tip_y", "tip_z")
SEARCH = 8e-9  # m per axis


def _rf_frequency(path: Path) -> float | None:
    """The RF frequency recorded in a scan file's instrument settings (Hz)."""
    with h5py.File(path, "r") as h5:
        rf = h5.get("entry/instrument/rf/frequency")
        return None if rf is None else float(rf[()])


def _freqlock(path: Path) -> dict[str, np.ndarray]:
    title, columns = read_columns(path)
    if not title.startswith("freqlock "):
        raise ValueError(f"{path}: not a freqlock scan ({title.split()[0]!r})")
    return columns


def locate_files(lock: Path, spectrum: Path, search: float = SEARCH,
                 field_map: Path | None = None) -> lz.Location:
    """The dark spin's offset from the NV, from the two files; the PSF from the locked
    frequencies of `field_map` (a `freqlock` scan over a volume around the NV) if given, else
    from those of the DEER scan itself."""
    title, columns = read_columns(spectrum)
    if not title.startswith("deer "):
        raise ValueError(f"{spectrum}: not a deer RF spectrum ({title.split()[0]!r})")
    keep = np.isfinite(columns["rf_frequency"]) & np.isfinite(columns["ratio"])
    line = fits.odmr(columns["rf_frequency"][keep], columns["ratio"][keep])
    bias = line["centre"] / GAMMA_E  # the dark spins' g = 2 line: the field, tip away
    columns = _freqlock(lock)
    rf = _rf_frequency(lock)
    if rf is None:
        raise ValueError(f"{lock}: no RF frequency recorded")
    locked = lz.grid_from_columns(columns if field_map is None else _freqlock(field_map), AXES,
                                  "mw_frequency")
    field = lz.field_from_lock(locked.values, float(transition_frequency(bias)), bias)
    image = lz.grid_from_columns(columns, AXES, "ratio", missing_ok=True)  # lost locks: NaN
    return lz.locate(image, lz.FieldMap(lz.Grid(locked.axes, field)), rf - line["centre"],
                     lz.lorentzian_line(line["fwhm"]), search)


def report(location: lz.Location) -> list[str]:
    nm = 1e9
    return [f"dark spin at {axis} {d * nm:+.2f} ± {e * nm:.2f} nm from the NV"
            for axis, d, e in zip("xyz", location.offset, location.error, strict=True)]
