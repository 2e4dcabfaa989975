"""Hardware-synchronised continuous scans on the whole stack: the sequencer gates the counter
while the stage moves at constant velocity (stock `ascanct`, measurement group mg_counts_hw)."""

import glob
import json
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest
import tango
from scipy.optimize import curve_fit

from nanomri.analysis.spots import find_spots, match_spots
from nanomri.nexus import read_image
from nanomri.world import load_world

from .conftest import NANOMRI, StackRun
from .stack_helpers import started_scan
from .tango_context import CONFOCAL

NV = load_world(CONFOCAL).sample.nv_centres[0]
PIXEL = 20e-9


def gaussian(x, amplitude, x0, sigma, background):
    return amplitude * np.exp(-((x - x0) ** 2) / (2 * sigma**2)) + background


def last_scan(stack: StackRun) -> tuple[np.ndarray, np.ndarray]:
    path = sorted(glob.glob(str(stack.results / "scans" / "scan_*.h5")))[-1]
    with h5py.File(path, "r") as h5:
        return h5["entry/measurement/x"][()], h5["entry/measurement/counts"][()]


@pytest.fixture
def on_the_nv(stack: StackRun):
    stack.run_ok("laser_on 1e-3")
    stack.run_ok(f"mv y {NV[1]} z {NV[2]}")
    stack.run_ok("senv ActiveMntGrp mg_counts_hw")
    yield stack
    stack.run_ok("senv ActiveMntGrp mg_counts")
    stack.run_ok("laser_off")


@pytest.fixture
def gates_in(stack: StackRun, request):
    """The sequencer's gates in the time or the position domain (axis attribute of `gates`)."""
    host = json.loads((stack.state / "stack.json").read_text())["tango_host"]
    gates = tango.DeviceProxy(f"tango://{host}/gates")
    gates.synch_domain, gates.position_axis = request.param, "x"
    yield request.param
    gates.synch_domain = "Time"


@pytest.mark.parametrize("gates_in", ["Time", "Position"], indirect=True)
@pytest.mark.parametrize("start, end", [(NV[0] - 0.5e-6, NV[0] + 0.5e-6),
                                        (NV[0] + 0.5e-6, NV[0] - 0.5e-6)])
def test_ascanct_peaks_at_the_nv_within_a_pixel_in_both_directions(on_the_nv, gates_in, start,
                                                                   end):
    n = round(abs(end - start) / PIXEL)
    on_the_nv.run_ok(f"ascanct x {start} {end} {n} 0.002 0")
    x, counts = last_scan(on_the_nv)
    assert counts.shape == (n + 1,) and not np.isnan(counts).any()  # a value for every gate
    guess = [counts.max() - counts.min(), x[np.argmax(counts)], 130e-9, counts.min()]
    (amplitude, x0, sigma, _), _ = curve_fit(gaussian, x, counts, p0=guess)
    assert abs(x0 - NV[0]) < PIXEL
    assert sigma == pytest.approx(300e-9 / 2.3548, rel=0.25)  # the PSF, not motion blur


def test_meshct_peaks_at_the_nv_within_a_pixel_on_both_axes(on_the_nv):
    pixel, half, lines = 50e-9, 0.3e-6, 7
    n = round(2 * half / pixel)
    on_the_nv.run_ok(f"meshct x {NV[0] - half} {NV[0] + half} {n} "
                     f"y {NV[1] - half} {NV[1] + half} {lines - 1} 0.002 0")
    path = sorted(glob.glob(str(on_the_nv.results / "scans" / "scan_*.h5")))[-1]
    with h5py.File(path, "r") as h5:
        m = h5["entry/measurement"]
        x, y, counts = m["x"][()], m["y"][()], m["counts"][()]
    assert counts.size % lines == 0 and not np.isnan(counts).any()  # a gate per pixel
    x, y, counts = (a.reshape(lines, -1) for a in (x, y, counts))
    assert counts.shape[1] in (n, n + 1)
    row = int(np.argmax(counts.sum(axis=1)))  # the line through the NV
    assert abs(y[row, 0] - NV[1]) < half / (lines - 1) / 2
    guess = [np.ptp(counts[row]), x[row, np.argmax(counts[row])], 130e-9, counts[row].min()]
    (_, x0, _, _), _ = curve_fit(gaussian, x[row], counts[row], p0=guess)
    assert abs(x0 + pixel / 2 - NV[0]) < pixel  # Sardana records where each gate starts


# 100 nm pixels over three NV centres: fine enough that step and continuous see the same PSF
FIELD = {"x": (10.4e-6, 12.9e-6, 26), "y": (10.5e-6, 13.5e-6, 31)}
RASTER = "raster " + " ".join(f"{axis} {a} {b} {n}" for axis, (a, b, n) in FIELD.items()) + " 0.003"
WORLD_NVS = np.array([nv[:2] for nv in load_world(CONFOCAL).sample.nv_centres
                      if all(FIELD[axis][0] <= nv[i] <= FIELD[axis][1]
                             for i, axis in enumerate(FIELD))])


@pytest.fixture(scope="module")
def raster_images(stack: StackRun) -> dict[str, np.ndarray]:
    stack.run_ok("laser_on 1e-3")
    images = {}
    for mode in ("", " --continuous", " --bidirectional"):
        stack.run_ok(RASTER + mode)
        path = sorted(glob.glob(str(stack.results / "scans" / "scan_*.h5")))[-1]
        images[mode.strip() or "step"] = read_image(path)
    stack.run_ok("laser_off")
    return images


@pytest.mark.parametrize("mode", ["step", "--continuous", "--bidirectional"])
def test_raster_finds_every_nv_within_a_pixel_in_every_mode(raster_images, mode):
    image, x, y = raster_images[mode]
    assert not np.isnan(image).any()
    assert len(WORLD_NVS) == 3
    pairs = match_spots(find_spots(image, x, y), WORLD_NVS, max_distance=100e-9)
    assert all(spot is not None for _, spot, _ in pairs), pairs


@pytest.mark.parametrize("mode", ["--continuous", "--bidirectional"])
def test_continuous_image_agrees_with_the_step_image(raster_images, mode):
    step, continuous = raster_images["step"][0], raster_images[mode][0]
    assert np.corrcoef(step.ravel(), continuous.ravel())[0, 1] >= 0.9


def test_ctrl_c_mid_continuous_raster_leaves_instruments_safe_and_the_file_readable(
        stack: StackRun):
    stack.run_ok("laser_on 1e-3")
    host = json.loads((stack.state / "stack.json").read_text())["tango_host"]
    device = {role: tango.DeviceProxy(f"tango://{host}/nanomri/confocal/{role}")
              for role in ("laser", "sequencer", "scanner")}
    before = set((stack.results / "scans").glob("scan_*.h5"))
    run = subprocess.Popen([*NANOMRI, "run", "raster x 10e-6 15e-6 30 y 10e-6 15e-6 30 0.005 "
                            "--continuous"], env=stack.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        path = started_scan(stack, before, lines=2)
    finally:
        run.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        deadline = interrupted + 1.0
        while time.monotonic() < deadline and (
                device["laser"].emission or device["sequencer"].state() == tango.DevState.RUNNING
                or device["scanner"].state() == tango.DevState.MOVING):
            time.sleep(0.01)
        safe_after = time.monotonic() - interrupted
        run.communicate(timeout=60)
    assert safe_after < 1.0
    assert run.returncode == 130
    with h5py.File(path, "r") as h5:
        assert h5["entry/end_status"][()] == b"Abort"
        image = h5["entry/data/counts"][()]
    assert 2 <= (~np.isnan(image).any(axis=1)).sum() < 30
    stack.run_ok("raster x 10e-6 11e-6 3 y 10e-6 11e-6 3 0.005 --continuous")  # at once


def test_a_hardware_raster_skips_sardanas_nxscan_file_and_a_software_one_is_in_it(stack):
    """NXscanH5 resizes and flushes its file at every point: a hardware raster is not in it."""
    in_nxscan = {}
    for mode, dwell in (("hardware", 0.001), ("software", 0)):
        done = stack.run_ok(f"raster x 10e-6 10.2e-6 3 y 10e-6 10.1e-6 2 {dwell}")
        path = sorted(glob.glob(str(stack.results / "scans" / "scan_*.h5")))[-1]
        with h5py.File(path, "r") as h5:
            assert h5["entry/end_status"][()] == b"Normal"
            assert np.isfinite(h5["entry/measurement/x"][()]).sum() == 6
            serialno = h5["entry/entry_identifier"][()].decode()
        with h5py.File(stack.results / "scans" / "nxscan.h5", "r") as h5:
            in_nxscan[mode] = f"entry{serialno}" in h5
        assert ("not written to Sardana's NXscanH5 file" in done.stdout) == (mode == "hardware")
    assert in_nxscan == {"hardware": False, "software": True}
