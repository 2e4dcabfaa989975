"""Drift tracked during an NV scan with the tip, on the whole stack: a world whose sample
drifts six times as fast as the confocal world's, in all three axes, the NV found by
measurement, a tip scan of minutes with env NanomriTrack; the NV, nanometres away by the time
the scan starts, is found again, brought back to where it was found in the scan head's frame
and kept there, which untracked it leaves by several times the tracking's error. The world is
read only afterwards."""

import h5py
import numpy as np
import pytest
import yaml

from nanomri.cli.demo import run_lines
from nanomri.cli.demo_tip import last_file
from nanomri.cli.nv_finder import FIELD, QUICK, field_on, find_sensor, spots_in, track_settings
from nanomri.lab import lab_of
from nanomri.world import load_world

from .conftest import started_stack
from .stack_helpers import device
from .tango_context import CONFOCAL

pytestmark = pytest.mark.stack

NM = 1e-9
DRIFT = {"x": 20e-12, "y": -16e-12, "z": 8e-12}  # m/s: six times the confocal world's
EVERY = 15.0  # s between registrations


def test_a_tracked_tip_scan_keeps_the_nv_where_it_was_found(tmp_path):
    world = tmp_path / "drifting.yaml"
    world.write_text(yaml.safe_dump({"base": str(CONFOCAL), "sample": {"surface": {
        "drift": DRIFT}}}))
    lab = lab_of(world)
    with started_stack(tmp_path, world) as stack:
        host = stack.tango_host

        def run(lines):
            return run_lines(f"tango://{host}/nanomri/door/1", lines)

        run(["laser_on 2e-3"])
        bare = field_on(run, host)
        found = find_sensor(run, lab, spots_in(run), bare, FIELD, host, (QUICK,))
        x, y, _ = found.place.position
        stack.run_ok(f"mv tip_x {x} tip_y {y} tip_z {found.surface_z + 60 * NM}")
        stack.run_ok(f"senv NanomriTrack \"{track_settings(found, lab, bare, FIELD, EVERY)}\"")
        try:
            out = run([f"nvraster tip_x {x - 20 * NM} {x + 20 * NM} 6 "
                       f"tip_y {y - 20 * NM} {y + 20 * NM} 12 t1 1e-3 1000"])
        finally:
            stack.run_ok("usenv NanomriTrack")
        head = device(stack, "nanomri/confocal/probe")
        clock = head.clock
        compensation = np.array([head.read_attribute(f"drift_compensation_{a}").value
                                 for a in "xyz"])
        estimate = np.array([head.read_attribute(f"drift_estimate_{a}").value for a in "xyz"])
    messages = "\n".join(out)
    registrations = messages.count("tracked: the NV")
    assert registrations >= 4 and "kept out" not in messages, messages
    with h5py.File(last_file(out), "r") as h5:
        m = h5["entry/measurement"]
        tracked = np.stack([m[f"tracked_{a}"][()] for a in "xyz"], -1)
        error = np.array([m[f"tracked_error_{a}"][-1] for a in "xyz"])
        estimates = np.stack([m[f"drift_estimate_{a}"][()] for a in "xyz"], -1)
    assert len(np.unique(tracked[:, 0])) >= registrations  # every registration in the file
    assert np.allclose(estimates[-1], estimate)
    # the truth: the NV's place in the head's frame is its own plus the drift since the world
    # started, less the compensation. Untracked it would have left the place the finder
    # measured by the drift since; tracked, it is brought back there and kept, within 3 errors
    # of the last registration (0.1 to 0.7 nm laterally as the lab's load goes) or 1 nm
    model = load_world(world)
    drift = np.array([model.sample.surface.drift.x, model.sample.surface.drift.y,
                      model.sample.surface.drift.z])
    nv = np.asarray(model.sensor.nv_position) + drift * clock - compensation
    untracked = drift * (clock - found.when.clock)
    off, bound = nv - found.place.position, np.maximum(1 * NM, 3 * error)
    assert np.all(np.abs(off) < bound), (off / NM, error / NM, untracked / NM)
    assert np.all(np.abs(untracked) > 2 * bound), (untracked / NM, off / NM)  # untracked, no
    assert np.all(np.abs(estimate) <= 1e-10)  # the tracker's bound
