"""Seed 001's surface layer of dark spins from the Door, on a world whose layer is drawn at
random (8 to 13 nm over the NV, 0.3 to 0.8 spins per nm^2): the demo's pipeline finds its
height within a nanometre; an echo line (no RF pi pulse) across the image shows none of the
ring the DEER image shows."""

import numpy as np
import pytest
import yaml

from nanomri.cli.demo import run_lines
from nanomri.cli.demo_layer import IMAGE_XY, IMAGE_Z, REPETITIONS, TAU, WORLD, LayerDemo
from nanomri.cli.nv_finder import sensor_in_field
from nanomri.lab import lab_of
from nanomri.nexus import read_columns

from .conftest import started_stack

pytestmark = pytest.mark.stack

NM = 1e-9


@pytest.fixture(scope="module", params=[5])
def surface(request, tmp_path_factory):
    rng = np.random.default_rng(request.param)
    layer = {"height": float(rng.uniform(8, 13) * NM), "density": float(rng.uniform(0.3, 0.8)
                                                                          * 1e18)}
    tmp = tmp_path_factory.mktemp("layer")
    world = tmp / "layer.yaml"
    world.write_text(yaml.safe_dump({"base": str(WORLD), "seed": request.param,
                                     "sensor": {"dark_spins": {"layer": layer}}}))
    with started_stack(tmp, world) as stack:
        host = stack.tango_host
        door = f"tango://{host}/nanomri/door/1"

        def run(lines):
            return run_lines(door, lines)

        run([f"senv ScanDir {tmp / 'scans'}", "laser_on 1e-3"])
        lab = lab_of(world)
        found, bare = sensor_in_field(run, lab, host)
        demo = LayerDemo(run, lab, found, bare)
        yield demo, demo.measure(), layer


def test_the_layer_is_found_at_its_height_within_a_nanometre(surface):
    _, result, layer = surface
    assert result.layer.height == pytest.approx(layer["height"], abs=1 * NM), result.layer
    # the mean-field density is an order of magnitude (tests/test_layer.py)
    assert layer["density"] / 4 < result.layer.density < 2 * layer["density"]


def test_an_echo_line_across_the_image_shows_no_ring(surface):
    """The DEER image's middle row has the ring (dark) and its middle (bright); the same row as
    an echo, the RF pulse left out, is flat within its noise."""
    demo, result, _ = surface
    row = result.image.values[:, len(IMAGE_XY) // 2, 0]
    middle, ring = slice(len(row) // 2 - 1, len(row) // 2 + 2), np.abs(IMAGE_XY) > 12 * NM
    assert row[middle].mean() - row[ring].min() > 0.02, row
    path = demo.freqlock("echo", IMAGE_XY, np.array([0.0]), IMAGE_Z, demo.setup(),
                         REPETITIONS, TAU)
    echo = read_columns(path)[1]["ratio"]
    assert abs(echo[middle].mean() - echo[ring].mean()) < 0.01, echo
    assert echo.mean() > row.max() - 0.01  # nothing dephased: the undisturbed echo
