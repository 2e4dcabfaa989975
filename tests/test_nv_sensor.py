"""The sensor NV through the simulated instruments: what they were told decides what it shows."""

import numpy as np
import pytest
import yaml

from nanomri import nv_sequences as sq
from nanomri import nv_spin
from nanomri.interfaces.laser import LaserMode
from nanomri.simulators.drivers.laser import SimLaser
from nanomri.simulators.drivers.magnet import SimVectorMagnet
from nanomri.simulators.drivers.photon_counter import SimPhotonCounter
from nanomri.simulators.drivers.scan_head import SimProbe
from nanomri.simulators.drivers.scanner import SimScanner
from nanomri.simulators.drivers.signal_generator import SimSignalGenerator
from nanomri.simulators.nv_sensor import SimSensor
from nanomri.simulators.playback import Playback
from nanomri.simulators.sim_world import SimWorld
from nanomri.world import World

from .fake_clock import FakeClock
from .tango_context import CONFOCAL

SENSOR = {
    "nv": 0,
    "nv_position": [2.5e-6, 2.5e-6, 0.4925e-6],  # 10 nm under the surface at the tip's x, y
    "nv_axis": [0.0, 0.0],
    "spin": {"t1": 3.3e-3, "t2": 50e-6, "t2_star": 2e-6, "contrast": 0.3,
             "polarisation": 0.9, "pumping_time": 0.2e-6, "rabi_per_sqrt_watt": 1e8},
    "tip": [{"offset": [0.0, 0.0, 20e-9], "moment": [0.0, 0.0, 1e-17]}],
    "dark_spins": {"t2_star": 150e-9, "rf_rabi_per_sqrt_watt": 5e7,
                   "coherent": [[3.0e-9, 0.0, 7.0e-9]]},  # ~180 kHz: a cycle in ~5.5 us
}
POWER = 1e-2  # W of MW: 10 MHz Rabi frequency
REPETITIONS = 1_000_000  # ~25000 counts a gate: ratios to about 1 %
LASER = 5e-3  # W


class Sequencer:
    playback: Playback | None = None


class Lab:
    """The simulated instruments of a world with a sensor NV, on a fake clock."""

    def __init__(self, sensor: dict = SENSOR):
        data = yaml.safe_load(CONFOCAL.read_text())
        model = World.model_validate({**data, "sensor": sensor})
        self.clock = FakeClock(50.0)
        world = SimWorld(model, self.clock)
        self.world = world
        scanner, laser = SimScanner(world), SimLaser(world)
        for axis, value in zip("xyz", model.sample.nv_centres[0], strict=True):
            scanner.move_to(axis, value)
        laser.set_mode(LaserMode.GATED)
        laser.set_power(LASER)
        laser.set_emission(True)
        self.mw = SimSignalGenerator(world, model.instruments.mw)
        self.rf = SimSignalGenerator(world, model.instruments.rf)
        world.links.mw, world.links.rf = self.mw, self.rf
        self.magnet = SimVectorMagnet(world, model.instruments.magnet)
        world.links.magnet = self.magnet
        self.probe = world.links.probe = SimProbe(world)
        self.sequencer = Sequencer()
        world.links.sequencer = self.sequencer
        self.counter = SimPhotonCounter(world)
        self.mw.set_power(POWER)
        self.mw.set_output(True)
        self.clock.now += 10.0

    def ratio(self, sequence) -> float:
        """Signal over reference gate of `sequence` played REPETITIONS times."""
        self.counter.arm()
        self.sequencer.playback = Playback(sequence, self.clock.now + 1e-3, REPETITIONS)
        self.clock.now += 1e-3 + REPETITIONS * sequence.length + 1e-6
        counts = self.counter.gate_counts()
        return counts[0] / counts[1]


def test_a_resonant_mw_gives_rabi_oscillations_and_an_mw_left_off_gives_none():
    lab = Lab()
    lab.mw.set_frequency(float(nv_spin.transition_frequency(0.0)))
    lab.clock.now += 1.0
    pi, two_pi = lab.ratio(sq.rabi(50e-9)), lab.ratio(sq.rabi(100e-9))
    assert pi < 0.9 and two_pi > 0.97
    lab.mw.set_output(False)
    lab.clock.now += 1.0
    assert lab.ratio(sq.rabi(50e-9)) == pytest.approx(1.0, abs=0.02)


def test_pulsed_odmr_dips_where_the_magnet_puts_the_resonance():
    lab = Lab()
    lab.magnet.ramp_to((0.0, 0.0, 0.01))
    lab.clock.now += 600.0
    expected = nv_spin.transition_frequency(0.01)
    frequencies = expected + np.linspace(-20e6, 20e6, 21)
    dips = []
    for f in frequencies:
        lab.mw.set_frequency(float(f))
        lab.clock.now += 0.01
        dips.append(lab.ratio(sq.pulsed_odmr(50e-9)))
    depth = np.clip(1 - np.array(dips), 0, None) ** 2  # the dip's weight, its noisy top low
    centre = np.sum(depth * frequencies) / np.sum(depth)
    assert centre == pytest.approx(expected, abs=1.5e6)
    assert min(dips) < 0.9 and max(dips) > 0.97


def test_the_tip_over_the_nv_shifts_its_resonance():
    lab = Lab()
    f0 = float(nv_spin.transition_frequency(0.0))
    lab.mw.set_frequency(f0)
    lab.clock.now += 1.0
    far = lab.ratio(sq.pulsed_odmr(50e-9))
    lab.probe.move_to("z", 0.5025e-6 + 30e-9)  # the tip 30 nm over the surface, above the NV
    lab.clock.now += 10.0
    near = lab.ratio(sq.pulsed_odmr(50e-9))
    assert far < 0.9 and near > 0.97  # tens of MHz off resonance now


def deer_lab(sensor: dict = SENSOR) -> Lab:
    """10 mT on the NV axis, MW on the NV, RF on a g = 2 spin (280 MHz) with a 100 ns pi."""
    lab = Lab(sensor)
    lab.magnet.ramp_to((0.0, 0.0, 0.01))
    lab.clock.now += 600.0
    lab.mw.set_frequency(float(nv_spin.transition_frequency(0.01)))
    lab.rf.set_frequency(28e9 * 0.01)
    lab.rf.set_power(1e-2)  # 5 MHz Rabi
    lab.rf.set_output(True)
    lab.clock.now += 1.0
    return lab


TAUS = np.arange(0.5e-6, 8e-6, 0.5e-6)


def sweep(lab: Lab, rf_pi: float) -> np.ndarray:
    return np.array([lab.ratio(sq.deer(t, 25e-9, 50e-9, rf_pi)) for t in TAUS])


def test_deer_sees_the_dark_spin_only_with_the_rf_pi_pulse_at_its_resonance():
    lab = deer_lab()
    with_rf, echo = sweep(lab, 100e-9), sweep(lab, 0.0)
    assert (echo - with_rf).mean() > 0.03  # ratios to ~1 %: their mean to ~0.3 %
    lab.rf.set_frequency(28e9 * 0.01 + 30e6)  # off the spin's resonance
    lab.clock.now += 1.0
    assert abs((echo - sweep(lab, 100e-9)).mean()) < 0.01


def test_an_echo_without_the_rf_pulse_is_the_same_with_or_without_dark_spins():
    no_spins = {k: v for k, v in SENSOR.items() if k != "dark_spins"}
    difference = sweep(deer_lab(), 0.0) - sweep(deer_lab(no_spins), 0.0)
    assert abs(difference.mean()) < 0.01


def test_without_magnet_or_tip_the_dark_spins_leave_a_finite_readout():
    data = yaml.safe_load(CONFOCAL.read_text())
    model = World.model_validate({**data, "sensor": SENSOR})
    world = SimWorld(model, FakeClock(50.0))
    sensor = SimSensor(world, model.sensor)  # nothing linked: zero field everywhere
    seq = sq.deer(1e-6, 25e-9, 50e-9, 100e-9)
    assert np.isfinite(sensor.brightness(seq, np.array([60.0, 61.0]))).all()


def test_a_still_pixel_computes_its_dark_spins_once_and_gets_the_same_brightness(monkeypatch):
    """NV, tip, field and RF the same at every sampled repetition: one geometry for all; the
    brightness is what the per-repetition computation gives."""
    lab = deer_lab()
    sensor = lab.counter._sensor
    seq = sq.deer(2e-6, 25e-9, 50e-9, 100e-9)
    starts = lab.clock.now + np.arange(16) * seq.length
    rf = lab.rf.output_at(starts)
    nv_at, apex = sensor.nv_position(starts), sensor.apex(starts)
    assert sensor._still(nv_at, apex, starts, rf)
    once = sensor.brightness(seq, starts)
    monkeypatch.setattr(type(sensor), "_still", lambda *args: False)
    assert np.allclose(sensor.brightness(seq, starts), once, rtol=1e-9, atol=0)


def test_a_moving_tip_is_not_still():
    lab = deer_lab()
    sensor = lab.counter._sensor
    lab.probe.move_to("x", 2.6e-6)  # under way: the apex differs between repetitions
    starts = lab.clock.now + np.arange(16) * 1e-3
    rf = lab.rf.output_at(starts)
    assert not sensor._still(sensor.nv_position(starts), sensor.apex(starts), starts, rf)
