"""3D localisation of dark spins (seed 001): DEER images of spins drawn at random, and a
frequency-lock map, made from the shipped world's tip and dark-spin physics with shot noise;
the analysis sees only the images, the map and a DEER spectrum."""

import numpy as np
import pytest

from nanomri import dark_spins
from nanomri.analysis import localize as lz
from nanomri.nv_spin import GAMMA_E

from .dark_spin_data import (
    BIAS,
    CONTRAST,
    LOCK_NOISE,
    NOISE,
    RF_OFFSET,
    SENSOR,
    dark_spin_line,
    flips,
    grid,
    tip_field,
)

NM = 1e-9
IMAGE_XY = np.arange(-8, 8.01, 1.0) * NM  # tip from the NV, pixels of 1 nm
IMAGE_Z = np.arange(30, 46.01, 2.0) * NM  # tip apex heights over the NV: a stack of 9 planes
MAP_XY, MAP_Z = np.arange(-18, 18.01, 6.0) * NM, np.arange(22, 58.01, 6.0) * NM  # 6 nm pitch


def frequency_lock_map(rng) -> lz.FieldMap:
    """The NV's locked frequency over a coarse 3D grid of tip positions, as field on its axis."""
    tips = grid(MAP_XY, MAP_XY, MAP_Z).points()
    bias = np.array([0.0, 0.0, BIAS])
    far = abs(2.87e9 - GAMMA_E * BIAS)
    locked = abs(2.87e9 - GAMMA_E * (bias + tip_field(np.zeros(3), tips))[:, 2])
    locked += rng.normal(0, LOCK_NOISE, locked.size)
    return lz.FieldMap(grid(MAP_XY, MAP_XY, MAP_Z, lz.field_from_lock(locked, far, BIAS)))


def deer_image(rng, spins: np.ndarray, weights: np.ndarray, heights=IMAGE_Z) -> lz.Grid:
    """Signal/reference of a DEER stack: each spin's dip is its flip probability in the field
    of the bias and the tip (|B|: the whole field, not its NV-axis part) times its weight."""
    image = grid(IMAGE_XY, IMAGE_XY, heights)
    tips = image.points()
    rf = GAMMA_E * BIAS + RF_OFFSET
    dip = np.zeros(len(tips))
    for spin, weight in zip(spins, weights, strict=True):
        field = tip_field(spin, tips) + [0.0, 0.0, BIAS]
        dip += weight * flips(dark_spins.resonance(field), rf)
    values = 1 - CONTRAST * dip + rng.normal(0, NOISE, len(tips))
    return grid(*image.axes, values)


@pytest.fixture(scope="module")
def lab():
    rng = np.random.default_rng(2026)
    centre, line = dark_spin_line(rng)
    return frequency_lock_map(rng), GAMMA_E * BIAS + RF_OFFSET - centre, line


@pytest.mark.parametrize("seed", range(6))
def test_a_dark_spin_drawn_at_random_is_located_within_half_a_nanometre(lab, seed):
    field, rf_offset, line = lab
    rng = np.random.default_rng(seed)
    spin = np.r_[rng.uniform(-5, 5, 2), rng.uniform(-4, 4)] * NM
    image = deer_image(rng, spin[None], np.ones(1))
    found = lz.locate(image, field, rf_offset, line, search=6e-9)
    assert np.all(np.abs(found.offset - spin) < 0.5 * NM), (spin / NM, found.offset / NM)
    assert np.all(found.error < 0.5 * NM) and found.amplitude < 0  # a dip


def test_the_seed_spin_is_located_within_half_a_nanometre(lab):
    field, rf_offset, line = lab
    spin = np.array(SENSOR.dark_spins.coherent[0])
    found = lz.locate(deer_image(np.random.default_rng(1), spin[None], np.ones(1)), field,
                      rf_offset, line, search=6e-9)
    assert np.all(np.abs(found.offset - spin) < 0.5 * NM)


def test_an_image_without_a_spin_is_refused_not_located(lab):
    field, rf_offset, line = lab
    rng = np.random.default_rng(7)
    image = deer_image(rng, np.zeros((0, 3)), np.zeros(0))  # DEER without signal: noise only
    with pytest.raises(ValueError, match="no dark-spin signal"):
        lz.locate(image, field, rf_offset, line, search=6e-9)


def test_an_image_beyond_the_map_is_refused(lab):
    field, rf_offset, line = lab
    image = deer_image(np.random.default_rng(3), np.zeros((1, 3)), np.ones(1),
                       heights=IMAGE_Z + 30 * NM)  # 60 to 76 nm: the map ends at 58
    with pytest.raises(ValueError, match="covers less than half"):
        lz.locate(image, field, rf_offset, line, search=6e-9)


def test_pixels_where_the_lock_was_lost_are_left_out_not_fatal(lab):
    field, rf_offset, line = lab
    spin = np.array(SENSOR.dark_spins.coherent[0])
    rng = np.random.default_rng(5)
    image = deer_image(rng, spin[None], np.ones(1))
    values = image.values.copy()
    values.ravel()[rng.choice(values.size, values.size // 50, replace=False)] = np.nan
    found = lz.locate(lz.Grid(image.axes, values), field, rf_offset, line, search=6e-9)
    assert np.all(np.abs(found.offset - spin) < 0.5 * NM)
