"""The NV laser: gating by the sequencer, the interlock, and the Cobolt driver on pyvisa-sim."""

import numpy as np
import pytest
import tango
import yaml

from nanomri.devices.laser import NVLaser
from nanomri.interfaces.errors import Refused
from nanomri.interfaces.laser import LaserMode
from nanomri.sequence import Pulse, Sequence
from nanomri.simulators.drivers.laser import SimLaser
from nanomri.simulators.playback import Playback
from nanomri.simulators.sim_world import SimWorld
from nanomri.world import load_world

from .conftest import ROOT
from .tango_context import CONFOCAL, device, reason

LASER_YAML = ROOT / "tests" / "visa" / "laser.yaml"
COBOLT = f"visa:ASRL1::INSTR|{LASER_YAML}@sim"


class Sequencer:
    """Stands in for the simulated sequencer: all the world asks of it is its playback."""

    def __init__(self, playback: Playback | None):
        self.playback = playback


def world_with_laser(now: float = 10.0) -> tuple[SimWorld, SimLaser]:
    world = SimWorld(load_world(CONFOCAL), clock=lambda: now)
    return world, SimLaser(world)


def test_cw_beam_reaches_the_sample_after_the_switch_time_at_its_power():
    world, laser = world_with_laser()
    laser.set_power(2e-3)
    laser.set_emission(True)
    t = 10.0 + laser.switch_time
    assert world.laser_power(np.array([t - 1e-9, t + 1e-9])).tolist() == [0.0, 2e-3]


def test_gated_beam_follows_the_sequencers_laser_channel():
    world, laser = world_with_laser()
    laser.set_power(1e-3)
    laser.set_mode(LaserMode.GATED)
    laser.set_emission(True)
    seq = Sequence((Pulse("laser", 1e-6, 3e-6), Pulse("gate", 1e-6, 3e-7)), 10e-6)
    world.links.sequencer = Sequencer(Playback(seq, start=11.0, repetitions=2))
    times = 11.0 + np.array([0.5e-6, 2e-6, 5e-6, 12e-6, 25e-6])  # off, on, off, on, done
    assert world.laser_power(times).tolist() == [0.0, 1e-3, 0.0, 1e-3, 0.0]


def test_gated_beam_stays_dark_when_nothing_is_played():
    world, laser = world_with_laser()
    laser.set_mode(LaserMode.GATED)
    laser.set_emission(True)
    assert world.laser_power(np.array([20.0])).tolist() == [0.0]


def test_opening_the_interlock_cuts_the_beam_and_refuses_emission_until_unblanked_again():
    world, laser = world_with_laser()
    laser.set_emission(True)
    laser.set_interlock(True)
    assert not laser.emission() and world.laser_power(np.array([11.0])).tolist() == [0.0]
    with pytest.raises(Refused, match="interlock is open") as exc:
        laser.set_emission(True)
    assert exc.value.reason == "INTERLOCK"
    laser.set_interlock(False)
    assert not laser.emission()
    laser.set_emission(True)
    assert laser.emission()


def test_device_mode_is_an_enum_and_the_status_says_gated():
    with device(NVLaser) as laser:
        assert laser.mode == LaserMode.CW
        laser.mode = LaserMode.GATED
        laser.emission = True
        assert laser.state() == tango.DevState.ON and "gated" in laser.status()
        with pytest.raises(tango.DevFailed):
            laser.mode = 7
        assert laser.mode == LaserMode.GATED
        laser.SafeState()
        assert laser.state() == tango.DevState.OFF


def test_device_with_open_interlock_is_in_alarm_and_refuses_emission(tmp_path):
    world = yaml.safe_load(CONFOCAL.read_text())
    world["instruments"]["laser"]["interlock_open"] = True
    path = tmp_path / "door_open.yaml"
    path.write_text(yaml.safe_dump(world))
    with device(NVLaser, f"sim:{path}") as laser:
        assert laser.state() == tango.DevState.ALARM and "interlock open" in laser.status()
        assert laser.interlock_open
        with pytest.raises(tango.DevFailed) as exc:
            laser.emission = True
        assert reason(exc) == "NANOMRI_INTERLOCK"
        assert laser.emission is False


def test_cobolt_through_the_device_sets_and_reads_power_and_emission():
    with device(NVLaser, COBOLT) as laser:
        assert laser.state() == tango.DevState.OFF
        assert float(laser.get_attribute_config("power").max_value) == pytest.approx(0.1)
        laser.power = 0.05
        laser.emission = True
        assert laser.power == pytest.approx(0.05) and laser.state() == tango.DevState.ON
        laser.mode = LaserMode.GATED
        assert laser.mode == LaserMode.GATED
        laser.Stop()
        assert laser.emission is False and laser.state() == tango.DevState.OFF


def test_cobolt_refuses_power_above_its_reported_maximum_and_keeps_the_old_one():
    with device(NVLaser, COBOLT) as laser:
        laser.power = 0.02
        with pytest.raises(tango.DevFailed) as exc:
            laser.power = 0.15
        assert reason(exc) == "API_WAttrOutsideLimit"
        assert laser.power == pytest.approx(0.02)


def test_cobolt_with_open_interlock_refuses_emission(tmp_path):
    model = yaml.safe_load(LASER_YAML.read_text())
    model["devices"]["cobolt"]["properties"]["interlock"]["default"] = 1
    path = tmp_path / "laser.yaml"
    path.write_text(yaml.safe_dump(model))
    with device(NVLaser, f"visa:ASRL1::INSTR|{path}@sim") as laser:
        assert laser.state() == tango.DevState.ALARM
        with pytest.raises(tango.DevFailed) as exc:
            laser.emission = True
        assert reason(exc) == "NANOMRI_INTERLOCK"
