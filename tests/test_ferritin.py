"""Ferritin spin noise shortens the NV's T1 as seed 000 measured, and images at ~10 nm."""

import numpy as np
import pytest

from nanomri import ferritin as fe

Z = np.array([0.0, 0.0, 1.0])
SPINS, DIAMETER = 4000, 8e-9  # Fe3+ in an 8 nm core (seed 000)
FRACTION = 0.06  # of the paramagnetic variance a core keeps (0.02 mT^2 at 9 nm, seed 000)
TAU_C = 2.84e-10  # s: 0.01 mT^2 takes T1 from 3.3 ms to 0.1 ms (seed 000, Fig. 1C)


def variance(relative) -> np.ndarray:
    return fe.transverse_variance(np.asarray(relative, dtype=float), Z, SPINS, DIAMETER, FRACTION)


def test_a_far_core_is_a_point_whose_variance_falls_as_the_sixth_power_of_distance():
    near, far = variance([[0, 0, 100e-9]]), variance([[0, 0, 200e-9]])
    assert near / far == pytest.approx(64, rel=0.01)


def test_noise_along_the_nv_axis_is_weaker_than_beside_it():
    above, beside = variance([[0, 0, 50e-9]]), variance([[50e-9, 0, 0]])
    assert beside / above == pytest.approx(5 / 2, rel=0.01)  # (5 - 3 cos^2) / r^6


def test_the_shallowest_core_at_9_nm_gives_the_seeds_0_02_mt2():
    assert variance([[0, 0, 9e-9]]) * 1e6 == pytest.approx(0.02, rel=0.05)


def test_0_01_mt2_of_spin_noise_takes_t1_from_3_3_ms_to_0_1_ms():
    rate = 1 / 3.3e-3 + fe.relaxation_rate(np.array(0.01e-6), TAU_C)
    assert 1 / rate == pytest.approx(0.1e-3, rel=0.02)


def test_one_core_9_nm_below_images_with_a_resolution_of_about_10_nm():
    x = np.linspace(-40e-9, 40e-9, 801)
    rate = fe.relaxation_rate(variance(np.stack([x, 0 * x, np.full_like(x, 9e-9)], -1)[:, None]),
                              TAU_C)
    above_half = x[rate >= rate.max() / 2]
    assert np.ptp(above_half) == pytest.approx(10e-9, abs=3e-9)  # seed 000: FWHM ~10 nm


def test_a_cluster_lies_in_its_ellipse_at_its_depths():
    cores = fe.cluster((1e-7, 2e-7), (1e-7, 5e-8), 300, (1e-9, 6e-9), np.random.default_rng(4))
    u, v = (cores[:, 0] - 1e-7) / 5e-8, (cores[:, 1] - 2e-7) / 2.5e-8
    assert np.all(u**2 + v**2 <= 1 + 1e-12)
    assert np.all((1e-9 <= cores[:, 2]) & (cores[:, 2] <= 6e-9))


@pytest.mark.parametrize("cos", [0.0, 0.8, 1.0])
def test_a_core_beyond_the_grid_averaged_ones_keeps_its_volume_mean_within_one_percent(
        cos, monkeypatch):
    distance = 1.01 * fe.EXPANDED_BEYOND * DIAMETER
    where = [[distance * np.sqrt(1 - cos**2), 0.0, distance * cos]]
    expanded = variance(where)
    monkeypatch.setattr(fe, "EXPANDED_BEYOND", 100.0)
    assert expanded == pytest.approx(variance(where), rel=0.01)
