"""NeXus scan files: layout, refusal to overwrite, and what survives a kill mid-scan."""

import gc
import os
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from nanomri.nexus import (
    COUNTER,
    MOTOR,
    Column,
    Instrument,
    Raster,
    ScanFile,
    read_columns,
    read_image,
    read_setting,
    scan_path,
)

COLUMNS = [Column("point_nb", "point_nb"), Column("x", "x", kind=MOTOR),
           Column("y", "y", kind=MOTOR),
           Column("tango://h:1/expchan/c/1/value", "counts", "counts", COUNTER),
           Column("tango://h:1/expchan/c/2/value", "monitor", kind=COUNTER),
           Column("timestamp", "timestamp", "s")]
TITLE = "raster x 0 1e-6 4 y 0 2e-6 3 0.01"


def raster(nx: int = 4, ny: int = 3) -> Raster:
    return Raster("x", "y", np.linspace(0, 1e-6, nx), np.linspace(0, 2e-6, ny))


def write(path, r: Raster | None, points: int, npoints: int | None = None) -> ScanFile:
    """A scan file with `points` points written: counts 10 i, monitor 1, dt 0.1 i."""
    f = ScanFile(path, title=TITLE, serialno=7, columns=COLUMNS, npoints=npoints, raster=r,
                 instruments=[Instrument("laser", "a/b/laser", "sim:w.yaml",
                                         {"power": (1e-3, "W"), "emission": (True, ""),
                                          "mode": ("cw", "")})],
                 world_name="w", world="name: w\n")
    nx = r.shape[1] if r else points
    for i in range(points):
        row, col = divmod(i, nx)
        f.write_point(i, {"point_nb": i, "x": 1e-7 * col, "y": 1e-7 * row, "timestamp": 0.1 * i,
                          "tango://h:1/expchan/c/1/value": 10 * i,
                          "tango://h:1/expchan/c/2/value": 1})
    return f


def test_raster_file_has_the_first_counter_as_nxdata_image_over_nominal_axes(tmp_path):
    path = tmp_path / "scan.h5"
    write(path, raster(), 12).close("Normal")
    image, x, y = read_image(path)
    assert image.shape == (3, 4) and image[2, 3] == 110 and image[1, 0] == 40
    assert np.allclose(x, np.linspace(0, 1e-6, 4)) and np.allclose(y, np.linspace(0, 2e-6, 3))
    with h5py.File(path) as h5:
        data = h5["entry/data"]
        assert h5.attrs["default"] == "entry" and h5["entry"].attrs["default"] == "data"
        assert data.attrs["NX_class"] == "NXdata" and data.attrs["signal"] == "counts"
        assert list(data.attrs["axes"]) == ["y", "x"]
        assert data.attrs["y_indices"] == 0 and data.attrs["x_indices"] == 1
        assert data["x"].attrs["units"] == "m" and data["y"].attrs["units"] == "m"
        assert data["counts"].attrs["units"] == "counts"


def test_file_holds_macro_line_times_program_instruments_and_world(tmp_path):
    path = tmp_path / "scan.h5"
    write(path, raster(), 12).close("Normal")
    with h5py.File(path) as h5:
        entry = h5["entry"]
        assert entry.attrs["NX_class"] == "NXentry"
        assert entry["title"].asstr()[()] == TITLE
        assert entry["entry_identifier"].asstr()[()] == "7"
        assert entry["start_time"][()] < entry["end_time"][()]  # ISO 8601 sorts as time
        assert entry["end_status"][()] == b"Normal"
        assert entry["program_name"].asstr()[()] == "nanomri"
        assert entry["program_name"].attrs["version"]
        laser = entry["instrument/laser"]
        assert entry["instrument"].attrs["NX_class"] == "NXinstrument"
        assert laser.attrs["NX_class"] == "NXcollection"
        assert laser["power"][()] == 1e-3 and laser["power"].attrs["units"] == "W"
        assert bool(laser["emission"][()]) and "units" not in laser["emission"].attrs
        assert laser["mode"].asstr()[()] == "cw"
        assert laser["tango_device"].asstr()[()] == "a/b/laser"
        assert laser["driver"].asstr()[()] == "sim:w.yaml"
        assert entry["sample"].attrs["NX_class"] == "NXsample"
        assert entry["sample/name"].asstr()[()] == "w"
        assert entry["sample/world"].asstr()[()] == "name: w\n"


def test_every_column_is_a_measurement_dataset_of_the_scan_length(tmp_path):
    path = tmp_path / "scan.h5"
    write(path, raster(), 12).close()
    with h5py.File(path) as h5:
        meas = h5["entry/measurement"]
        assert set(meas) == {"point_nb", "x", "y", "counts", "monitor", "timestamp",
                             "pre_scan_snapshot"}
        assert all(meas[name].shape == (12,) for name in meas if name != "pre_scan_snapshot")
        assert meas["counts"][5] == 50 and meas["timestamp"].attrs["units"] == "s"


def test_plain_scan_plots_the_first_counter_against_the_first_motor(tmp_path):
    from nexusformat.nexus import nxload

    path = tmp_path / "scan.h5"
    write(path, None, 5, npoints=8).close()
    with h5py.File(path) as h5:
        data = h5["entry/data"]
        assert data.attrs["signal"] == "counts" and list(data.attrs["axes"]) == ["x"]
        assert data["counts"].shape == (8,) and np.isnan(data["counts"][5:]).all()
    plot = nxload(str(path)).plottable_data
    assert plot.nxsignal.nxname == "counts" and [a.nxname for a in plot.nxaxes] == ["x"]


def test_scan_of_unknown_length_grows_point_by_point(tmp_path):
    path = tmp_path / "scan.h5"
    write(path, None, 5).close()
    with h5py.File(path) as h5:
        assert h5["entry/measurement/counts"][()].tolist() == [0, 10, 20, 30, 40]


def test_existing_file_is_never_overwritten_and_the_error_names_it(tmp_path):
    path = tmp_path / "scan.h5"
    write(path, raster(), 12).close()
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="never overwrites") as exc:
        write(path, raster(), 1)
    assert str(path) in str(exc.value)
    assert path.read_bytes() == before


def test_file_appears_only_whole_and_leaves_nothing_else_behind(tmp_path):
    path = tmp_path / "scan.h5"
    f = write(path, raster(), 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.h5"]
    with h5py.File(path, "r", locking=False) as h5:  # readers see the whole structure at once
        assert h5["entry/data/counts"].shape == (3, 4)
    f.close()


def test_file_made_by_someone_else_meanwhile_is_not_replaced(tmp_path, monkeypatch):
    path = tmp_path / "scan.h5"
    real_flush = h5py.File.flush

    def someone_else_writes(self):
        real_flush(self)
        path.write_bytes(b"not ours")

    monkeypatch.setattr(h5py.File, "flush", someone_else_writes)
    with pytest.raises(FileExistsError, match="never overwrites"):
        write(path, raster(), 0)
    assert path.read_bytes() == b"not ours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.h5"]


def test_serial_number_fills_the_file_name_template():
    assert scan_path("/d/scan_{serialno:05d}.h5", 42).name == "scan_00042.h5"
    assert scan_path("/d/{ScanID}/scan_{serialno}.h5", 42).parts[-2:] == ("42", "scan_42.h5")
    assert scan_path("/d/confocal.h5", 42).name == "confocal.h5"


def test_unfinished_pixels_stay_nan(tmp_path):
    path = tmp_path / "scan.h5"
    write(path, raster(), 6).close("Abort")
    image, _, _ = read_image(path)
    assert not np.isnan(image[:1]).any() and np.isnan(image[1, 2:]).all()


def test_writing_points_never_changes_the_file_structure(tmp_path):
    path = tmp_path / "scan.h5"
    f = write(path, raster(nx=40, ny=30), 0)
    size = path.stat().st_size
    for i in range(40 * 30):
        f.write_point(i, {"point_nb": i, "x": 0.0, "y": 0.0, "timestamp": 0.0,
                          "tango://h:1/expchan/c/1/value": 1.0,
                          "tango://h:1/expchan/c/2/value": 1.0})
    f.close()
    assert path.stat().st_size == size  # every chunk was on disk from the start


def test_writer_dropped_without_close_leaves_its_lines_and_no_end_stamp(tmp_path):
    path = tmp_path / "scan.h5"
    write(path, raster(), 9)
    gc.collect()
    with h5py.File(path, "r") as h5:
        assert h5["entry/data/counts"][2, 0] == 80
        assert h5["entry/end_time"][()] == b"" and h5["entry/end_status"][()] == b""


def test_file_killed_mid_scan_keeps_every_completed_line(tmp_path):
    path = tmp_path / "scan.h5"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(os.path.dirname(__file__))!r})
        from test_nexus import raster, write
        f = write({str(path)!r}, raster(nx=50, ny=40), 50 * 25 + 17)  # 25 lines and a bit
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    with h5py.File(path, "r") as h5:
        image = h5["entry/data/counts"][()]
        assert not np.isnan(image[:25]).any()
        assert image[24, 49] == 10 * (25 * 50 - 1)
        assert np.isnan(image[26:]).all()
        assert h5["entry/measurement/counts"][25 * 50 - 1] == 10 * (25 * 50 - 1)
        assert h5["entry/end_time"][()] == b""


def test_nexusformat_finds_the_image_and_its_axes(tmp_path):
    from nexusformat.nexus import nxload

    path = tmp_path / "scan.h5"
    write(path, raster(), 12).close()
    plot = nxload(str(path)).plottable_data
    assert plot.nxpath == "/entry/data" and plot.nxsignal.shape == (3, 4)
    assert [axis.nxname for axis in plot.nxaxes] == ["y", "x"]


def test_bidirectional_raster_puts_odd_lines_back_in_pixel_order():
    r = Raster("x", "y", np.arange(4.0), np.arange(3.0), bidirectional=True)
    assert [r.pixel(i) for i in range(4, 8)] == [(1, 3), (1, 2), (1, 1), (1, 0)]
    assert r.pixel(9) == (2, 1) and Raster("x", "y", np.arange(4.0), np.arange(3.0)).pixel(7) \
        == (1, 3)


def test_the_pre_scan_snapshot_is_stored_by_label_and_read_columns_leaves_it_out(tmp_path):
    path = tmp_path / "scan.h5"
    ScanFile(path, title=TITLE, serialno=1, columns=COLUMNS, npoints=3,
             snapshot={"nv_measurement": "deer", "mw_pi": 4e-8, "cryo/temperature": 1.2}).close()
    with h5py.File(path) as h5:
        snap = h5["entry/measurement/pre_scan_snapshot"]
        assert snap.attrs["NX_class"] == "NXcollection"
        assert snap["nv_measurement"].asstr()[()] == "deer" and snap["mw_pi"][()] == 4e-8
        assert snap["cryo_temperature"][()] == 1.2
    title, columns = read_columns(path)
    assert title == TITLE and "pre_scan_snapshot" not in columns and len(columns["x"]) == 3


def test_read_setting_gives_an_instruments_recorded_number_or_none(tmp_path):
    path = tmp_path / "scan.h5"
    write(path, None, 2).close("Normal")
    assert read_setting(path, "laser", "power") == 1e-3
    assert read_setting(path, "laser", "wavelength") is None
    assert read_setting(path, "rf", "frequency") is None
