"""The simulated counter in sequence mode: counts per gate window of what the sequencer played."""

import numpy as np
import pytest

from nanomri.confocal import detected_rate
from nanomri.interfaces.laser import LaserMode
from nanomri.interfaces.photon_counter import CountingMode
from nanomri.sequence import Pulse, Sequence
from nanomri.simulators.drivers.laser import SimLaser
from nanomri.simulators.drivers.photon_counter import SimPhotonCounter
from nanomri.simulators.drivers.scanner import SimScanner
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
