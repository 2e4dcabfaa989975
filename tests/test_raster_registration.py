"""Hardware rasters are where the stage was at any speed it allows: on stages of different top
speeds and sequencers of different start latencies, a bidirectional raster's backward lines
fall on its forward lines, and both on a step raster's image, within a tenth of a pixel,
measured from the images (the fitted centre of one NV's spot), not from the world."""

import glob
from collections.abc import Iterator

import numpy as np
import pytest
import yaml
from scipy.optimize import curve_fit

from nanomri.nexus import read_image
from nanomri.world import load_world

from .conftest import StackRun, started_stack
from .tango_context import CONFOCAL

NV = load_world(CONFOCAL).sample.nv_centres[0]
PIXEL = 100e-9
HALF_WIDTH, HALF_HEIGHT = 0.6e-6, 0.3e-6  # the image around the NV: 13 x 7 pixels
# top speed (m/s) of the stage's lateral axes and the sequencer's start latency (s); the NV
# ten times brighter than the default world's, so that a pixel at top speed counts enough
STAGES = {"slow stage, short latency": (5.0e-5, 1.0e-3),
          "fast stage, long latency": (4.0e-4, 4.0e-3)}


@pytest.fixture(scope="module", params=list(STAGES), ids=list(STAGES))
def stage(request, tmp_path_factory) -> Iterator[tuple[StackRun, float]]:
    """A stack on a world with that stage and sequencer, the laser on the NV's plane; its top
    speed."""
    velocity, latency = STAGES[request.param]
    tmp = tmp_path_factory.mktemp("registration")
    world = tmp / "stage.yaml"
    world.write_text(yaml.safe_dump({
        "base": str(CONFOCAL),
        "optics": {"nv_saturation_rate": 1.0e6},
        "instruments": {"scanner": {"max_velocity": {"x": velocity, "y": velocity}},
                        "sequencer": {"start_latency": latency}},
    }))
    with started_stack(tmp, world) as run:
        run.run_ok("laser_on 10e-3")
        run.run_ok(f"mv z {NV[2]}")
        yield run, velocity


def spot_centre(image: np.ndarray, x: np.ndarray) -> float:
    """The x of the NV's spot: a Gaussian fitted to the image's column sums."""
    profile = image.sum(axis=0)

    def gaussian(x, amplitude, x0, sigma, background):
        return amplitude * np.exp(-((x - x0) ** 2) / (2 * sigma**2)) + background

    guess = [np.ptp(profile), x[np.argmax(profile)], 130e-9, profile.min()]
    (_, x0, _, _), _ = curve_fit(gaussian, x, profile, p0=guess)
    return float(x0)


def raster_at_top_speed(run: StackRun, velocity: float, mode: str) -> tuple[np.ndarray, ...]:
    """An image around the NV, swept at the stage's top speed (the shortest dwell it allows)."""
    n_x, n_y = round(2 * HALF_WIDTH / PIXEL) + 1, round(2 * HALF_HEIGHT / PIXEL) + 1
    dwell = PIXEL / velocity * (1 + 1e-6)
    run.run_ok(f"raster x {NV[0] - HALF_WIDTH} {NV[0] + HALF_WIDTH} {n_x} "
               f"y {NV[1] - HALF_HEIGHT} {NV[1] + HALF_HEIGHT} {n_y} {dwell!r} {mode}")
    path = sorted(glob.glob(str(run.results / "scans" / "scan_*.h5")))[-1]
    return read_image(path)


def test_backward_forward_and_step_images_register_within_a_tenth_of_a_pixel(stage):
    run, velocity = stage
    image, x, _ = raster_at_top_speed(run, velocity, "--bidirectional")
    forward, backward = spot_centre(image[0::2], x), spot_centre(image[1::2], x)
    continuous = spot_centre(*raster_at_top_speed(run, velocity, "--continuous")[:2])
    step = spot_centre(*raster_at_top_speed(run, velocity, "step")[:2])
    centres = {"forward": forward, "backward": backward, "continuous": continuous}
    off = {name: (c - step) / PIXEL for name, c in centres.items()}
    assert all(abs(v) < 0.1 for v in off.values()), f"pixels off the step image: {off}"
    assert abs(forward - backward) < 0.1 * PIXEL
