"""The point measurements of the sensor NV from the Door, on the whole simulated stack: their
files hold the physics of the world, their fits find it, bad lines are refused."""

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
import tango
import yaml

from nanomri import nv_spin
from nanomri.analysis import fits, lines
from nanomri.interfaces.signal_generator import Mode
from nanomri.magnetic_tip import dipole_field
from nanomri.nexus import read_columns
from nanomri.sequence import Sequence
from nanomri.surface import surface_height
from nanomri.world import load_world

from .conftest import NANOMRI, StackRun, started_stack
from .stack_helpers import device, last_scan, written_file
from .tango_context import CONFOCAL

pytestmark = pytest.mark.stack

MODEL = load_world(CONFOCAL)
MW_POWER = 1e-2  # W
RABI = MODEL.sensor.spin.rabi_per_sqrt_watt * np.sqrt(MW_POWER)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[StackRun]:
    """The confocal world without the sample's drift: the tip's place over the NV is the one
    these tests compute from the world, however long the module has run (a drift of 1 nm
    moves the NV's resonance by ~7 MHz at 30 nm: the lock's test saw 3.6 MHz once)."""
    tmp = tmp_path_factory.mktemp("still")
    world = tmp / "still.yaml"
    world.write_text(yaml.safe_dump({"base": str(CONFOCAL), "sample": {
        "surface": {"drift": {"x": 0.0, "y": 0.0, "z": 0.0}}}}))
    with started_stack(tmp, world) as run:
        yield run


@pytest.fixture(scope="module")
def sensor(stack: StackRun) -> StackRun:
    """The focus on the sensor NV, the MW on at D with 10 MHz of Rabi frequency."""
    x, y, z = MODEL.sample.nv_centres[MODEL.sensor.nv]
    stack.run_ok(f"mv x {x} y {y} z {z}")
    mw = device(stack, "nanomri/confocal/mw")
    mw.power, mw.frequency, mw.output = MW_POWER, nv_spin.ZERO_FIELD_SPLITTING, True
    return stack


def columns(done, *names: str) -> list[np.ndarray]:
    """Columns of the file a finished macro wrote."""
    data = read_columns(written_file(done.stdout + done.stderr))[1]
    return [data[name] for name in names]


def sweep(stack: StackRun, line: str, quantity: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Run a point measurement; its swept values, ratios, and output."""
    done = stack.run_ok(line)
    with h5py.File(written_file(done.stdout + done.stderr), "r") as h5:
        m = h5["entry/measurement"]
        x, ratio = m[quantity][()], m["ratio"][()]
        assert h5["entry/end_status"][()] == b"Normal"
        assert "sensor" in h5["entry/sample/world"][()].decode()
    return x, ratio, done.stdout


def test_rabi_oscillates_at_the_rabi_frequency_of_the_mw_power(sensor):
    # as a hardware-gated scan leaves it: runs waiting for the stage's motion
    device(sensor, "nanomri/confocal/sequencer").start_trigger = 1
    x, ratio, out = sweep(sensor, "rabi 0 300e-9 31 100000", "mw_pulse")
    assert len(x) == 31 and np.isfinite(ratio).all()
    fit = fits.rabi(x, ratio)
    assert fit["frequency"] == pytest.approx(RABI, rel=0.1)
    assert "fit: frequency" in out and "pi pulse" in out


def test_pulsed_odmr_dips_at_the_nv_resonance(sensor):
    f0 = nv_spin.ZERO_FIELD_SPLITTING
    x, ratio, out = sweep(sensor, f"odmr {f0 - 30e6} {f0 + 30e6} 31 100000", "mw_frequency")
    fit = fits.odmr(x, ratio)
    assert fit["centre"] == pytest.approx(f0, abs=2e6)  # the retracted tip: < 1 MHz
    assert 0.1 < fit["depth"] < 0.4
    assert "fit: centre" in out


def test_odmr_swept_in_hardware_measures_what_the_step_odmr_measures_point_by_point(sensor):
    """`odmr --continuous`: the MW generator's sweep stepped by the sequencer, one continuous
    acquisition; the same ratio at every frequency as the step scan, within shot noise, every
    point on the Door as a record, and the generator and sequencer left for the next count."""
    f0, n = nv_spin.ZERO_FIELD_SPLITTING, 21
    line = f"odmr {f0 - 20e6} {f0 + 20e6} {n} 100000"
    door = device(sensor, "nanomri/door/1")
    records = []

    def received(event):
        if not event.err and event.attr_value is not None:
            message = json.loads(event.attr_value.value[1])
            if message.get("type") == "record_data":
                records.append(message["data"]["point_nb"])

    step = columns(sensor.run_ok(line), "mw_frequency", "signal", "reference")
    sensor.run_ok("senv JsonRecorder True")
    subscription = door.subscribe_event("RecordData", tango.EventType.CHANGE_EVENT, received)
    try:
        done = sensor.run_ok(f"{line} --continuous")
    finally:
        door.unsubscribe_event(subscription)
        sensor.run_ok("senv JsonRecorder False")
    swept = columns(done, "mw_frequency", "signal", "reference")
    assert np.array_equal(step[0], swept[0])
    ratios = [signal / reference for _, signal, reference in (step, swept)]
    noise = [r * np.sqrt(1 / signal + 1 / reference) for r, (_, signal, reference)
             in zip(ratios, (step, swept), strict=True)]
    assert np.mean((ratios[0] - ratios[1]) ** 2 / (noise[0] ** 2 + noise[1] ** 2)) < 2
    fit = fits.odmr(swept[0], ratios[1])
    assert fit["centre"] == pytest.approx(f0, abs=2e6) and 0.1 < fit["depth"] < 0.4
    assert "fit: centre" in done.stdout
    deadline = time.monotonic() + 10
    while len(records) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(records) == list(range(n))
    mw = device(sensor, "nanomri/confocal/mw")
    assert mw.mode == Mode.FIXED and mw.frequency == pytest.approx(f0 - 20e6)
    sequencer = device(sensor, "nanomri/confocal/sequencer")
    assert len(Sequence.from_json(sequencer.sequence).windows("gate")) == 2  # odmr's, back
    assert device(sensor, "nanomri/confocal/counter").bins == 1


def test_a_stock_ascan_of_tau_after_nvmode_gives_the_fringes_of_the_ramsey_macro(sensor):
    """The NV measurement is Pool elements: `ascan tau ... -1e5` on mg_nv after `nvmode
    ramsey` is the `ramsey` macro's measurement, both written by both recorders alike. A bias
    field of 10 mT on the NV axis parts the ms = -1 line from the ms = +1 one (at zero field
    the tip's field splits them by about a MHz, and the fringes beat at both detunings)."""
    detuning = 5e6  # Hz: 5 fringes within 1 us, about T2* (~0.9 us)
    bias = 0.01  # T
    device(sensor, "nanomri/confocal/magnet").ramp_rate = 1e-2
    sensor.run_ok(f"mv Bz {bias}")
    try:
        sensor.run_ok(f"mv mw_frequency {float(nv_spin.transition_frequency(bias)) + detuning}")
        done = sensor.run_ok("ramsey 0 1e-6 41 100000")
        macro = columns(done, "tau", "signal", "reference")
        sensor.run_ok("nvmode ramsey")
        sensor.run_ok("senv ActiveMntGrp mg_nv")
        done = sensor.run_ok("ascan tau 0 1e-6 40 -100000")
        stock = columns(done, "tau", "signal", "reference")
        # the recorders agree, point by point
        assert last_scan(sensor)["signal"].shape == (41,)
    finally:
        sensor.run_ok("senv ActiveMntGrp mg_counts")
        sensor.run_ok(f"mv mw_frequency {nv_spin.ZERO_FIELD_SPLITTING} Bz 0")
    assert np.array_equal(macro[0], stock[0])
    # point by point the same ratio within shot noise (1e5 repetitions each, not 1e5 s)
    ratios = [signal / reference for _, signal, reference in (macro, stock)]
    noise = [r * np.sqrt(1 / signal + 1 / reference) for r, (_, signal, reference)
             in zip(ratios, (macro, stock), strict=True)]
    assert np.mean((ratios[0] - ratios[1]) ** 2 / (noise[0] ** 2 + noise[1] ** 2)) < 2
    # both fringe at the detuning, each to the 1 MHz a 1 us record resolves (the retracted
    # tip moves the line by a few tenths of a MHz)
    fringes = [fits.dominant_frequency(macro[0], ratio) for ratio in ratios]
    assert fringes == pytest.approx([detuning] * 2, abs=1e6), fringes


def test_each_file_holds_the_sequence_and_the_pulses_its_scan_played(sensor):
    sensor.run_ok("senv NanomriPulses \"{'pi': 40e-9, 'pi_half': 20e-9, 'rf_pi': 150e-9}\"")
    try:
        deer_file = written_file(sensor.run_ok("deer 5e6 6e6 6 2e-6 2000").stdout)
    finally:
        sensor.run_ok("usenv NanomriPulses")
    echo_file = written_file(sensor.run_ok("echo 1e-6 2e-6 6 2000").stdout)
    played = {}
    for name, path in (("deer", deer_file), ("echo", echo_file)):
        with h5py.File(path, "r") as h5:
            sequence = Sequence.from_json(h5["entry/instrument/sequencer/sequence"].asstr()[()])
            snapshot = h5["entry/measurement/pre_scan_snapshot"]
            played[name] = (sequence, snapshot["nv_measurement"].asstr()[()],
                            snapshot["mw_pi"][()], snapshot["rf_pi"][()])
    sequence, measurement, pi, rf_pi = played["deer"]
    assert measurement == "deer" and pi == 40e-9 and rf_pi == 150e-9
    assert np.allclose(np.diff(sequence.windows("rf")), 150e-9)
    assert np.allclose(np.diff(sequence.windows("mw")).ravel(), [20e-9, 40e-9, 20e-9])
    sequence, measurement, pi, _ = played["echo"]
    assert measurement == "echo" and pi == 50e-9  # the defaults again
    assert len(sequence.windows("rf")) == 0
    assert np.allclose(np.diff(sequence.windows("mw")).ravel(), [25e-9, 50e-9, 25e-9])


def test_the_door_streams_every_point_of_odmr_as_it_is_taken(sensor):
    """What showscan and a GUI draw: the Door's RecordData, a record per point."""
    door = device(sensor, "nanomri/door/1")
    labels, records = {}, []

    def received(event):
        if event.err or event.attr_value is None:
            return
        message = json.loads(event.attr_value.value[1])
        if message.get("type") == "data_desc":
            labels.update((c["name"], c["label"]) for c in message["data"]["column_desc"])
        elif message.get("type") == "record_data":
            data = message["data"]
            records.append({**data, **{labels[k]: v for k, v in data.items() if k in labels}})

    sensor.run_ok("senv JsonRecorder True")
    subscription = door.subscribe_event("RecordData", tango.EventType.CHANGE_EVENT, received)
    try:
        f0 = nv_spin.ZERO_FIELD_SPLITTING
        sensor.run_ok(f"odmr {f0 - 20e6} {f0 + 20e6} 9 2000")
        deadline = time.monotonic() + 10
        while len(records) < 9 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        door.unsubscribe_event(subscription)
        sensor.run_ok("senv JsonRecorder False")
    assert [r["point_nb"] for r in records] == list(range(9))
    assert np.allclose([r["mw_frequency"] for r in records], np.linspace(f0 - 20e6, f0 + 20e6, 9))
    assert all(r["signal"] > 0 for r in records)


def test_a_sweep_with_one_point_is_refused_and_writes_nothing(sensor):
    done = sensor.cli("run", "rabi 0 1e-7 1 1000")
    assert done.returncode != 0 and "n >= 2" in done.stdout + done.stderr


def test_a_monitor_count_on_the_timed_counter_is_refused_by_name_and_the_group_counts_after(
        sensor):
    sensor.run_ok("senv ActiveMntGrp mg_counts")
    done = sensor.cli("run", "ascan mw_frequency 2.86e9 2.88e9 2 -1000")
    assert done.returncode != 0
    assert "photon counter counts for a time" in done.stdout + done.stderr
    assert "counts" in sensor.run_ok("ct 0.01").stdout


def tip_field(y_offset: float, height: float) -> tuple[float, float]:
    """B along the NV (T) and its gradient along y (T/m) with the tip's apex `y_offset` from
    the NV and `height` over the surface, from the world's tip."""
    nv = np.asarray(MODEL.sensor.nv_position)
    top = float(surface_height(MODEL.sample.surface, nv[0], nv[1]))
    tip = MODEL.sensor.tip[0]

    def b(dy):
        apex = np.array([nv[0], nv[1] + dy, top + height])
        return dipole_field(nv, (apex + tip.offset)[None], np.array([tip.moment]))[2]

    return b(y_offset), (b(y_offset + 1e-11) - b(y_offset - 1e-11)) / 2e-11


def test_a_ramsey_line_under_the_tip_has_fringes_of_the_tips_gradient(sensor):
    y0, height, tau = 23e-9, 30e-9, 450e-9
    b, gradient = tip_field(y0, height)
    nv = MODEL.sensor.nv_position
    top = float(surface_height(MODEL.sample.surface, nv[0], nv[1]))
    sensor.run_ok("senv NanomriPulses \"{'pi': 20e-9, 'pi_half': 10e-9}\"")
    try:
        sensor.run_ok(f"mv mw_power 0.06 mw_frequency {float(nv_spin.transition_frequency(b))}")
        sensor.run_ok(f"mv tip_x {nv[0]} tip_y {nv[1] + y0} tip_z {top + height}")
        # 3 nm of 0.5 Å pixels, 1e5 repetitions each: about 8 sigma of fringe amplitude
        y, ratio, _ = sweep(sensor, f"nvline tip_y {nv[1] + y0 - 1.5e-9} {nv[1] + y0 + 1.5e-9} "
                                    f"61 ramsey {tau} 100000", "tip_y")
    finally:
        sensor.run_ok("usenv NanomriPulses")
        sensor.run_ok(f"mv tip_z {MODEL.instruments.probe.position_max.z}")
    period = lines.fringe_period(y, ratio)
    assert period.value == pytest.approx(1 / (nv_spin.GAMMA_E * tau * abs(gradient)), rel=0.1)


def test_freqlock_follows_the_nv_resonance_the_tip_moves(sensor):
    """The locked MW frequency along a tip line is the NV's transition in the world tip's
    field (no bias field here: D - gamma_e B), to about its lock noise."""
    height, ys = 30e-9, np.linspace(15e-9, 25e-9, 21)  # ~3.3 MHz a pixel: 0.8 half width
    expected = nv_spin.transition_frequency([tip_field(y, height)[0] for y in ys])
    nv = MODEL.sensor.nv_position
    top = float(surface_height(MODEL.sample.surface, nv[0], nv[1]))
    try:
        sensor.run_ok(f"mv mw_power 2e-3 tip_x {nv[0]} tip_y {nv[1] + ys[0]} tip_z {top + height}")
        done = sensor.run_ok(f"freqlock {expected[0] + 5e6} 60e6 cw 10000 3 lock 0 0 "
                             f"tip_y {nv[1] + ys[0]} {nv[1] + ys[-1]} {len(ys)}")
    finally:
        sensor.run_ok(f"mv tip_z {MODEL.instruments.probe.position_max.z}")
    with h5py.File(written_file(done.stdout + done.stderr), "r") as h5:
        locked = h5["entry/measurement/mw_frequency"][()]
        assert h5["entry/end_status"][()] == b"Normal"
    assert "line 1 of 1 done, 0:00:00 left" in done.stdout
    assert np.ptp(expected) > 20e6  # the tip moves the resonance by several linewidths
    assert np.isfinite(locked).all()
    # ~1 MHz of noise a probe pair at 1e4 CW repetitions, and a lag of a few MHz at times
    # (seen: median 1.0 to 1.6 MHz) against a line of 8.5 MHz FWHM moving 33 MHz
    slope = np.polyfit(expected, locked, 1)[0]
    assert 0.85 < slope < 1.15
    assert np.median(np.abs(locked - expected)) < 2.5e6


@pytest.mark.parametrize("line, message", [
    ("freqlock 2.8e9 0 cw 1000 3 lock 0 0 tip_y 0 1e-9 3", "positive span"),
    ("freqlock 2.8e9 1e7 fast 1000 3 lock 0 0 tip_y 0 1e-9 3", "cw or pulsed"),
    ("freqlock 2.8e9 1e7 cw 1000 3 deer -1 1000 tip_y 0 1e-9 3", "positive time"),
    ("xyz deer 2e-6 1000 tip_y 0 1e-9 3 tip_y 0 1e-9 3", "motors must differ"),
])
def test_bad_lock_and_grid_lines_are_refused(sensor, line, message):
    done = sensor.cli("run", line)
    assert done.returncode != 0 and message in done.stdout + done.stderr


@pytest.mark.parametrize("setting, message", [
    ("'on'", "must be a dict of the tracking's settings, got str"),
    ("{'every': 10.0, 'nv': [0, 0, 0]}", "NanomriTrack lacks error, clock, wall"),
])
def test_a_scan_with_bad_tracking_settings_is_refused_by_name_and_writes_nothing(
        sensor, setting, message):
    scans = sorted((sensor.results / "scans").glob("scan_*.h5"))
    sensor.run_ok(f"senv NanomriTrack \"{setting}\"")
    try:
        done = sensor.cli("run", "nvraster tip_x 0 1e-9 2 tip_y 0 1e-9 2 t1 1e-6 100")
    finally:
        sensor.run_ok("usenv NanomriTrack")
    assert done.returncode != 0 and message in done.stdout + done.stderr, done.stdout
    assert sorted((sensor.results / "scans").glob("scan_*.h5")) == scans


def test_deer_with_the_nv_locked_sees_the_dark_spin_in_its_slice_and_echo_does_not(sensor):
    """seed 001: the NV kept on resonance by freqlock, DEER with the tip where its field brings
    the world's coherent dark spin to the RF frequency loses coherence that an echo (the same
    sequence without the RF pi pulse) keeps."""
    nv = np.asarray(MODEL.sensor.nv_position)
    spin = nv + np.asarray(MODEL.sensor.dark_spins.coherent[0])
    top = float(surface_height(MODEL.sample.surface, nv[0], nv[1]))
    magnet = device(sensor, "nanomri/confocal/magnet")
    bias = np.array([magnet.Bx, magnet.By, magnet.Bz])
    tip = MODEL.sensor.tip[0]
    x, z, ys = spin[0], top + 30e-9, nv[1] + np.linspace(10.5e-9, 13.5e-9, 10)

    def field(point, y):
        return dipole_field(point, (np.array([x, y, z]) + tip.offset)[None],
                            np.array([tip.moment])) + bias

    rf = device(sensor, "nanomri/confocal/rf")  # 5 MHz of Rabi frequency: a 100 ns pi pulse
    rf.power, rf.output = 1e-2, True
    rf.frequency = nv_spin.GAMMA_E * np.linalg.norm(field(spin, nv[1] + 12e-9))  # ~6 nm wide
    nv_f = nv_spin.transition_frequency(field(nv, ys[0])[2])
    sensor.run_ok("senv NanomriPulses \"{'pi': 100e-9, 'pi_half': 50e-9, 'rf_pi': 100e-9}\"")
    ratios = {}
    try:
        sensor.run_ok(f"mv mw_power 2.5e-3 tip_x {x} tip_y {ys[0]} tip_z {z}")
        for mode in ("deer", "echo"):
            # tau = 9 us: the spin's ~50 kHz coupling turns the NV's phase by ~pi, the ratio
            # ~0.05 lower; 3e5 repetitions count ~4600 photons a gate: a ratio to ~0.02
            done = sensor.run_ok(f"freqlock {nv_f} 60e6 cw 10000 2 {mode} 9e-6 300000 "
                                 f"tip_y {ys[0]} {ys[-1]} {len(ys)}")
            with h5py.File(written_file(done.stdout + done.stderr), "r") as h5:
                ratios[mode] = h5["entry/measurement/ratio"][()]
                assert np.isfinite(h5["entry/measurement/mw_frequency"][()]).all()
            sensor.run_ok(f"mv tip_y {ys[0]}")
    finally:
        sensor.run_ok("usenv NanomriPulses")
        sensor.run_ok(f"mv tip_z {MODEL.instruments.probe.position_max.z}")
        rf.output = False
    assert np.isfinite(ratios["deer"]).all() and np.isfinite(ratios["echo"]).all()
    assert ratios["echo"].mean() - ratios["deer"].mean() > 0.025  # 3 sigma from 0 and 0.05


def scanner_position(stack: StackRun) -> np.ndarray:
    scanner = device(stack, "nanomri/confocal/scanner")
    return np.array([scanner.x, scanner.y, scanner.z])


def test_refocus_brings_the_confocal_spot_back_onto_the_nv(sensor):
    nv = np.asarray(MODEL.sample.nv_centres[MODEL.sensor.nv])
    off = nv + [150e-9, -100e-9, 300e-9]
    sensor.run_ok(f"mv x {off[0]} y {off[1]} z {off[2]}")
    try:
        done = sensor.run_ok("refocus")
        error = scanner_position(sensor) - nv
    finally:
        sensor.run_ok(f"mv x {nv[0]} y {nv[1]} z {nv[2]}")
    assert "refocused: x" in done.stdout
    assert np.all(np.abs(error[:2]) < 30e-9) and abs(error[2]) < 100e-9, error


def test_refocus_far_from_any_nv_is_refused_and_leaves_the_focus(sensor):
    nv = np.asarray(MODEL.sample.nv_centres[MODEL.sensor.nv])
    away = nv + [-3e-6, -3e-6, 0.0]  # no NV within microns: background only
    sensor.run_ok(f"mv x {away[0]} y {away[1]} z {away[2]}")
    try:
        done = sensor.cli("run", "refocus 0.005")
        where = scanner_position(sensor)
    finally:
        sensor.run_ok(f"mv x {nv[0]} y {nv[1]} z {nv[2]}")
    assert done.returncode != 0 and "no NV along x" in done.stdout + done.stderr
    assert np.allclose(where, away, atol=1e-9)


def test_a_long_nv_scan_refocuses_between_lines_when_asked(sensor):
    """Env NanomriRefocus: the focus, put 150 nm off, is back on the NV after the first line."""
    nv = np.asarray(MODEL.sample.nv_centres[MODEL.sensor.nv])
    tip = MODEL.sensor.nv_position
    sensor.run_ok(f"mv x {nv[0] + 150e-9} y {nv[1]} z {nv[2]}")
    sensor.run_ok("senv NanomriRefocus 0.001")
    try:
        done = sensor.run_ok(f"xyz t1 1e-6 1000 tip_y {tip[1]} {tip[1] + 1e-9} 2 "
                             f"tip_x {tip[0]} {tip[0] + 2e-9} 3")
        error = scanner_position(sensor) - nv
    finally:
        sensor.run_ok("usenv NanomriRefocus")
        sensor.run_ok(f"mv x {nv[0]} y {nv[1]} z {nv[2]}")
    assert done.stdout.count("refocused: x") == 1  # between the two lines, not after the last
    assert np.all(np.abs(error[:2]) < 30e-9), error


def test_nvraster_runs_general_hooks_and_a_pause_loses_or_doubles_no_pixel(sensor):
    """nvraster is a Sardana scan: `defgh` hooks run at its every pixel, and a pause and
    resume mid-image leave every pixel recorded once."""
    nv = MODEL.sensor.nv_position
    line = (f"nvraster tip_x {nv[0]} {nv[0] + 4e-9} 5 tip_y {nv[1]} {nv[1] + 3e-9} 4 "
            "t1 1e-6 50000")  # ~1.5 s a line: time to see the first and pause before the last
    door = device(sensor, "nanomri/door/1")
    before = set((sensor.results / "scans").glob("scan_*.h5"))
    sensor.run_ok("defgh laser_on pre-acq")
    run = subprocess.Popen([*NANOMRI, "run", line], env=sensor.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        path = next_file(sensor, before)
        wait_for(lambda: 5 <= np.isfinite(read_columns(path)[1]["ratio"]).sum() < 15)
        door.PauseMacro()
        wait_for(lambda: door.state() == tango.DevState.STANDBY)
        paused_at = np.isfinite(read_columns(path)[1]["ratio"]).sum()
        time.sleep(1.0)
        assert np.isfinite(read_columns(path)[1]["ratio"]).sum() == paused_at  # paused
        door.ResumeMacro()
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            door.AbortMacro()  # the Door free for the next test
            run.communicate(timeout=60)
        sensor.run_ok("udefgh laser_on")
    assert run.returncode == 0, out + err
    assert 5 <= paused_at < 20
    assert out.count("laser on at") == 20  # the hook at every pixel
    with h5py.File(path, "r") as h5:
        assert h5["entry/end_status"][()] == b"Normal"
        image = h5["entry/data/ratio"][()]
    columns = read_columns(path)[1]
    assert image.shape == (4, 5) and np.isfinite(image).all()
    assert sorted(columns["point_nb"]) == list(range(20))
    pixels = {(round(x * 1e12), round(y * 1e12)) for x, y in zip(columns["tip_x"],
                                                                  columns["tip_y"], strict=True)}
    assert len(pixels) == 20


def next_file(stack: StackRun, before: set, timeout: float = 60) -> Path:
    """The scan file that appears after `before` was listed."""
    wait_for(lambda: set((stack.results / "scans").glob("scan_*.h5")) - before, timeout)
    (path,) = set((stack.results / "scans").glob("scan_*.h5")) - before
    return path


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
