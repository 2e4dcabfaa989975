"""Seed 000's analysis of ferritin T1 images against the simulated NV: the noise and the
distance of a core from the T1 the NV shows, and the resolution of the image of one core."""

import numpy as np
import pytest

from nanomri import nv_sequences as sq
from nanomri.analysis import ferritin_image as fi
from nanomri.analysis import fits
from nanomri.simulators.nv_sensor import SimSensor
from nanomri.simulators.sim_world import SimWorld
from nanomri.world import World, world_document

from .conftest import ROOT
from .fake_clock import FakeClock

TAU = 50e-6  # s, the image's dark time (seed 000)
APEX_HEIGHT = 5e-9  # m of the section's face above the NV, as in the demo's world


class Probe:
    """The scan head's apex held at one place."""

    def __init__(self, where):
        self.where = np.asarray(where, dtype=float)

    def tip(self, times):
        return np.tile(self.where, (len(np.atleast_1d(times)), 1))


def one_core_sensor(depth: float) -> tuple[SimSensor, Probe, np.ndarray]:
    """The ferritin world's NV under a section holding one core `depth` under its face."""
    data = world_document(ROOT / "conf" / "worlds" / "ferritin.yaml")
    data["sensor"]["ferritin"]["clusters"] = [
        {"centre": [0.0, 0.0], "size": [1e-15, 1e-15], "cores": 1, "depth": [depth, depth]}]
    model = World.model_validate(data)
    world = SimWorld(model, FakeClock())
    world.laser.record(0.0, 2e-3, gated=True)
    nv = np.asarray(model.sensor.nv_position)
    probe = Probe(nv + [0.0, 0.0, APEX_HEIGHT])
    world.links.probe = probe
    return SimSensor(world, model.sensor), probe, nv


def ratio(sensor: SimSensor, tau: float) -> float:
    signal, reference = sensor.brightness(sq.t1(tau), np.array([0.0]))[0]
    return signal / reference


def test_seed_000s_t1s_mean_its_noise_of_a_hundredth_of_a_millitesla_squared():
    assert fi.noise_variance(0.1e-3, 3.3e-3) == pytest.approx(0.01e-6, rel=0.02)


@pytest.mark.parametrize("depth", [4.2e-9, 6.0e-9, 9.5e-9])
def test_a_cores_distance_is_recovered_from_the_t1_the_simulated_nv_shows(depth):
    sensor, _, _ = one_core_sensor(depth)
    t1_without = sensor.spin.t1
    taus = np.linspace(1e-6, 2e-3, 41)
    fit = fits.decay(taus, [ratio(sensor, t) for t in taus])
    distance = fi.core_distance(fi.noise_variance(fit["time"], t1_without))
    assert distance == pytest.approx(APEX_HEIGHT + depth, abs=0.2e-9)


def test_the_psf_is_the_simulated_image_of_one_core():
    depth = 4.2e-9
    sensor, probe, nv = one_core_sensor(depth)
    x = np.linspace(0.0, 30e-9, 121)
    dips = []
    for dx in x:
        probe.where = nv + [dx, 0.0, APEX_HEIGHT]
        dips.append(ratio(sensor, TAU))
    probe.where = nv + [1e-6, 0.0, APEX_HEIGHT]
    far = ratio(sensor, TAU)
    contrast = far - np.array(dips)
    simulated = 2 * x[np.argmax(contrast < contrast[0] / 2)]
    expected = fi.psf_fwhm(APEX_HEIGHT + depth, TAU, sensor.spin.t1)
    assert simulated == pytest.approx(expected, rel=0.05)
    assert 7e-9 < expected < 13e-9  # seed 000: ~10 nm at ~9 nm from the NV


def test_a_pixels_t1_follows_from_its_ratio_and_the_curve_without_ferritin():
    sensor, probe, nv = one_core_sensor(4.5e-9)
    taus = np.linspace(1e-6, 3e-3, 31)
    probe.where = nv + [1e-6, 0.0, APEX_HEIGHT]  # the core far away
    without = fits.decay(taus, [ratio(sensor, t) for t in taus])
    probe.where = nv + [0.0, 0.0, APEX_HEIGHT]
    with_core = fits.decay(taus / 30, [ratio(sensor, t / 30) for t in taus])
    assert fi.t1_at(ratio(sensor, TAU), TAU, without) == pytest.approx(with_core["time"],
                                                                       rel=0.05)
    with pytest.raises(ValueError, match="outside the polarisation curve"):
        fi.t1_at(1.2, TAU, without)


def test_impossible_noises_and_t1s_are_refused():
    with pytest.raises(ValueError, match="shorter than without"):
        fi.noise_variance(4e-3, 3.3e-3)
    with pytest.raises(ValueError, match="too small"):
        fi.core_distance(1e-20)
    with pytest.raises(ValueError, match="more than one core"):
        fi.core_distance(1e-3)
