"""Every instrument as its natural Sardana element, driven by Sardana's stock macros on the whole
stack: generator, magnet and scan-head motors, field pseudo motors, STM 0D channels, the EMCCD,
on/off IORegisters; ct on each measurement group, and ascan, dscan, a2scan, mesh, timescan."""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import tango
from scipy.optimize import curve_fit

from nanomri.world import load_world

from .conftest import StackRun
from .stack_helpers import device, last_scan, nxscan_entry
from .tango_context import CONFOCAL, wait_while

pytestmark = pytest.mark.stack

MODEL = load_world(CONFOCAL)
NV = MODEL.sample.nv_centres[0]
CAMERA = MODEL.instruments.camera
STEP = 50e-9  # m, of the scans across the NV


def peak(x: np.ndarray, counts: np.ndarray) -> float:
    """Centre of a Gaussian fitted to counts(x)."""
    def gaussian(x, amplitude, x0, sigma, background):
        return amplitude * np.exp(-((x - x0) ** 2) / (2 * sigma**2)) + background

    guess = [np.ptp(counts), x[np.argmax(counts)], 130e-9, counts.min()]
    return curve_fit(gaussian, x, counts, p0=guess)[0][1]


def ct_values(out: str) -> dict[str, str]:
    """Channel -> value as `ct` prints them (a frame as its shape)."""
    return dict(re.findall(r"^\s*(\w+)\s+=\s+(.+?)\s*$", out, flags=re.MULTILINE))


def failure(stack: StackRun, line: str) -> str:
    """The output of a macro line that must fail."""
    done = stack.cli("run", line)
    assert done.returncode != 0, f"{line!r} did not fail:\n{done.stdout}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def on_the_nv(stack: StackRun) -> StackRun:
    """Laser on, the focus at the NV's y and z, counting photons."""
    stack.run_ok("laser_on 1e-3")
    stack.run_ok(f"mv y {NV[1]} z {NV[2]}")
    stack.run_ok("senv ActiveMntGrp mg_counts")
    return stack


# --- measurement groups

@pytest.mark.parametrize("group, channels", [("mg_counts", ["counts"]),
                                             ("mg_stm", ["current", "lockin_amplitude"]),
                                             ("mg_camera", ["camera"])])
def test_ct_on_each_measurement_group_reads_each_of_its_channels(stack: StackRun, group,
                                                                  channels):
    out = stack.run_ok(f"ct 0.01 {group}").stdout
    values = ct_values(out)
    assert sorted(values) == sorted(channels), out
    for channel, value in values.items():
        if channel == "camera":
            assert value == f"[{CAMERA.height}, {CAMERA.width}]"  # a frame of the full sensor
        else:
            assert math.isfinite(float(value)), out


def test_emccd_ct_gives_a_frame_of_the_roi_shape_exposed_for_the_integration_time(on_the_nv):
    camera, channel = device(on_the_nv, "nanomri/confocal/camera"), device(on_the_nv, "camera")
    camera.roi, camera.binning = [100, 60, 64, 32], 2
    try:
        signal = {}
        for integration in (0.02, 0.2):
            out = on_the_nv.run_ok(f"ct {integration} mg_camera").stdout
            frame = channel.Value
            assert ct_values(out) == {"camera": "[16, 32]"} and frame.shape == (16, 32)
            signal[integration] = frame.mean() - CAMERA.baseline
        assert list(channel.Shape) == [32, 16]  # Sardana's x, y
        assert signal[0.2] / signal[0.02] == pytest.approx(10, rel=0.2)
    finally:
        camera.roi, camera.binning = [0, 0, CAMERA.width, CAMERA.height], 1


def test_an_ascan_with_the_camera_stores_a_frame_per_point_in_the_nxscan_file(on_the_nv):
    camera = device(on_the_nv, "nanomri/confocal/camera")
    camera.roi, camera.binning = [100, 60, 64, 32], 2
    try:
        on_the_nv.run_ok("senv ActiveMntGrp mg_camera")
        on_the_nv.run_ok(f"ascan x {NV[0] - 2 * STEP} {NV[0] + 2 * STEP} 3 0.05")
        path = sorted((on_the_nv.results / "scans").glob("scan_*.h5"))[-1]
        with h5py.File(path, "r") as h5:
            serialno = h5["entry/entry_identifier"][()].decode()
        frames = nxscan_entry(on_the_nv, serialno)["camera"]
    finally:
        on_the_nv.run_ok("senv ActiveMntGrp mg_counts")
        camera.roi, camera.binning = [0, 0, CAMERA.width, CAMERA.height], 1
    assert frames.shape == (4, 16, 32)
    signal = frames.mean(axis=(1, 2)) - CAMERA.baseline
    assert (signal > 0).all() and len(np.unique(frames[:, 0, 0])) > 1  # exposed, not repeated


# --- signal generators

def test_mw_frequency_ascan_records_the_frequencies_the_generator_reports(stack: StackRun):
    stack.run_ok("ascan mw_frequency 2.86e9 2.88e9 4 0.005")
    scan = last_scan(stack)
    assert scan["mw_frequency"] == pytest.approx(np.linspace(2.86e9, 2.88e9, 5), abs=1e-3)
    assert device(stack, "nanomri/confocal/mw").frequency == 2.88e9


def test_generator_limits_are_the_devices_and_stop_a_scan_before_it_moves(stack: StackRun):
    generator, motor = device(stack, "nanomri/confocal/rf"), device(stack, "rf_frequency")
    for name, attribute in (("rf_frequency", "frequency"), ("rf_power", "power")):
        wanted = generator.get_attribute_config(attribute)
        config = device(stack, name).get_attribute_config("Position")
        assert (config.min_value, config.max_value) == (wanted.min_value, wanted.max_value)
    before = motor.Position
    out = failure(stack, "ascan rf_frequency 1e5 2e9 4 0.005")
    assert "rf_frequency is below its lower limit" in out
    assert motor.Position == before == generator.frequency


def test_ioregisters_switch_the_laser_and_the_mw_output(stack: StackRun):
    laser, mw = device(stack, "nanomri/confocal/laser"), device(stack, "nanomri/confocal/mw")
    emitting = laser.emission
    try:
        stack.run_ok("write_ioreg emission 1")
        stack.run_ok("write_ioreg mw_output 1")
        assert laser.emission and mw.output and device(stack, "mw_output").Value == 1
        assert "Invalid position" in failure(stack, "write_ioreg mw_output 2")
        stack.run_ok("write_ioreg mw_output 0")
        stack.run_ok("write_ioreg emission 0")
        assert not laser.emission and not mw.output
    finally:
        mw.output, laser.emission = False, emitting


# --- the confocal stage over an NV centre of the world

def test_ascan_of_x_peaks_at_the_nv_within_one_step(on_the_nv):
    n = 20
    on_the_nv.run_ok(f"ascan x {NV[0] - n / 2 * STEP} {NV[0] + n / 2 * STEP} {n} 0.02")
    scan = last_scan(on_the_nv)
    assert len(scan["counts"]) == n + 1
    assert abs(peak(scan["x"], scan["counts"]) - NV[0]) < STEP


def test_dscan_of_x_peaks_at_the_nv_within_one_step_and_returns(on_the_nv):
    start = NV[0] + 0.2e-6
    on_the_nv.run_ok(f"mv x {start}")
    on_the_nv.run_ok("dscan x -0.7e-6 0.3e-6 20 0.02")
    scan = last_scan(on_the_nv)
    assert abs(peak(scan["x"], scan["counts"]) - NV[0]) < STEP
    assert device(on_the_nv, "nanomri/confocal/scanner").x == pytest.approx(start, abs=1e-9)


def test_a2scan_of_x_and_y_peaks_at_the_nv_within_one_step_on_both(on_the_nv):
    half = 10 * STEP
    on_the_nv.run_ok(f"a2scan x {NV[0] - half} {NV[0] + half} "
                     f"y {NV[1] - half} {NV[1] + half} 20 0.02")
    scan = last_scan(on_the_nv)
    assert abs(peak(scan["x"], scan["counts"]) - NV[0]) < STEP
    assert abs(peak(scan["y"], scan["counts"]) - NV[1]) < STEP
    on_the_nv.run_ok(f"mv y {NV[1]}")


def test_timescan_returns_the_requested_number_of_points(on_the_nv):
    on_the_nv.run_ok("timescan 5 0.01 0.05")
    scan = last_scan(on_the_nv)
    assert len(scan["counts"]) == 5 and list(scan["point_nb"]) == [0, 1, 2, 3, 4]


# --- the STM scan head and its tunnel current

def test_mesh_of_the_tip_with_mg_stm_reads_the_feedback_current_setpoint(stack: StackRun):
    probe = device(stack, "nanomri/confocal/probe")
    stack.run_ok("mv tip_x 2.0e-6 tip_y 2.0e-6")  # approach where the scan starts: a long
    probe.Approach()  # move of the engaged tip would run into the world's bumps (NANOMRI_CRASH)
    try:
        stack.run_ok("senv ActiveMntGrp mg_stm")
        wait_while(probe, tango.DevState.MOVING, timeout=60)
        assert probe.feedback and probe.state() == tango.DevState.ON, probe.status()
        stack.run_ok("mesh tip_x 2.0e-6 2.1e-6 2 tip_y 2.0e-6 2.1e-6 2 0.05")
        scan = last_scan(stack)
        assert len(scan["current"]) == 9 and np.isfinite(scan["lockin_amplitude"]).all()
        assert scan["current"] == pytest.approx(probe.setpoint_current, rel=0.02)
        assert sorted(set(np.round(scan["tip_x"] / 1e-9))) == [2000, 2050, 2100]  # nm
    finally:
        stack.run_ok("senv ActiveMntGrp mg_counts")
        probe.Retract()


# --- the vector magnet and its field pseudo motors

@pytest.fixture
def fast_magnet(stack: StackRun) -> tango.DeviceProxy:
    """The magnet at its highest ramp rate, back at zero field afterwards."""
    magnet = device(stack, "nanomri/confocal/magnet")
    magnet.ramp_rate = magnet.max_ramp_rate
    yield magnet
    stack.run_ok("mv Bx 0 By 0 Bz 0")


def test_ascan_of_bz_ramps_the_magnet_to_each_point(stack: StackRun, fast_magnet):
    stack.run_ok("ascan Bz 0 2e-3 4 0.005")
    scan = last_scan(stack)
    assert scan["Bz"] == pytest.approx(np.linspace(0, 2e-3, 5), abs=1e-7)
    assert fast_magnet.Bz == pytest.approx(2e-3, abs=1e-7) and fast_magnet.Bx == 0.0


def test_theta_at_fixed_b_turns_the_field_by_b_sin_and_cos(stack: StackRun, fast_magnet):
    b = 2e-3
    stack.run_ok(f"mv Bx 0 By 0 Bz {b}")
    stack.run_ok("mv theta 0.6")
    assert (fast_magnet.Bx, fast_magnet.By, fast_magnet.Bz) == pytest.approx(
        (b * math.sin(0.6), 0.0, b * math.cos(0.6)), abs=1e-9)
    stack.run_ok("mv phi 1.2")
    assert (fast_magnet.Bx, fast_magnet.By, fast_magnet.Bz) == pytest.approx(
        (b * math.sin(0.6) * math.cos(1.2), b * math.sin(0.6) * math.sin(1.2),
         b * math.cos(0.6)), abs=1e-9)
    assert device(stack, "B").Position == pytest.approx(b, abs=1e-9)


def test_magnet_refusals_and_limits_reach_the_macro_and_change_nothing(stack: StackRun,
                                                                        fast_magnet):
    assert "above the maximum" in failure(stack, "mv Bz 2")  # the Bz coil's 1 T
    out = failure(stack, "mv Bx 0.8 By 0.8")  # each inside its coil, |B| beyond the sphere
    assert "NANOMRI_FIELD_LIMIT" in out and "max_field" in out
    assert (fast_magnet.Bx, fast_magnet.By, fast_magnet.Bz) == (0.0, 0.0, 0.0)


# --- configuration

def test_loading_the_yaml_again_would_add_no_controller_or_element(stack: StackRun):
    """What a second `nanomri up` on the same state loads: a dry run shows its changes."""
    host = json.loads((stack.state / "stack.json").read_text())["tango_host"]
    sardana_config = subprocess.run(
        [str(Path(sys.executable).parent / "sardana-config"), "load", "--environment",
         str(stack.state / "sardana-nanomri.yaml")],
        env={**stack.env, "TANGO_HOST": host}, capture_output=True, text=True, timeout=120)
    assert sardana_config.returncode == 0, sardana_config.stderr
    added = [line for line in sardana_config.stdout.splitlines() if "ADD /pools" in line]
    assert not any("/controllers/" in line or "/measurement_groups/" in line for line in added)
