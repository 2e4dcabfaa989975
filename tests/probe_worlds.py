"""The confocal world with a test surface (one bump on a flat plane) and changes, and the
simulated probe and tunnel-current readout on it on a fake clock: for the probe's tests and the
tunnel current's."""

import pytest
import yaml

from nanomri.interfaces.errors import Refused
from nanomri.simulators.drivers.scan_head import SimProbe
from nanomri.simulators.drivers.tunnel_current import SimTunnelCurrent
from nanomri.simulators.sim_world import SimWorld
from nanomri.world import World, parse_world

from .fake_clock import FakeClock
from .tango_context import CONFOCAL

BUMP = {"x": 2.0e-6, "y": 2.5e-6, "height": 5.0e-9, "fwhm": 50.0e-9}
PLANE = 0.5e-6
TEST_SURFACE = {"height": PLANE, "slope": {"x": 0.0, "y": 0.0}, "bumps": [BUMP], "steps": [],
                "drift": {"x": 0.0, "y": 0.0, "z": 0.0}, "tunnel_decay": 1.0e10,
                "contact_conductance": 7.75e-5}


def world_data(surface: dict | None = None, probe: dict | None = None,
               tunnel: dict | None = None) -> dict:
    """The shipped world with the test surface (one bump on a flat plane) and changes."""
    data = yaml.safe_load(CONFOCAL.read_text())
    data["sample"]["surface"] = {**TEST_SURFACE, **(surface or {})}
    data["instruments"]["probe"].update(probe or {})
    data["instruments"]["tunnel_current"].update(tunnel or {})
    return data


def model(**changes) -> World:
    return parse_world(yaml.safe_dump(world_data(**changes)), "test.yaml")


def setup(**changes) -> tuple[FakeClock, SimProbe, SimTunnelCurrent]:
    clock = FakeClock()
    world = SimWorld(model(**changes), clock)
    probe, readout = SimProbe(world), SimTunnelCurrent(world)
    world.links.probe, world.links.tunnel_current = probe, readout
    return clock, probe, readout


def engaged(**changes) -> tuple[FakeClock, SimProbe]:
    """A probe in current feedback over the plane at x = 1 µm (away from the bump)."""
    clock, probe, _ = setup(**changes)
    probe.move_to("x", 1.0e-6)
    clock.now += 2.0
    probe.approach()
    clock.now += 10.0
    assert probe.feedback()
    return clock, probe


def refused(call, *args) -> Refused:
    with pytest.raises(Refused) as exc:
        call(*args)
    return exc.value
