"""Simulated scanner, laser and photon counter sharing one world, on a fake clock."""

import time

import numpy as np
import pytest

from nanomri.simulators.drivers.laser import SimLaser
from nanomri.simulators.drivers.photon_counter import SimPhotonCounter
from nanomri.simulators.drivers.scanner import SimScanner
from nanomri.simulators.sim_world import SimWorld, scaled_clock
from nanomri.world import load_world

from .conftest import ROOT
from .fake_clock import FakeClock

MODEL = load_world(ROOT / "conf" / "worlds" / "confocal.yaml")
NV = MODEL.sample.nv_centres[0]


def setup(model=MODEL):
    clock = FakeClock()
    world = SimWorld(model, clock)
    return clock, SimScanner(world), SimLaser(world), SimPhotonCounter(world)


def go_to(clock, scanner, position) -> None:
    for axis, value in zip("xyz", position, strict=True):
        scanner.move_to(axis, value)
    clock.now += 1.0


def gate(clock, counter, dwell: float) -> int:
    counter.start(dwell)
    assert counter.is_counting()
    clock.now += dwell + counter.readout_time + 1e-9
    assert not counter.is_counting()
    return counter.counts()


def test_scanner_is_moving_until_arrived_and_settled():
    clock, scanner, _, _ = setup()
    scanner.move_to("x", 20e-6)
    assert scanner.is_moving("x") and not scanner.is_moving("y")
    clock.now += 0.05
    assert scanner.position("x") < 20e-6
    clock.now += 1.0
    assert not scanner.is_moving("x") and scanner.position("x") == 20e-6


def test_scanner_refuses_targets_outside_its_travel():
    _, scanner, _, _ = setup()
    with pytest.raises(ValueError, match="outside"):
        scanner.move_to("z", 11e-6)
    assert scanner.target("z") == MODEL.instruments.scanner.initial_position.z


def test_counts_on_an_nv_are_poisson_with_mean_rate_times_dwell():
    clock, scanner, laser, counter = setup()
    go_to(clock, scanner, NV)
    laser.set_emission(True)
    clock.now += 1.0
    dwell = 1e-3
    expected = counter.expected_counts(clock.now, clock.now + dwell)
    counts = np.array([gate(clock, counter, dwell) for _ in range(4000)])
    assert expected == pytest.approx(dwell * 0.5e5, rel=0.1)  # 1 mW = P_sat: half of 100 kc/s
    assert counts.mean() == pytest.approx(expected, rel=0.02)
    assert counts.var() == pytest.approx(expected, rel=0.1)


def test_blanked_laser_gives_only_dark_counts():
    clock, scanner, _, counter = setup()
    go_to(clock, scanner, NV)
    counts = np.array([gate(clock, counter, 0.01) for _ in range(500)])
    assert counts.mean() == pytest.approx(MODEL.optics.dark_count_rate * 0.01, rel=0.15)


def test_gate_while_moving_through_an_nv_blurs_its_counts():
    clock, scanner, laser, counter = setup()
    laser.set_emission(True)
    go_to(clock, scanner, (NV[0] - 2e-6, NV[1], NV[2]))
    static = counter.expected_counts(clock.now, clock.now + 0.02)
    scanner.move_to("x", NV[0] + 2e-6)  # crosses the NV during the gate
    moving = counter.expected_counts(clock.now, clock.now + 0.02)
    go_to(clock, scanner, NV)
    on_nv = counter.expected_counts(clock.now, clock.now + 0.02)
    assert static < moving < on_nv / 2


def test_stop_closes_the_gate_early():
    clock, _, _, counter = setup()
    counter.start(10.0)
    clock.now += 1.0
    counter.stop()
    assert not counter.is_counting()


def test_same_seed_same_counts_other_seed_differs():
    def counts(model):
        clock, scanner, laser, counter = setup(model)
        go_to(clock, scanner, NV)
        laser.set_emission(True)
        return [gate(clock, counter, 1e-3) for _ in range(20)]

    other = MODEL.model_copy(update={"seed": MODEL.seed + 1})
    assert counts(MODEL) == counts(MODEL)
    assert counts(MODEL) != counts(other)


def test_laser_refuses_power_above_its_maximum():
    _, _, laser, _ = setup()
    with pytest.raises(ValueError, match="outside"):
        laser.set_power(MODEL.instruments.laser.max_power * 2)
    assert laser.power() == MODEL.instruments.laser.initial_power


def test_a_world_clock_runs_its_clock_rate_times_faster_than_the_wall():
    wall = FakeClock(1e6)
    clock = scaled_clock(40.0, wall)
    assert clock() == 0.0
    wall.now += 0.25
    assert clock() == pytest.approx(10.0)


def test_a_world_runs_on_its_own_clock_rate():
    world = SimWorld(MODEL.model_copy(update={"clock_rate": 1000.0}))
    start = world.clock()
    time.sleep(0.01)
    assert world.clock() - start >= 10.0
