"""The EMCCD: simulated driver on a fake clock (timing, shapes, gain statistics, cooling,
triggers, pair sums) and the Tango device in the test context (frames, events, refusals)."""

import math
import time
from types import SimpleNamespace

import numpy as np
import pytest
import tango
import yaml

from nanomri.devices.camera import EMCCD
from nanomri.interfaces.camera import TriggerMode
from nanomri.interfaces.errors import Refused
from nanomri.interfaces.laser import LaserMode
from nanomri.sequence import Pulse, Sequence
from nanomri.simulators.drivers.camera import SimCamera
from nanomri.simulators.drivers.laser import SimLaser
from nanomri.simulators.playback import Playback
from nanomri.simulators.sim_world import SimWorld
from nanomri.world import load_world

from .fake_clock import FakeClock
from .tango_context import CONFOCAL, device, reason, wait_while

MODEL = load_world(CONFOCAL)
SPEC = MODEL.instruments.camera
POWER = MODEL.instruments.laser.initial_power


def setup(laser_on: bool = True):
    clock = FakeClock()
    world = SimWorld(MODEL, clock)
    camera, laser = SimCamera(world, SPEC), SimLaser(world)
    if laser_on:
        laser.set_emission(True)
    clock.now += 1.0
    return clock, world, camera, laser


def cool(clock, camera) -> None:
    camera.set_cooler(True)
    clock.now += (SPEC.ambient_temperature - SPEC.min_temperature) / SPEC.cooling_rate + 1.0


def electrons(frames) -> np.ndarray:
    """Frames in counts back to electrons at the EM output."""
    return (np.asarray(frames, dtype=float) - SPEC.baseline) * SPEC.e_per_count


def take(clock, camera, n: int) -> list[np.ndarray]:
    camera.acquire(n)
    clock.now += n * camera.frame_period() + camera.readout_time() + 1e-6
    assert camera.frame_count() == n and not camera.is_acquiring()
    return [image for _, _, image in camera.frames_since(0)][-n:]


# simulated driver ---------------------------------------------------------------------

def test_readout_time_is_rows_times_vertical_shift_plus_pixels_over_rate():
    _, _, camera, _ = setup()
    full = SPEC.height * SPEC.vertical_shift_time + SPEC.width * SPEC.height / 17e6
    assert camera.readout_time() == pytest.approx(full)
    camera.set_readout_rate(5e6)
    camera.set_roi((10, 20, 64, 32), 4)
    assert camera.readout_time() == pytest.approx(32 * SPEC.vertical_shift_time + 16 * 8 / 5e6)


def test_internal_frames_come_every_max_of_exposure_and_readout():
    clock, _, camera, _ = setup()
    camera.set_readout_rate(1e6)
    camera.set_roi((0, 0, 64, 64), 1)
    readout = 64 * SPEC.vertical_shift_time + 64 * 64 / 1e6
    for exposure, period in ((1e-3, readout), (10e-3, 10e-3)):
        camera.set_exposure(exposure)
        assert camera.frame_period() == pytest.approx(period)
        start = clock.now
        camera.acquire(3)
        clock.now = start + period + readout - 1e-7
        assert camera.frame_count() == 0 and camera.is_acquiring()
        clock.now = start + period + readout + 1e-7
        assert camera.frame_count() == 1
        clock.now = start + 3 * period + readout + 1e-7
        assert camera.frame_count() == 3 and not camera.is_acquiring()


def test_roi_and_binning_set_the_image_shape_and_binning_adds_pixels():
    clock, _, camera, _ = setup()
    camera.set_exposure(0.1)
    camera.set_roi((8, 16, 64, 64), 1)
    single = electrons(take(clock, camera, 1)[0])
    camera.set_roi((8, 16, 48, 24), 4)
    assert take(clock, camera, 1)[0].shape == (6, 12)
    camera.set_roi((8, 16, 128, 128), 2)
    binned = electrons(take(clock, camera, 1)[0])
    assert binned.shape == (64, 64)
    expected = SPEC.quantum_efficiency * SPEC.photons_per_watt * POWER * 0.1
    assert single.mean() == pytest.approx(expected, rel=0.05)
    assert binned.mean() == pytest.approx(4 * expected, rel=0.05)


def test_em_gain_multiplies_the_mean_with_excess_noise_factor_sqrt2():
    clock, _, camera, _ = setup()
    cool(clock, camera)
    camera.set_roi((0, 0, 128, 128), 1)
    # gain 1: Poisson photoelectrons and read noise, F^2 = 1; exposure for ~900 e
    camera.set_exposure(1.0)
    lam = SPEC.quantum_efficiency * SPEC.photons_per_watt * POWER * 1.0
    e = electrons(take(clock, camera, 2))
    assert e.mean() == pytest.approx(lam, rel=0.01)
    assert (e.var() - SPEC.read_noise**2) / lam == pytest.approx(1.0, abs=0.15)
    # gain 500 on ~9 e: mean g*lambda, variance F^2 g^2 lambda with F^2 -> 2 (Basden 2003)
    camera.set_exposure(0.01)
    camera.set_em_gain(500)
    lam = SPEC.quantum_efficiency * SPEC.photons_per_watt * POWER * 0.01 + \
        SPEC.clock_induced_charge
    e = electrons(take(clock, camera, 4))
    assert e.mean() == pytest.approx(500 * lam, rel=0.02)
    excess = (e.var() - SPEC.read_noise**2) / (500**2 * lam)
    assert math.sqrt(excess) == pytest.approx(math.sqrt(2), rel=0.03)


def test_sensor_cools_at_the_cooling_rate_to_the_set_point_and_warms_back_when_off():
    clock, _, camera, _ = setup()
    assert camera.temperature() == SPEC.ambient_temperature
    camera.set_setpoint(233.15)
    camera.set_cooler(True)
    clock.now += 10.0
    assert camera.temperature() == pytest.approx(SPEC.ambient_temperature - 10 * SPEC.cooling_rate)
    clock.now += 1000.0
    assert camera.temperature() == pytest.approx(233.15 + SPEC.temperature_offset)
    camera.set_cooler(False)
    clock.now += 10.0
    assert camera.temperature() == pytest.approx(233.15 + 10 * SPEC.cooling_rate)
    with pytest.raises(Refused) as exc:
        camera.set_setpoint(SPEC.min_temperature - 1)
    assert exc.value.reason == "OUT_OF_RANGE" and camera.setpoint() == 233.15


def test_em_gain_is_refused_on_a_warm_sensor_and_allowed_once_cold():
    clock, _, camera, _ = setup()
    camera.set_em_gain(300)
    with pytest.raises(Refused, match="below 263.15 K") as exc:
        camera.acquire(2)
    assert exc.value.reason == "WARM" and not camera.is_acquiring()
    camera.set_cooler(True)
    clock.now += 20.0  # cooling towards the set point, still above the limit
    with pytest.raises(Refused):
        camera.acquire(2)
    clock.now += 200.0
    camera.acquire(2)
    assert camera.is_acquiring()
    camera.stop()
    camera.set_setpoint(273.15)  # a set point above the limit: the sensor would warm up
    with pytest.raises(Refused, match="set point 273.15 K"):
        camera.acquire(2)
    camera.set_em_gain(1)
    camera.acquire(2)  # without EM gain a warm sensor is fine


def test_sums_hold_the_even_on_and_odd_off_frames_of_complete_pairs():
    clock, _, camera, laser = setup(laser_on=False)
    camera.set_roi((0, 0, 32, 32), 2)
    camera.set_exposure(0.05)
    period, start = camera.frame_period(), clock.now
    camera.acquire(5)
    for k in range(5):  # laser on during even frames only, as the MW in ODMR on/off pairs
        clock.now = start + k * period
        laser.set_emission(k % 2 == 0)
    clock.now = start + 5 * period + camera.readout_time() + 1e-6
    frames = [image.astype(float) for _, _, image in camera.frames_since(0)]
    on, off, pairs = camera.sums()
    assert len(frames) == 5 and pairs == 2
    np.testing.assert_array_equal(on, frames[0] + frames[2])
    np.testing.assert_array_equal(off, frames[1] + frames[3])
    warm = SPEC.ambient_temperature - SPEC.dark_current_temperature  # dark current of a warm CCD
    dark = 4 * (SPEC.dark_current * 2 ** (warm / SPEC.dark_current_doubling) * period +
                SPEC.clock_induced_charge)
    light = 4 * SPEC.quantum_efficiency * SPEC.photons_per_watt * POWER * period
    assert electrons(on / 2).mean() == pytest.approx(light + dark, rel=0.05)
    assert electrons(off / 2).mean() == pytest.approx(dark, rel=0.3)
    assert camera.last_image() is frames[4] or np.array_equal(camera.last_image(), frames[4])


def play(world, clock, sequence: Sequence, repetitions: int) -> Playback:
    """A sequencer stand-in whose playback starts now."""
    playback = Playback(sequence, clock.now, repetitions)
    world.links.sequencer = SimpleNamespace(playback=playback)
    return playback


def test_laser_energy_integrates_the_power_steps_over_the_exposure():
    clock, _, camera, laser = setup(laser_on=False)
    start = clock.now
    clock.now = start + 0.25
    laser.set_emission(True)
    clock.now = start + 2.0
    energy = camera.laser_energy(start, start + 1.0)
    assert energy == pytest.approx(POWER * (0.75 - MODEL.instruments.laser.switch_time))




def test_a_gated_laser_lights_the_exposure_only_while_the_laser_channel_is_high():
    clock, world, camera, laser = setup()
    laser.set_mode(LaserMode.GATED)
    play(world, clock, Sequence((Pulse("laser", 1e-6, 2.5e-6),), 10e-6), 10**7)
    start = clock.now + 1e-6
    clock.now += 5.0
    # 5e4 repetitions: integrated exactly on the sequencer's edges
    assert camera.laser_energy(start, start + 0.5) == pytest.approx(0.25 * POWER * 0.5, rel=1e-6)
    # 3e5 repetitions, too many edges to list: stratified samples of the same mean
    assert camera.laser_energy(start, start + 3.0) == pytest.approx(0.25 * POWER * 3.0, rel=0.01)


def test_external_trigger_takes_one_frame_per_camera_pulse_exposed_for_the_pulse():
    clock, world, camera, laser = setup()
    laser.set_power(20e-3)
    camera.set_roi((0, 0, 32, 32), 1)
    camera.set_trigger_mode(TriggerMode.EXTERNAL)
    pulses = (Pulse("camera", 0.0, 20e-3), Pulse("camera", 30e-3, 10e-3))
    start = play(world, clock, Sequence(pulses, 50e-3), 10).start
    clock.now = start + 0.199  # four repetitions played before Acquire: their pulses are ignored
    camera.acquire(6)
    clock.now += 10e-3
    assert camera.frame_count() == 0
    clock.now = start + 7 * 50e-3 + 1e-4
    assert camera.frame_count() == 6 and not camera.is_acquiring()
    on, off, pairs = camera.sums()
    on_e, off_e = electrons(on / pairs).mean(), electrons(off / pairs).mean()
    assert pairs == 3
    assert on_e == pytest.approx(SPEC.quantum_efficiency * SPEC.photons_per_watt * 20e-3 * 20e-3,
                                 rel=0.03)
    assert on_e / off_e == pytest.approx(2.0, rel=0.05)
    assert camera.missed_triggers() == 0


def test_a_trigger_pulse_ending_before_the_last_frame_is_read_out_is_missed():
    clock, world, camera, _ = setup()
    camera.set_readout_rate(1e6)
    camera.set_roi((0, 0, 512, 16), 1)
    camera.set_trigger_mode(TriggerMode.EXTERNAL)
    assert camera.readout_time() > 2e-3
    sequence = Sequence((Pulse("camera", 0.0, 1e-3), Pulse("camera", 2e-3, 1e-3)), 40e-3)
    camera.acquire(3)
    play(world, clock, sequence, 100)
    clock.now += 1.0
    assert camera.frame_count() == 3 and camera.missed_triggers() == 2


def test_settings_are_refused_while_acquiring_or_out_of_range_and_stay_unchanged():
    clock, _, camera, _ = setup()
    camera.set_roi((0, 0, 64, 64), 2)
    before = (camera.exposure(), camera.em_gain(), camera.readout_rate(), camera.roi(),
              camera.binning(), camera.trigger_mode(), camera.setpoint(), camera.cooler())
    for call, why in ((lambda: camera.set_roi((480, 0, 64, 64), 2), "ROI"),
                      (lambda: camera.set_roi((0, 0, 0, 64), 1), "ROI"),
                      (lambda: camera.set_roi((0, 0, 60, 64), 8), "BINNING"),
                      (lambda: camera.set_exposure(SPEC.max_exposure * 2), "OUT_OF_RANGE"),
                      (lambda: camera.set_exposure(math.nan), "OUT_OF_RANGE"),
                      (lambda: camera.set_em_gain(SPEC.max_em_gain + 1), "OUT_OF_RANGE"),
                      (lambda: camera.set_readout_rate(2e6), "NOT_OFFERED"),
                      (lambda: camera.acquire(0), "OUT_OF_RANGE")):
        with pytest.raises(Refused) as exc:
            call()
        assert exc.value.reason == why
    camera.acquire(100)
    for call in (lambda: camera.set_exposure(0.5), lambda: camera.set_em_gain(2),
                 lambda: camera.set_readout_rate(1e6), lambda: camera.set_roi((0, 0, 8, 8), 1),
                 lambda: camera.set_trigger_mode(TriggerMode.EXTERNAL),
                 lambda: camera.set_cooler(True), lambda: camera.set_setpoint(250.0),
                 lambda: camera.acquire(1)):
        with pytest.raises(Refused) as exc:
            call()
        assert exc.value.reason == "BUSY"
    after = (camera.exposure(), camera.em_gain(), camera.readout_rate(), camera.roi(),
             camera.binning(), camera.trigger_mode(), camera.setpoint(), camera.cooler())
    assert after == before
    clock.now += 0.1
    camera.stop()
    assert not camera.is_acquiring() and 0 < camera.frame_count() < 100


# Tango device ----------------------------------------------------------------------------

SETTINGS = ("exposure", "em_gain", "readout_rate", "binning", "trigger_mode",
            "temperature_setpoint", "cooler")


def settings(camera) -> dict:
    values = {name: camera.read_attribute(name).value for name in SETTINGS}
    values["roi"] = list(camera.roi)
    return values


def test_camera_acquires_n_frames_into_pair_sums_and_pushes_an_event_per_frame():
    with device(EMCCD) as camera:
        camera.roi = [0, 0, 32, 32]
        camera.binning = 4
        camera.exposure = 2e-3
        images, counts = [], []
        camera.subscribe_event("image", tango.EventType.CHANGE_EVENT,
                               lambda e: images.append(None if e.err else e.attr_value.value))
        camera.subscribe_event("frame_count", tango.EventType.CHANGE_EVENT,
                               lambda e: counts.append(None if e.err else e.attr_value.value))
        camera.Acquire(10)
        assert camera.state() == tango.DevState.RUNNING
        wait_while(camera, tango.DevState.RUNNING)
        assert camera.state() == tango.DevState.ON
        assert camera.frame_count == 10 and camera.frames_requested == 10 and camera.pairs == 5
        assert camera.on_sum.shape == camera.off_sum.shape == camera.image.shape == (8, 8)
        # laser blanked in this process: dark frames at the ADC baseline, 5 per sum
        assert camera.on_sum.mean() == pytest.approx(5 * SPEC.baseline, rel=0.05)
        deadline = time.monotonic() + 5.0
        while (len(images) < 11 or counts[-1] != 10) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(images) == 11  # the value at subscription, then one per frame
        assert all(image.shape == (8, 8) for image in images[1:])
        assert counts[-10:] == list(range(1, 11))


def test_camera_refuses_bad_settings_and_keeps_the_old_ones():
    with device(EMCCD) as camera:
        camera.roi = [0, 0, 64, 64]
        camera.binning = 2
        before = settings(camera)
        for name, value, why in (("roi", [480, 0, 64, 64], "NANOMRI_ROI"),
                                 ("roi", [0, 0, 64], "NANOMRI_SHAPE"),
                                 ("roi", [0, 0, 64, 63], "NANOMRI_BINNING"),
                                 ("roi", [-1, 0, 64, 64], "API_WAttrOutsideLimit"),
                                 ("binning", 3, "NANOMRI_BINNING"),
                                 ("binning", 0, "API_WAttrOutsideLimit"),
                                 ("exposure", SPEC.max_exposure * 2, "API_WAttrOutsideLimit"),
                                 ("exposure", math.nan, "API_WAttrOutsideLimit"),
                                 ("em_gain", 0, "API_WAttrOutsideLimit"),
                                 ("readout_rate", 2e6, "NANOMRI_NOT_OFFERED"),
                                 ("trigger_mode", 7, "API_WAttrOutsideLimit"),
                                 ("temperature_setpoint", 400.0, "API_WAttrOutsideLimit")):
            with pytest.raises(tango.DevFailed) as exc:
                camera.write_attribute(name, value)
            assert reason(exc) == why, (name, value)
        with pytest.raises(tango.DevFailed) as exc:
            camera.Acquire(-3)
        assert reason(exc) == "NANOMRI_OUT_OF_RANGE"
        assert settings(camera) == before and camera.state() == tango.DevState.ON


def test_camera_refuses_changes_while_acquiring_and_stop_keeps_frames_and_cooler():
    with device(EMCCD) as camera:
        camera.roi = [0, 0, 16, 16]
        camera.exposure = 0.02
        camera.cooler = True
        before = settings(camera)
        camera.Acquire(1000)
        for name, value in (("exposure", 0.01), ("em_gain", 2), ("readout_rate", 1e6),
                            ("roi", [0, 0, 8, 8]), ("binning", 2), ("trigger_mode", 1),
                            ("temperature_setpoint", 250.0), ("cooler", False)):
            with pytest.raises(tango.DevFailed) as exc:
                camera.write_attribute(name, value)
            assert reason(exc) == "NANOMRI_BUSY", name
        with pytest.raises(tango.DevFailed) as exc:
            camera.Acquire(5)
        assert reason(exc) == "NANOMRI_BUSY"
        time.sleep(0.1)
        camera.SafeState()
        assert camera.state() == tango.DevState.ON
        assert 0 < camera.frame_count < 1000
        assert settings(camera) == before and camera.cooler is True


def test_em_gain_on_a_warm_sensor_is_an_alarm_and_acquire_waits_for_the_cold(tmp_path):
    world = yaml.safe_load(CONFOCAL.read_text())
    world["instruments"]["camera"]["cooling_rate"] = 2000.0  # K/s: cold in 50 ms
    path = tmp_path / "fast_cooling.yaml"
    path.write_text(yaml.safe_dump(world))
    with device(EMCCD, driver=f"sim:{path}") as camera:
        camera.roi = [0, 0, 16, 16]
        camera.exposure = 1e-3
        camera.em_gain = 100
        assert camera.state() == tango.DevState.ALARM
        assert "263.1" in camera.status()
        with pytest.raises(tango.DevFailed) as exc:
            camera.Acquire(2)
        assert reason(exc) == "NANOMRI_WARM" and camera.frame_count == 0
        camera.cooler = True
        time.sleep(0.2)
        camera.set_source(tango.DevSource.DEV)  # not the 1 s polling cache of temperature
        assert camera.temperature == pytest.approx(SPEC.min_temperature)
        assert camera.state() == tango.DevState.ON
        camera.Acquire(2)
        wait_while(camera, tango.DevState.RUNNING)
        assert camera.frame_count == 2


def test_camera_limits_and_units_come_from_the_world_file():
    with device(EMCCD) as camera:
        exposure = camera.get_attribute_config("exposure")
        assert float(exposure.min_value) == SPEC.min_exposure and exposure.unit == "s"
        assert int(camera.get_attribute_config("em_gain").max_value) == SPEC.max_em_gain
        assert list(camera.readout_rates) == SPEC.readout_rates
        assert camera.get_attribute_config("temperature").unit == "K"
        assert camera.readout_time == pytest.approx(
            SPEC.height * SPEC.vertical_shift_time + SPEC.width * SPEC.height / 17e6)
        assert camera.temperature == SPEC.ambient_temperature and camera.cooler is False
