"""One NeXus HDF5 file per scan, written point by point, flushed line by line, crash-proof.

Every dataset is created when the scan starts (NaN-filled) and the file is flushed after every
line, so a crash or a kill leaves a file that h5py, silx and nexusformat open, with every line
flushed before it. Not SWMR: its "open for writing" flag would make a killed file unreadable
until someone runs h5clear on it.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np

import nanomri

TEXT = h5py.string_dtype()
STAMP = "S40"  # fixed length, so the end stamps are written in place when the scan ends


@dataclass(frozen=True)
class Column:
    """One scalar per scan point: `key` in the records, `name` in the file."""

    key: str
    name: str
    units: str = ""


@dataclass(frozen=True)
class Raster:
    """The image geometry of a raster: slow-major points, nominal axis positions."""

    fast: str
    slow: str
    fast_positions: np.ndarray
    slow_positions: np.ndarray
    signal: str  # name of the column shown as the image
    units: str = "m"

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.slow_positions), len(self.fast_positions)


@dataclass(frozen=True)
class Instrument:
    """An instrument's settings at the start of a scan: name → (value, units)."""

    name: str
    device: str
    driver: str
    settings: Mapping[str, tuple[object, str]] = field(default_factory=dict)


def scan_path(template: str | Path, serialno: int) -> Path:
    """The file of scan `serialno`: `{serialno}` in the template is replaced by it."""
    return Path(str(template).format(serialno=serialno))


def _group(parent: h5py.Group, name: str, nx_class: str) -> h5py.Group:
    group = parent.create_group(name)
    group.attrs["NX_class"] = nx_class
    return group


def _text(group: h5py.Group, name: str, value: str) -> None:
    group.create_dataset(name, data=value, dtype=TEXT)


def _stamp(group: h5py.Group, name: str, when: datetime | None) -> None:
    group.create_dataset(name, data=np.bytes_(when.isoformat() if when else ""), dtype=STAMP)


def _setting(group: h5py.Group, name: str, value: object, units: str) -> None:
    if isinstance(value, str):
        _text(group, name, value)
    else:
        group.create_dataset(name, data=value)
    if units:
        group[name].attrs["units"] = units


class ScanFile:
    """Writer of one scan's NeXus file; `close` (or a crash) leaves it readable."""

    def __init__(self, path: str | Path, *, title: str, serialno: int, columns: list[Column],
                 npoints: int | None = None, raster: Raster | None = None,
                 instruments: Iterable[Instrument] = (), world_name: str | None = None,
                 world: str | None = None, start_time: datetime | None = None):
        self.path = Path(path)
        try:
            # no lock: silx or h5py may look at a long scan while it runs (flushed lines)
            self.h5 = h5py.File(self.path, "w-", locking=False)
        except FileExistsError:
            raise FileExistsError(f"scan file {self.path} exists; nanomri never overwrites "
                                  "data: choose another ScanFile or ScanDir") from None
        self.columns = columns
        self.raster = raster
        self.signal = next((c for c in columns if raster and c.name == raster.signal), None)
        self.h5.attrs["default"] = "entry"
        entry = _group(self.h5, "entry", "NXentry")
        entry.attrs["default"] = "data"
        _text(entry, "title", title)
        entry.create_dataset("entry_identifier", data=serialno)
        _stamp(entry, "start_time", start_time or datetime.now().astimezone())
        _stamp(entry, "end_time", None)
        _stamp(entry, "end_status", None)
        _text(entry, "program_name", "nanomri")
        entry["program_name"].attrs["version"] = nanomri.__version__
        self._write_instruments(entry, instruments)
        sample = _group(entry, "sample", "NXsample")
        if world_name is not None:
            _text(sample, "name", world_name)
        if world is not None:
            _text(sample, "world", world)
        self.measurement = _group(entry, "measurement", "NXcollection")
        for col in columns:
            ds = self.measurement.create_dataset(col.name, shape=(npoints or 0,), dtype="f8",
                                                 fillvalue=np.nan, maxshape=(None,), chunks=True)
            if col.units:
                ds.attrs["units"] = col.units
        self._write_nxdata(entry)
        self.entry = entry
        self.h5.flush()

    def _write_instruments(self, entry: h5py.Group, instruments: Iterable[Instrument]) -> None:
        group = _group(entry, "instrument", "NXinstrument")
        for inst in instruments:
            coll = _group(group, inst.name, "NXcollection")
            _text(coll, "tango_device", inst.device)
            _text(coll, "driver", inst.driver)
            for name, (value, units) in inst.settings.items():
                _setting(coll, name, value, units)

    def _write_nxdata(self, entry: h5py.Group) -> None:
        data = _group(entry, "data", "NXdata")
        r = self.raster
        if r is None:
            counters = [c for c in self.columns if c.name not in ("point_nb", "timestamp")]
            if counters:
                data.attrs["signal"] = counters[-1].name
                data[counters[-1].name] = self.measurement[counters[-1].name]
            if len(counters) > 1:
                data.attrs["axes"] = [counters[0].name]
                data[counters[0].name] = self.measurement[counters[0].name]
            return
        image = data.create_dataset(r.signal, shape=r.shape, dtype="f8", fillvalue=np.nan,
                                    chunks=(1, r.shape[1]))
        image.attrs["long_name"] = f"{r.signal} per pixel"
        for axis, positions in ((r.slow, r.slow_positions), (r.fast, r.fast_positions)):
            data.create_dataset(axis, data=np.asarray(positions, dtype=float))
            data[axis].attrs["units"] = r.units
        data.attrs["signal"] = r.signal
        data.attrs["axes"] = [r.slow, r.fast]
        data.attrs[f"{r.slow}_indices"] = 0
        data.attrs[f"{r.fast}_indices"] = 1
        self.image = image

    def write_point(self, index: int, values: Mapping[str, object]) -> None:
        """Store scan point `index`; flush when a raster line (or a plain point) completes."""
        for col in self.columns:
            ds = self.measurement[col.name]
            if index >= ds.shape[0]:  # a scan of unknown length grows point by point
                ds.resize((index + 1,))
            value = values.get(col.key)
            if value is not None:
                ds[index] = float(value)
        if self.raster is None:
            self.h5.flush()
            return
        row, column = divmod(index, self.raster.shape[1])
        value = values.get(self.signal.key)
        if value is not None:
            self.image[row, column] = float(value)
        if column == self.raster.shape[1] - 1:
            self.h5.flush()

    def close(self, status: str = "Normal", end_time: datetime | None = None) -> None:
        """Stamp the end and how the scan ended (Normal, Abort, Stop, Exception), and close."""
        if not self.h5:
            return
        when = end_time or datetime.now().astimezone()
        self.entry["end_time"][()] = np.bytes_(when.isoformat())
        self.entry["end_status"][()] = np.bytes_(status)
        self.h5.flush()
        self.h5.close()


def read_image(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The default NXdata image of a raster file, with its fast (x) and slow (y) axes."""
    with h5py.File(path, "r") as h5:
        entry = h5[h5.attrs.get("default", "entry")]
        data = entry[entry.attrs["default"]]
        slow, fast = (str(a) for a in data.attrs["axes"])
        return data[data.attrs["signal"]][()], data[fast][()], data[slow][()]
