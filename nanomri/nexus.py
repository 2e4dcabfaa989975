"""One NeXus HDF5 file per scan, written point by point, flushed line by line, crash-proof.

Every dataset is created NaN-filled when the scan starts, its chunks allocated on disk at once,
so that writing a point afterwards changes raw data only and never the file's structure; the
file is flushed after every line. A crash or a kill therefore leaves a file that h5py, silx and
nexusformat open, with every line flushed before it, and a reader may open the file while it
is written. Not SWMR: its "open for writing" flag would make a killed file unreadable (to all
but SWMR readers) until someone runs h5clear on it.
"""

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np

import nanomri

TEXT = h5py.string_dtype()
STAMP = "S40"  # fixed length, so the end stamps are written in place when the scan ends
MOTOR, COUNTER = "motor", "counter"


@dataclass(frozen=True)
class Column:
    """One scalar per scan point: `key` in the records, `name` in the file, `kind` MOTOR,
    COUNTER or "" (point number, timestamp)."""

    key: str
    name: str
    units: str = ""
    kind: str = ""


@dataclass(frozen=True)
class Raster:
    """The image geometry of a raster: slow-major points, nominal axis positions; a
    bidirectional raster takes its odd lines from the last pixel to the first."""

    fast: str
    slow: str
    fast_positions: np.ndarray
    slow_positions: np.ndarray
    units: str = "m"
    bidirectional: bool = False

    def pixel(self, index: int) -> tuple[int, int]:
        """(row, column) of the image that scan point `index` belongs to."""
        row, k = divmod(index, len(self.fast_positions))
        reverse = self.bidirectional and row % 2
        return row, len(self.fast_positions) - 1 - k if reverse else k

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.slow_positions), len(self.fast_positions)


@dataclass(frozen=True)
class Instrument:
    """An instrument's settings at the start of a scan: name → (value, units)."""

    name: str
    device: str
    driver: str
    settings: Mapping[str, tuple[str | float | int | bool, str]] = field(default_factory=dict)


def scan_path(template: str | Path, serialno: int) -> Path:
    """The file of scan `serialno`: `{serialno}` (or Sardana's `{ScanID}`) is replaced by it."""
    return Path(str(template).format(serialno=serialno, ScanID=serialno))


def _group(parent: h5py.Group, name: str, nx_class: str) -> h5py.Group:
    group = parent.create_group(name)
    group.attrs["NX_class"] = nx_class
    return group


def _text(group: h5py.Group, name: str, value: str) -> None:
    group.create_dataset(name, data=value, dtype=TEXT)


def _stamp(group: h5py.Group, name: str, when: datetime | None) -> None:
    group.create_dataset(name, data=np.bytes_(when.isoformat() if when else ""), dtype=STAMP)


def _setting(group: h5py.Group, name: str, value: str | float | int | bool, units: str) -> None:
    if isinstance(value, str):
        _text(group, name, value)
    else:
        group.create_dataset(name, data=value)
    if units:
        group[name].attrs["units"] = units


def _nan_dataset(group: h5py.Group, name: str, shape: tuple[int, ...], chunks,
                 maxshape: tuple[int | None, ...] | None = None) -> h5py.Dataset:
    """A float dataset of NaN whose chunks are on disk now: later writes are raw data only."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)  # h5py fills it in: one per dataset
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    return group.create_dataset(name, shape=shape, dtype="f8", fillvalue=np.nan, chunks=chunks,
                                maxshape=maxshape, dcpl=dcpl)


def _exists(path: Path) -> FileExistsError:
    return FileExistsError(f"scan file {path} exists; nanomri never overwrites data: choose "
                           "another ScanFile or ScanDir")


def _publish(building: Path, path: Path) -> None:
    """Give the finished structure its real name, atomically, never replacing a file."""
    try:
        os.link(building, path)
    except FileExistsError:
        raise _exists(path) from None
    building.unlink()


def _first(columns: list[Column], kind: str) -> Column | None:
    return next((c for c in columns if c.kind == kind), None)


class ScanFile:
    """Writer of one scan's NeXus file; `close` (or a crash) leaves it readable.

    `npoints` is the length of a scan that is not a raster (None: the file grows point by
    point); a raster has the points of its image.
    """

    def __init__(self, path: str | Path, *, title: str, serialno: int, columns: list[Column],
                 npoints: int | None = None, raster: Raster | None = None,
                 instruments: Iterable[Instrument] = (), world_name: str | None = None,
                 world: str | None = None, start_time: datetime | None = None,
                 snapshot: Mapping[str, object] | None = None):
        self.path = Path(path)
        self.columns = columns
        self.raster = raster
        self.signal = _first(columns, COUNTER)
        self.image: h5py.Dataset | None = None
        self._line: dict[int, Mapping[str, object]] = {}  # points of the raster line in flight
        if self.path.exists():
            raise _exists(self.path)
        # built under a hidden name and published whole, so no reader ever opens a half-made
        # file; no lock: silx or h5py may look at a long scan while it runs (flushed lines)
        building = self.path.with_name(f".{self.path.name}.building")
        self.h5 = h5py.File(building, "w", locking=False)
        try:
            self.entry = self._write_entry(title, serialno, start_time)
            self._write_instruments(instruments)
            self._write_sample(world_name, world)
            npoints = raster.shape[0] * raster.shape[1] if raster else npoints
            self.measurement = self._write_measurement(npoints or 0)
            self._write_snapshot(snapshot or {})
            self._write_nxdata()
            self.h5.flush()
            _publish(building, self.path)
        except BaseException:  # an abort lands anywhere: leave no file handle behind
            self.h5.close()
            building.unlink(missing_ok=True)
            raise

    def _write_entry(self, title: str, serialno: int, start_time: datetime | None) -> h5py.Group:
        self.h5.attrs["default"] = "entry"
        entry = _group(self.h5, "entry", "NXentry")
        entry.attrs["default"] = "data"
        _text(entry, "title", title)
        _text(entry, "entry_identifier", str(serialno))
        _stamp(entry, "start_time", start_time or datetime.now().astimezone())
        _stamp(entry, "end_time", None)
        _stamp(entry, "end_status", None)
        _text(entry, "program_name", "nanomri")
        entry["program_name"].attrs["version"] = nanomri.__version__
        return entry

    def _write_instruments(self, instruments: Iterable[Instrument]) -> None:
        group = _group(self.entry, "instrument", "NXinstrument")
        for inst in instruments:
            coll = _group(group, inst.name, "NXcollection")
            _text(coll, "tango_device", inst.device)
            _text(coll, "driver", inst.driver)
            for name, (value, units) in inst.settings.items():
                _setting(coll, name, value, units)

    def _write_sample(self, world_name: str | None, world: str | None) -> None:
        sample = _group(self.entry, "sample", "NXsample")
        if world_name is not None:
            _text(sample, "name", world_name)
        if world is not None:
            _text(sample, "world", world)

    def _write_measurement(self, npoints: int) -> h5py.Group:
        measurement = _group(self.entry, "measurement", "NXcollection")
        for col in self.columns:
            ds = _nan_dataset(measurement, col.name, (npoints,), True, maxshape=(None,))
            if col.units:
                ds.attrs["units"] = col.units
        return measurement

    def _write_snapshot(self, snapshot: Mapping[str, object]) -> None:
        """What was read just before the scan (Sardana's PreScanSnapshot), by label, where
        Sardana's NXscanH5 puts it: measurement/pre_scan_snapshot."""
        group = _group(self.measurement, "pre_scan_snapshot", "NXcollection")
        for label, value in snapshot.items():
            _setting(group, label.replace("/", "_"), value, "")

    def _write_nxdata(self) -> None:
        data = _group(self.entry, "data", "NXdata")
        if self.signal is None:
            return
        data.attrs["signal"] = self.signal.name
        if self.raster is None:
            self._write_curve(data)
        else:
            self._write_image(data, self.raster)

    def _write_curve(self, data: h5py.Group) -> None:
        """The first counter against the first motor: links to their measurement columns."""
        data[self.signal.name] = self.measurement[self.signal.name]
        motor = _first(self.columns, MOTOR)
        if motor is not None:
            data[motor.name] = self.measurement[motor.name]
            data.attrs["axes"] = [motor.name]
            data.attrs[f"{motor.name}_indices"] = 0

    def _write_image(self, data: h5py.Group, r: Raster) -> None:
        """The first counter as an (n_slow, n_fast) image over the nominal axis positions."""
        self.image = _nan_dataset(data, self.signal.name, r.shape, (1, r.shape[1]))
        self.image.attrs["long_name"] = f"{self.signal.name} per pixel"
        if self.signal.units:
            self.image.attrs["units"] = self.signal.units
        for axis, positions in ((r.slow, r.slow_positions), (r.fast, r.fast_positions)):
            data.create_dataset(axis, data=np.asarray(positions, dtype=float))
            data[axis].attrs["units"] = r.units
        data.attrs["axes"] = [r.slow, r.fast]
        data.attrs[f"{r.slow}_indices"] = 0
        data.attrs[f"{r.fast}_indices"] = 1

    def write_point(self, index: int, values: Mapping[str, object]) -> None:
        """Store scan point `index`: a plain point at once, a raster's points line by line (one
        write per column and line, a hardware raster gives thousands of points a second)."""
        if self.image is None:
            self._store({index: values})
            self.h5.flush()
            return
        self._line[index] = values
        if (index + 1) % self.image.shape[1] == 0:  # the line's last point in time
            self._store_line()
            self.h5.flush()

    def _store_line(self) -> None:
        """Write the raster points held back: the measurement columns and the image row."""
        points, self._line = self._line, {}
        if not points:
            return
        self._store(points)
        rows: dict[int, np.ndarray] = {}  # a line is written once, whole: nothing to keep
        for index, values in points.items():
            line, column = self.raster.pixel(index)
            row = rows.setdefault(line, np.full(self.image.shape[1], np.nan))
            if values.get(self.signal.key) is not None:
                row[column] = float(values[self.signal.key])
        for line, row in rows.items():
            self.image[line, :] = row

    def _store(self, points: Mapping[int, Mapping[str, object]]) -> None:
        """Write consecutive points into every measurement column, one slice per column."""
        first, last = min(points), max(points)
        for col in self.columns:
            ds = self.measurement[col.name]
            if last >= ds.shape[0]:  # a scan of unknown length grows point by point
                ds.resize((last + 1,))
            block = np.full(last + 1 - first, np.nan)  # points are new: nothing to keep
            for index, values in points.items():
                if values.get(col.key) is not None:
                    block[index - first] = float(values[col.key])
            ds[first:last + 1] = block

    def __del__(self) -> None:
        """A writer dropped without `close` still leaves the line in flight in the file."""
        try:
            if self.h5 and self._line:
                self._store_line()
        except Exception:  # noqa: BLE001 - at interpreter exit h5py may already be gone
            pass

    def note_repeated_lines(self, lines: list[int]) -> None:
        """Say in the file which raster lines a pause interrupted and were taken again whole
        (`entry/notes`, NXnote): their pixels are from the repeat, not from the first pass."""
        notes = _group(self.entry, "notes", "NXnote")
        _text(notes, "description", "raster lines interrupted by a pause, dropped, and taken "
                                    "again after resume (slow-axis index, from 0)")
        notes.create_dataset("repeated_lines", data=np.asarray(lines, dtype=np.int64))

    def close(self, status: str = "Normal", end_time: datetime | None = None) -> None:
        """Stamp the end and how the scan ended (Normal, Abort, Stop, Exception), and close."""
        if not self.h5:
            return
        when = end_time or datetime.now().astimezone()
        try:
            self._store_line()  # an interrupted line keeps the points it got
            self.entry["end_time"][()] = np.bytes_(when.isoformat())
            self.entry["end_status"][()] = np.bytes_(status)
        finally:
            self.h5.close()


def read_image(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The default NXdata image of a raster file, with its fast (x) and slow (y) axes."""
    with h5py.File(path, "r") as h5:
        entry = h5[h5.attrs.get("default", "entry")]
        data = entry[entry.attrs["default"]]
        slow, fast = (str(a) for a in data.attrs["axes"])
        return data[data.attrs["signal"]][()], data[fast][()], data[slow][()]


def read_columns(path: str | Path) -> tuple[str, dict[str, np.ndarray]]:
    """A scan file's macro line (entry/title) and its measurement columns (the datasets of
    entry/measurement, not its pre-scan snapshot)."""
    with h5py.File(path, "r") as h5:
        title = h5["entry/title"][()]
        title = title.decode() if isinstance(title, bytes) else str(title)
        measurement = h5["entry/measurement"]
        return title, {k: v[()] for k, v in measurement.items() if isinstance(v, h5py.Dataset)}


def read_snapshot(path: str | Path, name: str) -> float | None:
    """A value the scan's pre-scan snapshot recorded (Sardana's `defsnap` list: the NV times
    and pulses, the MW and RF settings); None if it recorded none."""
    with h5py.File(path, "r") as h5:
        recorded = h5.get(f"entry/measurement/pre_scan_snapshot/{name}")
        return None if recorded is None else float(recorded[()])


def read_setting(path: str | Path, instrument: str, name: str) -> float | None:
    """An instrument's numeric setting recorded at the scan's start (e.g. the RF's frequency,
    the probe's z); None if the file records none."""
    with h5py.File(path, "r") as h5:
        recorded = h5.get(f"entry/instrument/{instrument}/{name}")
        return None if recorded is None else float(recorded[()])
