"""The simulated counter in sequence mode: counts per gate window of what the sequencer played."""

import numpy as np
import pytest
from scipy.optimize import curve_fit

from nanomri import nv_sequences as sq
from nanomri import nv_spin
from nanomri.confocal import detected_rate
from nanomri.interfaces.errors import Refused
from nanomri.interfaces.laser import LaserMode
from nanomri.interfaces.photon_counter import CountingMode
from nanomri.interfaces.signal_generator import Mode, Sweep, TriggerSource
from nanomri.sequence import Pulse, Sequence
from nanomri.simulators.drivers.laser import SimLaser
from nanomri.simulators.drivers.magnet import SimVectorMagnet
from nanomri.simulators.drivers.photon_counter import SimPhotonCounter
from nanomri.simulators.drivers.scanner import SimScanner
from nanomri.simulators.drivers.sequencer import SimSequencer
from nanomri.simulators.drivers.signal_generator import SimSignalGenerator
from nanomri.simulators.playback import Playback
from nanomri.simulators.sim_world import SimWorld
from nanomri.world import load_world

from .fake_clock import FakeClock
from .tango_context import CONFOCAL

MODEL = load_world(CONFOCAL)
NV = MODEL.sample.nv_centres[0]
# laser 3 µs; gate A in the laser pulse, gate B in the dark after it
SEQUENCE = Sequence((Pulse("laser", 0.0, 3e-6), Pulse("gate", 1e-6, 1e-6),
                     Pulse("gate", 5e-6, 1e-6)), 10e-6)


class Sequencer:
    playback: Playback | None = None


def setup():
    clock = FakeClock(50.0)
    world = SimWorld(MODEL, clock)
    scanner, laser, counter = SimScanner(world), SimLaser(world), SimPhotonCounter(world)
    for axis, value in zip("xyz", NV, strict=True):
        scanner.move_to(axis, value)
    laser.set_power(1e-3)
    laser.set_mode(LaserMode.GATED)
    laser.set_emission(True)
    sequencer = Sequencer()
    world.links.sequencer = sequencer
    clock.now += 1.0
    return clock, world, counter, sequencer


def test_counts_per_gate_follow_the_gated_laser_over_every_repetition():
    clock, world, counter, sequencer = setup()
    counter.arm()
    sequencer.playback = Playback(SEQUENCE, start=clock.now + 1e-3, repetitions=100_000)
    assert counter.is_counting()
    clock.now += 1e-3 + 100_000 * 10e-6 + 1e-6
    counts = counter.gate_counts()
    rate = detected_rate(np.array([NV]), world.nv_centres, np.array([1e-3]), MODEL.optics)[0]
    expected_in_light = rate * 1e-6 * 100_000
    expected_dark = MODEL.optics.dark_count_rate * 1e-6 * 100_000
    assert counts[0] == pytest.approx(expected_in_light, rel=5 / np.sqrt(expected_in_light))
    assert counts[1] <= expected_dark + 5 * np.sqrt(expected_dark) + 1
    assert counter.repetitions_counted() == 100_000
    assert not counter.is_counting()


def test_counts_grow_with_the_repetitions_completed_and_stop_freezes_them():
    clock, _, counter, sequencer = setup()
    counter.arm()
    sequencer.playback = Playback(SEQUENCE, start=clock.now, repetitions=100_000)
    clock.now += 250_000e-9 * 10 + 1e-9  # 250 repetitions
    first = counter.gate_counts()
    assert counter.repetitions_counted() == 250
    clock.now += 0.1
    counter.stop()
    frozen = counter.gate_counts()
    assert frozen[0] > first[0] and counter.repetitions_counted() == 10_250
    clock.now += 0.5
    assert (counter.gate_counts() == frozen).all() and not counter.is_counting()


def test_a_run_started_before_arming_is_not_counted():
    clock, _, counter, sequencer = setup()
    sequencer.playback = Playback(SEQUENCE, start=clock.now, repetitions=1000)
    clock.now += 1e-3
    counter.arm()
    clock.now += 1.0
    assert counter.gate_counts().size == 0 and counter.repetitions_counted() == 0
    assert counter.is_counting()  # still waiting for a run of its own


def test_gates_mode_gives_one_value_per_window_following_the_focus_along_its_path():
    clock, world, counter, sequencer = setup()
    world.laser.record(clock.now, 1e-3, gated=False)  # the beam on, continuous
    stage = SimScanner(world)
    stage.move_to("x", NV[0] - 1e-6)
    clock.now += 1.0
    counter.arm(CountingMode.GATES)
    period = Sequence((Pulse("gate", 0.0, 1e-3),), 1e-3)  # a 1 ms pixel, gated all along
    sequencer.playback = Playback(period, start=clock.now, repetitions=200)
    stage.set_velocity("x", 1e-5)  # 2 µm in 0.2 s: across the NV at 10 nm per pixel
    stage.move_to("x", NV[0] + 1e-6)
    clock.now += 0.5
    counts = counter.gate_counts()
    assert counts.shape == (200,) and counter.repetitions_counted() == 200
    peak = int(np.argmax(np.convolve(counts, np.ones(9) / 9, mode="same")))
    x_at_peak = stage.paths["x"].position(np.array([clock.now - 0.5 + (peak + 0.5) * 1e-3]))[0]
    assert abs(x_at_peak - NV[0]) < 50e-9  # the counter saw the path the stage travelled


def test_a_timed_gate_after_a_sequence_run_counts_for_its_own_dwell():
    clock, world, counter, sequencer = setup()
    counter.arm(CountingMode.GATES)
    sequencer.playback = Playback(SEQUENCE, start=clock.now, repetitions=10)
    clock.now += 1.0
    assert not counter.is_counting()
    world.laser.record(clock.now, 1e-3, gated=False)  # the beam on, continuous
    counter.start(0.01)
    assert counter.is_counting()  # the finished run does not end the new gate early
    clock.now += 0.01 + counter.readout_time + 1e-9
    assert not counter.is_counting() and counter.counts() > 100  # on the NV, 1 mW


def test_bins_share_the_repetitions_each_summing_its_own_gates():
    clock, world, counter, sequencer = setup()
    counter.set_bins(4)
    counter.arm()
    sequencer.playback = Playback(SEQUENCE, start=clock.now + 1e-3, repetitions=100_000)
    clock.now += 1e-3 + 100_000 * 10e-6 + 1e-6
    counts = counter.gate_counts().reshape(4, 2)  # bin-major: bin 0's two gates first
    rate = detected_rate(np.array([NV]), world.nv_centres, np.array([1e-3]), MODEL.optics)[0]
    expected = rate * 1e-6 * 100_000 / 4
    assert counts[:, 0] == pytest.approx(np.full(4, expected), rel=5 / np.sqrt(expected))
    assert (counts[:, 1] < counts[:, 0] / 10).all()  # the dark gate in every bin
    assert counter.repetitions_counted() == 100_000 and counter.bins() == 4


def test_bins_below_one_or_beyond_the_counters_gates_are_refused_naming_the_numbers():
    clock, _, counter, sequencer = setup()
    limit = MODEL.instruments.photon_counter.max_gates
    with pytest.raises(Refused, match="bins must be a whole number >= 1, got 0"):
        counter.set_bins(0)
    with pytest.raises(Refused, match=f"{limit + 1} bins x 1 gates .* exceed max_gates {limit}"):
        counter.set_bins(limit + 1)
    bins = limit // 2 + 1  # fits one gate a repetition, not the sequence's two
    counter.set_bins(bins)
    counter.arm()
    sequencer.playback = Playback(SEQUENCE, start=clock.now, repetitions=10)
    clock.now += 1.0
    with pytest.raises(Refused, match=f"{bins} bins x 2 gates per repetition = {2 * bins} "
                                      f"gate sums exceed max_gates {limit}") as refused:
        counter.gate_counts()
    assert refused.value.reason == "OUT_OF_RANGE"


def test_bins_cannot_change_while_counting():
    clock, _, counter, sequencer = setup()
    counter.arm()
    with pytest.raises(Refused, match="while counting") as refused:
        counter.set_bins(2)
    assert refused.value.reason == "BUSY" and counter.bins() == 1


class SweepLab:
    """The confocal world's drivers for a hardware-stepped ODMR: the MW generator sweeps on
    the sequencer's spare channel, 10 mT on the NV's axis, the focus on the sensor NV."""

    def __init__(self):
        self.clock = FakeClock(50.0)
        world = SimWorld(MODEL, self.clock)
        scanner, laser = SimScanner(world), SimLaser(world)
        for axis, value in zip("xyz", NV, strict=True):
            scanner.move_to(axis, value)
        laser.set_power(5e-3)
        laser.set_mode(LaserMode.GATED)
        laser.set_emission(True)
        self.mw = world.links.mw = SimSignalGenerator(world, MODEL.instruments.mw)
        self.magnet = world.links.magnet = SimVectorMagnet(world, MODEL.instruments.magnet)
        self.sequencer = world.links.sequencer = SimSequencer(world, MODEL.instruments.sequencer)
        self.counter = world.links.photon_counter = SimPhotonCounter(world)
        self.magnet.ramp_to((0.0, 0.0, FIELD))
        self.clock.now += 600.0

    def sweep(self, frequencies: np.ndarray, sweeps: int) -> np.ndarray:
        """(points, 2) signal and reference counts per point, each summed over its repetitions
        in every sweep, from one run of the sequencer and one read of the binned counter."""
        n = len(frequencies)
        self.mw.set_sweep(Sweep(frequencies[0], frequencies[-1], n))
        self.mw.set_power(1e-2)  # 10 MHz Rabi: a 50 ns pi pulse
        self.mw.set_mode(Mode.SWEEP)
        self.mw.set_trigger(TriggerSource.EXTERNAL)
        self.mw.set_output(True)
        point = sq.sweep_point(sq.pulsed_odmr(50e-9), POINT_REPETITIONS, SETTLE, "spare")
        self.sequencer.load(point)
        self.sequencer.set_repetitions(n * sweeps)
        self.clock.now += 1.0
        self.counter.set_bins(n)
        self.counter.arm(CountingMode.SEQUENCE)
        self.sequencer.run()
        self.clock.now += 0.1 + n * sweeps * point.length
        assert self.counter.repetitions_counted() == n * sweeps
        return self.counter.gate_counts().reshape(n, POINT_REPETITIONS, 2).sum(axis=1)


FIELD = 0.01  # T on the NV's axis (z)
POINT_REPETITIONS = 4000
SETTLE = 1e-3  # s: the generator's frequency settling time, before a point's repetitions


def lorentzian_dip(f: np.ndarray, centre: float, depth: float, width: float) -> np.ndarray:
    return 1 - depth / (1 + ((f - centre) / width) ** 2)


def test_a_hardware_stepped_sweep_keeps_each_points_odmr_in_its_bin():
    lab = SweepLab()
    guess = float(nv_spin.transition_frequency(FIELD))  # the experimenter's, from the magnet
    frequencies = guess + 6e6 + np.arange(-12, 13) * 2e6  # 25 points, the guess off-centre
    counts = lab.sweep(frequencies, sweeps=100)
    signal, reference = counts[:, 0], counts[:, 1]
    ratio = signal / reference
    lowest = int(np.argmin(ratio))
    (centre, depth, _), _ = curve_fit(lorentzian_dip, frequencies, ratio,
                                      p0=[frequencies[lowest], 1 - ratio[lowest], 5e6])
    dip = int(np.argmin(np.abs(frequencies - centre)))
    assert depth > 0.1 and ratio[dip] < 0.9 and np.median(ratio) > 0.95
    chi2 = np.sum((reference - reference.mean()) ** 2 / reference.mean())
    dof = len(reference) - 1
    assert chi2 < dof + 5 * np.sqrt(2 * dof)  # the reference flat: Poisson scatter only
    # only now the world's truth: the NV's transition in the magnet's and the tip's field
    sensor = lab.counter._sensor
    now = np.array([lab.clock.now])
    b = sensor._field(sensor.nv_position(now)[:, None, :], now, sensor.apex(now))[0, 0]
    truth = float(nv_spin.transition_frequency(b @ sensor.axis))
    assert centre == pytest.approx(truth, abs=1.5e6)
    assert dip == int(np.argmin(np.abs(frequencies - truth)))
