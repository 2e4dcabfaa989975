"""Spot localisation on synthetic confocal images with Poisson noise."""

import numpy as np
import pytest

from nanomri.analysis.spots import Spot, darkest, find_spots, match_spots

PIXEL = 100e-9
AXIS = np.arange(60) * PIXEL


def image_with(spots, rng, peak=200.0, background=10.0, fwhm=300e-9):
    xx, yy = np.meshgrid(AXIS, AXIS)
    mean = np.full(xx.shape, background)
    for x, y in spots:
        mean += peak * np.exp(-4 * np.log(2) * ((xx - x) ** 2 + (yy - y) ** 2) / fwhm**2)
    return rng.poisson(mean).astype(float)


@pytest.mark.parametrize("seed", range(5))
def test_random_spots_are_recovered_within_a_fifth_of_a_pixel(seed):
    rng = np.random.default_rng(seed)
    truth = []
    while len(truth) < 4:
        p = rng.uniform(0.8e-6, 5.2e-6, 2)
        if all(np.hypot(*(p - q)) > 1e-6 for q in truth):
            truth.append(p)
    found = find_spots(image_with(truth, rng), AXIS, AXIS)
    pairs = match_spots(found, np.array(truth), max_distance=PIXEL)
    assert len(found) == 4
    assert all(spot is not None and d < 0.2 * PIXEL for _, spot, d in pairs)


@pytest.mark.parametrize("background", [0.3, 1.0, 10.0, 1000.0])
def test_pure_noise_has_no_spots_even_at_the_edges(background):
    rng = np.random.default_rng(1)
    for _ in range(10):
        assert find_spots(image_with([], rng, background=background), AXIS, AXIS) == []


def test_faint_spot_five_noise_sigmas_high_per_pixel_is_found():
    rng = np.random.default_rng(4)
    truth = np.array([[2.5e-6, 3.5e-6]])
    found = find_spots(image_with(truth, rng, peak=50.0, background=100.0), AXIS, AXIS)
    assert len(found) == 1 and match_spots(found, truth, PIXEL)[0][1] is not None


def test_two_spots_four_pixels_apart_are_both_found():
    rng = np.random.default_rng(2)
    truth = np.array([[3e-6, 3e-6], [3.4e-6, 3e-6]])
    found = find_spots(image_with(truth, rng, peak=400.0), AXIS, AXIS)
    assert all(spot is not None for _, spot, _ in match_spots(found, truth, PIXEL))


def test_uncertainty_is_reported_and_small_for_a_bright_spot():
    rng = np.random.default_rng(3)
    (spot,) = find_spots(image_with([(3e-6, 3e-6)], rng, peak=1000.0), AXIS, AXIS)
    assert 0 < spot.x_err < 0.1 * PIXEL and 0 < spot.y_err < 0.1 * PIXEL
    assert spot.sigma * 2.3548 == pytest.approx(300e-9, rel=0.1)


def test_match_pairs_each_true_position_with_the_nearest_free_spot_within_reach():
    spots = [Spot(1e-6, 1e-6, 0, 0, 1e-7, 10), Spot(1.05e-6, 1e-6, 0, 0, 1e-7, 10)]
    truth = np.array([[1.04e-6, 1e-6], [1e-6, 1.01e-6], [3e-6, 3e-6]])
    pairs = match_spots(spots, truth, max_distance=1e-7)
    assert [spot for _, spot, _ in pairs] == [spots[1], spots[0], None]
    assert pairs[0][2] == pytest.approx(1e-8) and np.isnan(pairs[2][2])


def test_the_darkest_place_is_a_dip_of_pixels_not_one_dark_pixel():
    image = np.ones((12, 15))
    image[2, 3] = 0.5  # one dark pixel: noise
    image[7:10, 9:12] = 0.8  # a dip of 3 x 3 pixels
    image[0, 0] = np.nan  # a lost pixel
    (row, col), value = darkest(image)
    assert (row, col) == (8, 10) and value == pytest.approx(0.8)
