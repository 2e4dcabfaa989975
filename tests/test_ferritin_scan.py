"""A ferritin T1-contrast image from the Door, in leapfrog mode, on a world whose cluster is
drawn at random: the image's rows find the cluster's edges where the world put it."""

import numpy as np
import pytest
import yaml

from nanomri.analysis import ferritin_image as fi
from nanomri.nexus import read_image
from nanomri.world import load_world

from .conftest import ROOT, started_stack
from .test_pulsed_macros import last_file
from .test_stock_scans import device

pytestmark = pytest.mark.stack

FERRITIN = ROOT / "conf" / "worlds" / "ferritin.yaml"
PIXEL = 8.3e-9
COLUMNS = 40
EDGE_TOLERANCE = 2 * PIXEL  # of one row's edge from the ellipse the cores fill
MEAN_TOLERANCE = PIXEL  # of the rows' mean edge


def draw_cluster(seed: int) -> dict:
    """A cluster of random place, shape and core count (the density of the demo's)."""
    rng = np.random.default_rng(seed)
    size = [float(rng.uniform(70e-9, 140e-9)), float(rng.uniform(60e-9, 120e-9))]
    cores = int(500 * size[0] * size[1] / (130e-9 * 100e-9))
    return {"centre": [float(rng.uniform(-40e-9, 40e-9)), float(rng.uniform(-15e-9, 15e-9))],
            "size": size, "cores": cores, "depth": [4e-9, 40e-9]}


@pytest.fixture(scope="module", params=[7])
def cell(request, tmp_path_factory):
    """A stack on the ferritin world with a random cluster, no drift, 600x time-lapse; the
    section approached beside the cluster over the sensor NV, laser on."""
    tmp = tmp_path_factory.mktemp("ferritin")
    cluster = draw_cluster(request.param)
    world = tmp / "cell.yaml"
    world.write_text(yaml.safe_dump({
        "base": str(FERRITIN), "seed": request.param, "clock_rate": 600.0,
        "sample": {"surface": {"drift": {"x": 0.0, "y": 0.0, "z": 0.0}}},
        "sensor": {"ferritin": {"clusters": [cluster]}}}))
    model = load_world(world)
    nx, ny, _ = model.sensor.nv_position
    x, y, z = model.sample.nv_centres[model.sensor.nv]
    with started_stack(tmp, world) as stack:
        for line in ("laser_on 2e-3", f"mv x {x} y {y} z {z}", f"mv tip_x {nx - 300e-9}",
                     f"mv tip_z {model.sample.surface.height + 50e-9}",
                     "approach frequency_shift", "senv NanomriLeapfrog 20e-9"):
            stack.run_ok(line)
        yield stack, cluster, (nx, ny)


def ellipse_edges(cluster: dict, image_y: float) -> tuple[float, float]:
    """Where the world's ellipse of cores ends along a row, in the image's x (the tip's place
    from the NV): a core at (cx, cy) of the section is over the NV with the tip at -(cx, cy)."""
    (cx, cy), (a, b) = cluster["centre"], cluster["size"]
    half = a / 2 * np.sqrt(max(0.0, 1 - ((-image_y - cy) / (b / 2)) ** 2))
    return -cx - half, -cx + half


def test_a_t1_image_finds_the_edges_of_a_random_cluster(cell):
    stack, cluster, (nx, ny) = cell
    rows = -cluster["centre"][1] + np.array([-PIXEL, 0.0, PIXEL])
    half = (COLUMNS - 1) / 2 * PIXEL
    done = stack.run_ok(f"nvraster tip_x {nx - half} {nx + half} {COLUMNS} "
                        f"tip_y {ny + rows[0]} {ny + rows[-1]} {len(rows)} t1 50e-6 100000")
    assert "leapfrog: the tip hops 20 nm" in done.stdout
    image, x, y = read_image(last_file(stack, done.stdout + done.stderr))
    edges = fi.row_edges(image, x - nx)
    assert len(edges) == 2 * len(rows), "a row without the cluster"
    found = np.array([(e.position, f.position) for e, f in zip(edges[::2], edges[1::2],
                                                                strict=True)])
    expected = np.array([ellipse_edges(cluster, row - ny) for row in y])
    assert np.abs(found - expected).max() < EDGE_TOLERANCE, (found, expected)
    assert np.abs(found.mean(0) - expected.mean(0)).max() < MEAN_TOLERANCE, (found, expected)
    probe = device(stack, "nanomri/confocal/probe")
    assert probe.feedback and probe.leapfrog_height == 0.0  # landed, and its height restored


def test_leapfrog_beyond_the_scan_heads_range_is_refused_before_the_scan(cell):
    stack, _, (nx, ny) = cell
    stack.run_ok("senv NanomriLeapfrog 1e-6")
    try:
        done = stack.cli("run", f"nvline tip_x {nx} {nx + 50e-9} 6 t1 50e-6 1000")
    finally:
        stack.run_ok("senv NanomriLeapfrog 20e-9")
    assert done.returncode != 0 and "leapfrog_height" in done.stdout + done.stderr
    assert device(stack, "nanomri/confocal/probe").leapfrog_height == 0.0
