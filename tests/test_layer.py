"""The height of a layer of dark spins over the NV (seed 001: the surface, 10 nm up) from a
DEER image of spins drawn at random in the layer, made with the world's tip and dark-spin
physics and photon noise; the analysis sees only the image, the lock map and the spins' line."""

import numpy as np
import pytest

from nanomri.analysis import layer
from nanomri.cli.demo_layer import IMAGE_XY, IMAGE_Z, MAP_Z, TAU

from .dark_spin_data import DENSITY, grid, layer_image, measured_lab

NM = 1e-9
# the demo's geometry (seed 001, Fig. 3): the map where the tip's field is gentle, the image a
# few nm over it
HEIGHTS = (IMAGE_Z[0] - MAP_Z[-1], IMAGE_Z[0] - MAP_Z[0])  # of the layer: those the map holds


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
