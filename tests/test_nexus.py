"""NeXus scan files: layout, refusal to overwrite, and what survives a kill mid-scan."""

import os
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from nanomri.nexus import Column, Instrument, Raster, ScanFile, read_image, scan_path

COLUMNS = [Column("point_nb", "point_nb"), Column("x", "x", "m"), Column("y", "y", "m"),
           Column("tango://h:1/expchan/c/1/value", "counts")]


def raster(nx: int = 4, ny: int = 3) -> Raster:
    return Raster("x", "y", np.linspace(0, 1e-6, nx), np.linspace(0, 2e-6, ny), "counts")


def write(path, r: Raster, points: int) -> ScanFile:
    f = ScanFile(path, title="raster x 0 1e-6 4 y 0 2e-6 3 0.01", serialno=7, columns=COLUMNS,
                 npoints=r.shape[0] * r.shape[1], raster=r,
                 instruments=[Instrument("laser", "a/b/laser", "sim:w.yaml",
                                         {"power": (1e-3, "W"), "emission": (True, "")})],
                 world_name="w", world="name: w\n")
    for i in range(points):
        row, col = divmod(i, r.shape[1])
        f.write_point(i, {"point_nb": i, "x": r.fast_positions[col], "y": r.slow_positions[row],
                          "tango://h:1/expchan/c/1/value": 10 * i})
    return f


def test_raster_file_has_nxdata_image_with_axes_and_metadata(tmp_path):
    path = tmp_path / "scan.h5"
    write(path, raster(), 12).close("Normal")
    image, x, y = read_image(path)
    assert image.shape == (3, 4) and image[2, 3] == 110 and image[1, 0] == 40
    assert np.allclose(x, np.linspace(0, 1e-6, 4)) and np.allclose(y, np.linspace(0, 2e-6, 3))
    with h5py.File(path) as h5:
        entry = h5["entry"]
        assert entry.attrs["NX_class"] == "NXentry" and entry["data"].attrs["NX_class"] == "NXdata"
        assert entry["data/x"].attrs["units"] == "m"
        assert entry["title"].asstr()[()] == "raster x 0 1e-6 4 y 0 2e-6 3 0.01"
        assert entry["end_status"][()] == b"Normal" and entry["end_time"][()] != b""
        assert entry["instrument/laser/power"].attrs["units"] == "W"
        assert entry["sample/world"].asstr()[()] == "name: w\n"
        assert entry["measurement/counts"][5] == 50


def test_existing_file_is_never_overwritten(tmp_path):
    path = tmp_path / "scan.h5"
    write(path, raster(), 12).close()
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="never overwrites"):
        write(path, raster(), 1)
    assert path.read_bytes() == before


def test_serial_number_fills_the_file_name_template():
    assert scan_path("/d/scan_{serialno:05d}.h5", 42).name == "scan_00042.h5"
    assert scan_path("/d/confocal.h5", 42).name == "confocal.h5"


def test_unfinished_pixels_stay_nan(tmp_path):
    path = tmp_path / "scan.h5"
    write(path, raster(), 6).close("Abort")
    image, _, _ = read_image(path)
    assert not np.isnan(image[:1]).any() and np.isnan(image[1, 2:]).all()


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
    assert done.returncode == -signal.SIGKILL
    with h5py.File(path, "r") as h5:
        image = h5["entry/data/counts"][()]
        assert not np.isnan(image[:25]).any()
        assert image[24, 49] == 10 * (25 * 50 - 1)
        assert np.isnan(image[26:]).all()
        assert h5["entry/end_time"][()] == b""


def test_nexusformat_finds_the_image_and_its_axes(tmp_path):
    from nexusformat.nexus import nxload

    path = tmp_path / "scan.h5"
    write(path, raster(), 12).close()
    plot = nxload(str(path)).plottable_data
    assert plot.nxpath == "/entry/data" and plot.nxsignal.shape == (3, 4)
    assert [axis.nxname for axis in plot.nxaxes] == ["y", "x"]
