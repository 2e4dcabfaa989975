"""The sensor NV found as an experimenter finds it, with the world withheld from the
measurement: its confocal spot among the field's, and its place under the tip from the tip's
field, on a world whose NV sits at a random place under the tip's start and a random depth."""

import numpy as np
import pytest
import yaml

import nanomri.world
from nanomri.cli.demo import run_lines
from nanomri.cli.demo_locate import WORLD
from nanomri.cli.nv_finder import sensor_in_field
from nanomri.lab import lab_of
from nanomri.surface import surface_height
from nanomri.world import load_world

from .conftest import started_stack

pytestmark = pytest.mark.stack

NM = 1e-9
PSF = 300 * NM  # the confocal spot's FWHM: a focus within a tenth of it


def draw_nv(seed: int, start: np.ndarray) -> list[float]:
    """An NV up to 25 nm from the tip's start laterally (the optics' alignment), 6 to 15 nm
    under the surface there."""
    rng = np.random.default_rng(seed)
    x, y = start[:2] + rng.uniform(-25, 25, 2) * NM
    surface = float(surface_height(load_world(WORLD).sample.surface, x, y))
    return [float(x), float(y), surface - float(rng.uniform(6, 15)) * NM]


def withheld(path, *args, **kwargs):
    raise AssertionError(f"the measurement read the world file {path}")


@pytest.mark.parametrize("seed", [3])
def test_the_sensor_nv_is_found_by_measurement_with_the_world_withheld(
        seed, tmp_path, monkeypatch):
    lab = lab_of(WORLD)
    nv = draw_nv(seed, lab.tip_start)
    world = tmp_path / "nv.yaml"
    world.write_text(yaml.safe_dump({"base": str(WORLD), "seed": seed,
                                     "sensor": {"nv_position": nv}}))
    with started_stack(tmp_path, world) as stack:
        host = stack.tango_host

        def run(lines):
            return run_lines(f"tango://{host}/nanomri/door/1", lines)

        run(["laser_on 1e-3"])
        monkeypatch.setattr(nanomri.world, "world_document", withheld)
        found, _ = sensor_in_field(run, lab, host)
        monkeypatch.undo()
    model = load_world(world)
    focus = model.sample.nv_centres[model.sensor.nv]
    assert np.all(np.abs(np.subtract(found.focus, focus)[:2]) < PSF / 10), (found.focus, focus)
    off = found.place.position - np.asarray(nv)
    assert np.all(np.abs(off) < 0.5 * NM), off / NM
    # not yet asserted: that the reported error covers the truth. The fit's error assumes
    # independent pixels; on the stack a place 0.27 nm off came with 0.07 nm (issue 15, item 3)
