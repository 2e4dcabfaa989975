"""The height of a layer of dark spins over the NV (seed 001: the surface, 10 nm up) from a
DEER image of spins drawn at random in the layer, made with the world's tip and dark-spin
physics and photon noise; the analysis sees only the image, the lock map and the spins' line."""

import numpy as np
import pytest

from nanomri import dark_spins
from nanomri.analysis import layer
from nanomri.analysis import localize as lz
from nanomri.cli.demo_layer import IMAGE_XY, IMAGE_Z, MAP_XY, MAP_Z, RF_OFFSET, TAU

from .test_localize import BIAS, LOCK_NOISE, dark_spin_line, flips, grid, tip_field

NM = 1e-9
DENSITY = 0.5e18  # spins per m^2 (seed 001)
RADIUS = 30e-9  # m of the simulated layer
NOISE = 0.01  # of a pixel's ratio
# the demo's geometry (seed 001, Fig. 3): the map where the tip's field is gentle, the image a
# few nm over it
HEIGHTS = (IMAGE_Z[0] - MAP_Z[-1], IMAGE_Z[0] - MAP_Z[0])  # of the layer: those the map holds


def lock_map(rng) -> lz.FieldMap:
    """The NV's locked frequency over the volume the layer's PSFs sample, as field on its
    axis: the image's tips less every place of the layer."""
    tips = grid(MAP_XY, MAP_XY, MAP_Z).points()
    far = abs(2.87e9 - dark_spins.GAMMA_E * BIAS)
    field = BIAS + tip_field(np.zeros(3), tips)[:, 2]
    locked = abs(2.87e9 - dark_spins.GAMMA_E * field) + rng.normal(0, LOCK_NOISE, len(tips))
    return lz.FieldMap(grid(MAP_XY, MAP_XY, MAP_Z, lz.field_from_lock(locked, far, BIAS)))


def layer_image(rng, height: float) -> lz.Grid:
    """DEER ratios over the image plane from a Poisson layer at `height`."""
    return spins_image(rng, dark_spins.surface_layer(DENSITY, height, RADIUS, rng))


def spins_image(rng, spins: np.ndarray) -> lz.Grid:
    """DEER ratios over the image plane from `spins` (n, 3) from the NV: each spin flipped by
    the RF in the whole field (bias and tip) and leaving the echo cos(2 pi a tau)."""
    a = dark_spins.coupling(spins, np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, 1.0]))
    image = grid(IMAGE_XY, IMAGE_XY, IMAGE_Z)
    rf = dark_spins.GAMMA_E * BIAS + RF_OFFSET
    echo = np.ones(len(image.points()))
    for spin, coupling in zip(spins, a, strict=True):
        field = tip_field(spin, image.points()) + [0.0, 0.0, BIAS]
        p = flips(dark_spins.resonance(field), rf)
        echo *= 1 - p * (1 - np.cos(2 * np.pi * coupling * TAU))
    values = 0.8 + 0.2 * echo + rng.normal(0, NOISE, echo.size)
    return grid(*image.axes, values)


def measured_lab(seed: int) -> tuple[lz.FieldMap, float, lz.Line]:
    """The lock map, f_RF - f_dark and the spins' line, as the demo measures them."""
    rng = np.random.default_rng(seed)
    centre, line = dark_spin_line(rng)
    return lock_map(rng), dark_spins.GAMMA_E * BIAS + RF_OFFSET - centre, line


@pytest.fixture(scope="module")
def lab():
    return measured_lab(2027)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_random_layer_is_found_at_its_height_to_a_nanometre(lab, seed):
    field, rf_offset, line = lab
    rng = np.random.default_rng(seed)
    height = rng.uniform(8, 13) * NM
    found = layer.layer_height(layer_image(rng, height), field, rf_offset, line, TAU,
                               heights=HEIGHTS)
    assert found.height == pytest.approx(height, abs=0.5 * NM), (found, height)
    assert found.height_error < 1 * NM
    # the mean-field model sees fewer spins than there are (seen: 0.13 to 0.38 per nm^2 for
    # 0.5): the density is an order of magnitude, the height is what is measured
    assert DENSITY / 4 < found.density < 2 * DENSITY


def test_an_image_without_spins_is_refused(lab):
    field, rf_offset, line = lab
    flat = grid(IMAGE_XY, IMAGE_XY, IMAGE_Z, np.full(len(IMAGE_XY) ** 2, 0.97))
    with pytest.raises(ValueError, match="flat"):
        layer.layer_height(flat, field, rf_offset, line, TAU, heights=HEIGHTS)
