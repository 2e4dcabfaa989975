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


PIXEL = 8.3e-9  # m, of seed 000's image (Fig. 4: 80 x 24 pixels)
LAYER = 9e-9  # m from the NV of a layer of cores: seed 000's shallowest ferritin
CORE_SPACING = 4e-9  # m: a lattice fine against the PSF, whose image is a smooth plateau
T1_WITHOUT = 3.3e-3  # s (seed 000)
CLUSTER_CONTRAST = 0.05  # of the ratio over the cluster, as the demo's image shows
DEMO_COUNTS = 16_000  # photons a gate at 1e5 repetitions: the demo's 1.1 % of ratio noise


def cluster_image(seed: int, counts: float,
                  noisy: bool = True) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """An 80 x 24 pixel T1-contrast image of a rectangle of cores in a layer LAYER from the
    NV, 110 nm along x (edges placed at random within a pixel) and 90 nm along y, each core
    seen through `fi.psf`; signal and reference gates of `counts` photons (Poisson). The
    image, its x and the places of the cluster's left and right edges."""
    rng = np.random.default_rng(seed)
    x, y = (np.arange(80) - 39.5) * PIXEL, (np.arange(24) - 11.5) * PIXEL
    cores_x = np.arange(-50e-9 + rng.uniform(0, PIXEL), 60e-9 + rng.uniform(0, PIXEL),
                        CORE_SPACING)
    r = np.linspace(0.0, fi.PSF_REACH * LAYER, 2001)
    radial = fi.psf(r, LAYER, TAU, T1_WITHOUT)
    seen = np.zeros((len(y), len(x)))
    for core_y in np.arange(-45e-9, 45e-9, CORE_SPACING):
        apart = np.hypot(x[None, :, None] - cores_x, y[:, None, None] - core_y)
        seen += np.interp(apart, r, radial, right=0.0).sum(axis=-1)
    ratio = 1 - CLUSTER_CONTRAST * seen / seen.max()
    if noisy:
        ratio = rng.poisson(counts * ratio) / rng.poisson(counts, ratio.shape)
    half = CORE_SPACING / 2  # each core stands for its cell of the lattice
    return ratio, x, (cores_x[0] - half, cores_x[-1] + half)


def rise_error(edge) -> float:
    """1-sigma error (m) of an edge's 10-90 % rise: its PSF FWHM's, scaled as a Gaussian's."""
    return edge.psf_fwhm_err * edge.rise_10_90 / edge.psf_fwhm


def test_a_straight_edge_of_cores_at_9_nm_rises_over_1_8_pixels():
    rise = fi.edge_rise(LAYER, TAU, T1_WITHOUT)
    assert rise == pytest.approx(1.84 * PIXEL, rel=0.02)
    # the PSF's tails, a power of the distance: longer than a Gaussian's 1.09 FWHM
    assert 1.2 < rise / fi.psf_fwhm(LAYER, TAU, T1_WITHOUT) < 1.4


def test_the_rows_averaged_are_those_that_cross_the_cluster():
    image, _, _ = cluster_image(1, DEMO_COUNTS)
    rows = set(fi.crossing_rows(image))
    assert set(range(7, 17)) <= rows <= set(range(5, 19))  # 90 nm: rows 6 to 17 at +-45.6 nm


def test_the_mean_of_a_noise_free_image_rises_as_the_psf_says():
    image, x, _ = cluster_image(0, DEMO_COUNTS, noisy=False)
    fit = fi.cluster_profile(image, x).fit
    for edge in (fit.left, fit.right):
        assert edge.rise_10_90 == pytest.approx(fi.edge_rise(LAYER, TAU, T1_WITHOUT), rel=0.03)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_edges_of_the_averaged_rows_rise_as_the_psf_says_within_their_error(seed):
    image, x, places = cluster_image(seed, DEMO_COUNTS)
    profile = fi.cluster_profile(image, x)
    rise = fi.edge_rise(LAYER, TAU, T1_WITHOUT)
    for edge, place in zip((profile.fit.left, profile.fit.right), places, strict=True):
        assert edge.resolved
        assert edge.rise_10_90 == pytest.approx(rise, abs=2 * rise_error(edge))
        assert rise_error(edge) < 0.3 * rise
        assert edge.position == pytest.approx(place, abs=max(3 * edge.position_err, 1e-9))


def test_single_rows_of_the_same_image_scatter_and_rarely_resolve_the_edge():
    image, x, _ = cluster_image(1, DEMO_COUNTS)
    profile = fi.cluster_profile(image, x)
    edges = fi.row_edges(image[profile.rows], x)
    assert len(edges) >= 16  # most crossing rows show the cluster
    assert sum(e.resolved for e in edges) <= len(edges) // 4
    rises = np.array([e.rise_10_90 for e in edges])  # values and upper bounds
    averaged = profile.fit.left
    assert np.std(rises) > 5 * rise_error(averaged)


@pytest.mark.parametrize("seed", [0, 3])
def test_a_too_noisy_image_gives_its_edge_widths_as_upper_bounds(seed):
    image, x, _ = cluster_image(seed, 1000)  # 1e4 repetitions a pixel: 4.5 % of noise
    fit = fi.cluster_profile(image, x).fit
    for edge in (fit.left, fit.right):
        assert not edge.resolved
        assert np.isnan(edge.psf_fwhm_err)
        assert edge.rise_10_90 > fi.edge_rise(LAYER, TAU, T1_WITHOUT)
