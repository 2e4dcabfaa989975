"""The vector magnet: simulated ramps on a fake clock, the Tango device, the AMI 430 driver."""

import math
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import tango
import yaml

from nanomri.devices.magnet import VectorMagnet
from nanomri.drivers.magnet import open_driver as open_ami430
from nanomri.interfaces.errors import Refused
from nanomri.interfaces.magnet import MagnetState, axis_rates, from_spherical, to_spherical
from nanomri.simulators.drivers.magnet import SimVectorMagnet
from nanomri.simulators.drivers.magnet import open_driver as open_sim
from nanomri.simulators.sim_world import SimWorld
from nanomri.world import WorldError, parse_world
from nanomri.world_sections.magnet import MagnetSpec

from .conftest import ROOT
from .fake_clock import FakeClock
from .magnet_worlds import fast_world, world_text
from .tango_context import CONFOCAL, device, reason, wait_while

AMI_YAML = ROOT / "tests" / "visa" / "magnet.yaml"
SUPPLIES = ",".join(f"TCPIP0::192.168.1.{n}::7180::SOCKET" for n in (11, 12, 13))
# the Driver property of a device in the test context: its file database splits at commas
DEVICE_SUPPLIES = SUPPLIES.replace(",", "+")


def sim(**magnet) -> tuple[FakeClock, SimVectorMagnet]:
    clock = FakeClock()
    model = parse_world(world_text(**magnet))
    return clock, SimVectorMagnet(SimWorld(model, clock), model.instruments.magnet)


def ami(tmp_path, options: str = ";max_ramp_rate=0.01", supplies: str = SUPPLIES,
        **defaults) -> str:
    """The address of three simulated AMI 430 supplies on a fresh copy of the pyvisa-sim file,
    its property defaults changed by `defaults`."""
    model = yaml.safe_load(AMI_YAML.read_text())
    for name, value in defaults.items():
        model["devices"]["ami430"]["properties"][name]["default"] = value
    path = tmp_path / "ami430.yaml"
    path.write_text(yaml.safe_dump(model))
    return f"{supplies}|{path}@sim{options}"


@contextmanager
def magnet_device(driver: str) -> Iterator[tango.DeviceProxy]:
    """The VectorMagnet device on `driver`, read from the device itself: polled attributes
    would otherwise come from the polling buffer, up to one polling period old."""
    with device(VectorMagnet, driver) as magnet:
        magnet.set_source(tango.DevSource.DEV)
        yield magnet


def close(a, b, tol=1e-9) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def setpoint(proxy) -> tuple:
    """The setpoint in the write values of Bx, By, Bz, B, theta, phi, and the ramp rate."""
    names = ("Bx", "By", "Bz", "B", "theta", "phi")
    return tuple(proxy.read_attribute(n).w_value for n in names) + (proxy.ramp_rate,)


# --- pure geometry


def test_spherical_coordinates_round_trip_and_keep_the_direction_at_zero_field():
    vector = from_spherical(0.5, 1.0, -2.0)
    assert to_spherical(vector, (0.0, 0.0)) == pytest.approx((0.5, 1.0, -2.0))
    assert to_spherical((0.0, 0.0, 0.0), (0.3, 0.7)) == (0.0, 0.3, 0.7)
    assert to_spherical((0.0, 0.0, -0.2), (0.3, 0.7)) == pytest.approx((0.2, math.pi, 0.7))


def test_each_coil_ramps_at_its_share_of_the_rate_so_all_arrive_together():
    assert axis_rates((0.0, 0.0, 0.1), (0.4, -0.2, 0.1), 0.01) == pytest.approx(
        (0.01, 0.005, 0.01))


# --- simulator on a fake clock


def test_magnet_ramps_along_a_straight_line_at_the_set_rate_and_holds():
    clock, magnet = sim()
    magnet.set_ramp_rate(0.01)
    magnet.ramp_to((0.3, 0.15, 0.0))
    assert magnet.state() == MagnetState.RAMPING
    clock.now += 15.0  # halfway: the x coil moves 0.3 T at 0.01 T/s in 30 s
    assert close(magnet.field(), (0.15, 0.075, 0.0))
    assert magnet.state() == MagnetState.RAMPING
    clock.now += 15.0 - 1e-6
    assert magnet.state() == MagnetState.RAMPING
    clock.now += 2e-6
    assert magnet.state() == MagnetState.HOLDING
    assert magnet.field() == (0.3, 0.15, 0.0) == magnet.target()
    assert close(magnet.currents(), (0.3 / 0.02, 0.15 / 0.02, 0.0))


def test_magnet_refuses_vectors_beyond_a_coil_or_the_sphere_and_keeps_its_setpoint():
    clock, magnet = sim(axis_max_field={"x": 1.0, "y": 1.0, "z": 0.5})
    magnet.ramp_to((0.1, 0.0, 0.0))
    refusals = {(0.0, 0.0, 0.6): ("FIELD_LIMIT", r"z coil's limits \[-0.5, 0.5\] T"),
                (0.8, 0.8, 0.0): ("FIELD_LIMIT", "max_field of 1 T"),
                (math.nan, 0.0, 0.0): ("NOT_FINITE", "Bx"),
                (0.1, 0.2): ("BAD_SHAPE", "3 components")}
    for vector, (why, named) in refusals.items():
        with pytest.raises(Refused, match=named) as exc:
            magnet.ramp_to(vector)
        assert exc.value.reason == why
    assert magnet.target() == (0.1, 0.0, 0.0)
    clock.now += 100.0
    assert magnet.field() == (0.1, 0.0, 0.0)


def test_ramp_rate_outside_its_range_is_refused_and_kept():
    _, magnet = sim()
    for bad in (0.02, 0.0, 1e-7, math.nan):
        with pytest.raises(Refused, match=r"outside \[1e-05, 0.01\] T/s"):
            magnet.set_ramp_rate(bad)
    assert magnet.ramp_rate() == 2e-3


def test_a_new_rate_mid_ramp_continues_from_where_the_field_is():
    clock, magnet = sim()
    magnet.set_ramp_rate(0.01)
    magnet.ramp_to((0.0, 0.0, 0.2))
    clock.now += 10.0
    magnet.set_ramp_rate(0.002)  # 0.1 T left at 0.002 T/s: 50 s
    clock.now += 25.0
    assert magnet.field()[2] == pytest.approx(0.15)
    clock.now += 25.0 + 1e-6
    assert magnet.state() == MagnetState.HOLDING and magnet.field()[2] == 0.2


def test_pause_holds_the_field_where_it_is_and_resume_goes_on_to_the_setpoint():
    clock, magnet = sim()
    magnet.set_ramp_rate(0.01)
    magnet.ramp_to((0.0, 0.2, 0.0))
    clock.now += 5.0
    magnet.pause()
    held = magnet.field()
    assert held[1] == pytest.approx(0.05)
    clock.now += 60.0
    assert magnet.field() == held and magnet.state() == MagnetState.PAUSED
    assert magnet.target() == (0.0, 0.2, 0.0)
    magnet.resume()
    assert magnet.state() == MagnetState.RAMPING
    clock.now += 15.0 + 1e-6
    assert magnet.field() == (0.0, 0.2, 0.0) and magnet.state() == MagnetState.HOLDING


def test_persistent_switch_takes_its_cooling_and_heating_time_and_blocks_ramps():
    clock, magnet = sim()  # confocal: 30 s to cool the switch, 20 s to heat it
    magnet.set_ramp_rate(0.01)
    magnet.ramp_to((0.0, 0.0, 0.1))
    clock.now += 11.0
    magnet.set_persistent(True)
    assert magnet.persistent() and magnet.state() == MagnetState.COOLING_SWITCH
    clock.now += 29.9
    assert magnet.state() == MagnetState.COOLING_SWITCH
    clock.now += 0.2
    assert magnet.state() == MagnetState.HOLDING
    with pytest.raises(Refused, match="persistent") as exc:
        magnet.ramp_to((0.0, 0.0, 0.0))
    assert exc.value.reason == "PERSISTENT"
    magnet.set_persistent(False)
    assert not magnet.persistent() and magnet.state() == MagnetState.HEATING_SWITCH
    clock.now += 19.0
    with pytest.raises(Refused, match="still heating: ramps are possible in 1 s"):
        magnet.ramp_to((0.0, 0.0, 0.0))
    clock.now += 1.1
    assert magnet.state() == MagnetState.HOLDING and magnet.field() == (0.0, 0.0, 0.1)
    magnet.ramp_to((0.0, 0.0, 0.0))
    assert magnet.state() == MagnetState.RAMPING


def test_persistent_mode_cannot_be_entered_while_ramping():
    _, magnet = sim()
    magnet.ramp_to((0.1, 0.0, 0.0))
    with pytest.raises(Refused, match="while ramping") as exc:
        magnet.set_persistent(True)
    assert exc.value.reason == "BUSY" and not magnet.persistent()


def test_quench_collapses_the_field_and_blocks_ramps_until_reset():
    clock, magnet = sim()
    magnet.set_ramp_rate(0.01)
    magnet.ramp_to((0.0, 0.3, 0.0))
    clock.now += 10.0
    magnet.quench("y")
    assert magnet.state() == MagnetState.QUENCH and magnet.field() == (0.0, 0.0, 0.0)
    assert "quench of the y coil at |B| = 0.1 T" in magnet.fault()
    for action in (lambda: magnet.ramp_to((0.0, 0.0, 0.1)), magnet.resume,
                   lambda: magnet.set_persistent(True)):
        with pytest.raises(Refused, match="quench") as exc:
            action()
        assert exc.value.reason == "QUENCH"
    magnet.pause()  # the safe state is always possible
    magnet.reset_quench()
    assert magnet.fault() == "" and magnet.state() == MagnetState.PAUSED
    magnet.resume()
    clock.now += 30.0 + 1e-6
    assert magnet.field() == (0.0, 0.3, 0.0)


def test_a_ramp_through_the_worlds_quench_field_quenches_where_it_crosses_it():
    clock, magnet = sim(quench_field=0.25)
    magnet.set_ramp_rate(0.01)
    magnet.ramp_to((0.3, 0.4, 0.0))  # 40 s; |B| = 0.25 T halfway
    clock.now += 19.9
    assert magnet.state() == MagnetState.RAMPING
    clock.now += 0.2
    assert magnet.state() == MagnetState.QUENCH and magnet.field() == (0.0, 0.0, 0.0)
    assert "y coil at |B| = 0.25 T" in magnet.fault()


def test_sim_driver_opens_its_world_section_and_links_into_the_world(tmp_path):
    path = tmp_path / "world.yaml"
    path.write_text(world_text())
    magnet = open_sim(str(path))
    assert magnet.world.links.magnet is magnet
    assert magnet.constraints.max_field == 1.0 and magnet.ramp_rate() == 2e-3


def test_world_refuses_an_initial_ramp_rate_above_the_maximum():
    with pytest.raises(WorldError, match="initial_ramp_rate = 0.02 T/s is outside"):
        parse_world(world_text(initial_ramp_rate=0.02))
    shipped = yaml.safe_load(CONFOCAL.read_text())["instruments"]["magnet"]
    assert MagnetSpec.model_validate(shipped).min_ramp_rate > 0


# --- the Tango device on the simulator


def test_device_ramps_moving_then_on_with_the_field_at_the_setpoint(tmp_path):
    with magnet_device(fast_world(tmp_path)) as magnet:
        assert magnet.state() == tango.DevState.ON
        assert magnet.Bx == magnet.B == 0.0
        magnet.Bx = 0.3
        assert magnet.state() == tango.DevState.MOVING
        assert "ramping to (0.3, 0, 0) T at 0.25 T/s" in magnet.status()
        wait_while(magnet, tango.DevState.MOVING)
        assert magnet.state() == tango.DevState.ON and "holding" in magnet.status()
        assert (magnet.Bx, magnet.By, magnet.Bz) == (0.3, 0.0, 0.0)
        assert magnet.B == pytest.approx(0.3) and magnet.theta == pytest.approx(math.pi / 2)
        assert magnet.Ix == pytest.approx(15.0)
        assert setpoint(magnet)[:5] == pytest.approx((0.3, 0.0, 0.0, 0.3, math.pi / 2))


def test_device_pushes_change_events_on_the_field_while_it_ramps(tmp_path):
    with magnet_device(fast_world(tmp_path)) as magnet:
        values: list[float] = []
        magnet.subscribe_event("Bz", tango.EventType.CHANGE_EVENT,
                               lambda e: values.append(None if e.err else e.attr_value.value))
        magnet.Bz = 0.5  # two seconds at 0.25 T/s
        wait_while(magnet, tango.DevState.MOVING)
        deadline = time.monotonic() + 2.0
        while (not values or values[-1] != 0.5) and time.monotonic() < deadline:
            time.sleep(0.01)
        ramping = [v for v in values[1:] if 0.0 < v < 0.5]
        assert len(ramping) >= 3
        assert ramping == sorted(ramping) and values[-1] == 0.5


def test_device_spherical_writes_turn_and_scale_the_vector(tmp_path):
    with magnet_device(fast_world(tmp_path)) as magnet:
        magnet.ramp_rate = 1.0
        magnet.theta = math.pi / 2  # at zero field only the direction is remembered
        assert magnet.state() == tango.DevState.ON
        magnet.B = 0.4
        wait_while(magnet, tango.DevState.MOVING)
        assert (magnet.Bx, magnet.By, magnet.Bz) == pytest.approx((0.4, 0.0, 0.0), abs=1e-12)
        magnet.phi = math.pi / 2
        wait_while(magnet, tango.DevState.MOVING)
        assert (magnet.Bx, magnet.By, magnet.Bz) == pytest.approx((0.0, 0.4, 0.0), abs=1e-12)
        magnet.theta = 0.0
        wait_while(magnet, tango.DevState.MOVING)
        assert (magnet.Bx, magnet.By, magnet.Bz) == pytest.approx((0.0, 0.0, 0.4), abs=1e-12)
        assert magnet.phi == pytest.approx(math.pi / 2)  # kept along z
        magnet.RampTo([0.1, -0.2, 0.3])
        wait_while(magnet, tango.DevState.MOVING)
        assert (magnet.Bx, magnet.By, magnet.Bz) == pytest.approx((0.1, -0.2, 0.3))


def test_device_refuses_out_of_limit_writes_and_keeps_every_setting(tmp_path):
    with magnet_device(fast_world(tmp_path)) as magnet:
        magnet.RampTo([0.2, 0.1, 0.0])
        wait_while(magnet, tango.DevState.MOVING)
        before = setpoint(magnet)
        for name, bad in (("Bx", 1.5), ("Bz", math.nan), ("B", 1.2), ("theta", 4.0),
                          ("phi", -math.inf), ("ramp_rate", 2.0), ("ramp_rate", 0.0)):
            with pytest.raises(tango.DevFailed) as exc:
                magnet.write_attribute(name, bad)
            assert reason(exc) == "API_WAttrOutsideLimit", name
        for vector, why, named in (([0.8, 0.8, 0.0], "NANOMRI_FIELD_LIMIT", "max_field of 1 T"),
                                   ([0.1, 0.2], "NANOMRI_BAD_SHAPE", "3 components"),
                                   ([0.0, math.nan, 0.0], "NANOMRI_NOT_FINITE", "By")):
            with pytest.raises(tango.DevFailed) as exc:
                magnet.RampTo(vector)
            assert reason(exc) == why and named in exc.value.args[0].desc
        with pytest.raises(tango.DevFailed) as exc:
            magnet.By = 0.99  # inside the coil's limit, outside the |B| sphere
        assert reason(exc) == "NANOMRI_FIELD_LIMIT"
        assert magnet.state() == tango.DevState.ON
        assert setpoint(magnet) == before
        assert (magnet.Bx, magnet.By, magnet.Bz) == (0.2, 0.1, 0.0)


def test_device_persistent_mode_takes_the_switch_time_and_refuses_ramps(tmp_path):
    with magnet_device(fast_world(tmp_path)) as magnet:
        magnet.Bz = 0.2
        wait_while(magnet, tango.DevState.MOVING)
        magnet.persistent = True
        assert magnet.state() == tango.DevState.MOVING and "cooling" in magnet.status()
        wait_while(magnet, tango.DevState.MOVING)
        assert magnet.persistent and "persistent" in magnet.status()
        before = setpoint(magnet)
        for write in (lambda: setattr(magnet, "Bz", 0.1), lambda: magnet.RampTo([0, 0, 0])):
            with pytest.raises(tango.DevFailed) as exc:
                write()
            assert reason(exc) == "NANOMRI_PERSISTENT"
        assert setpoint(magnet) == before and magnet.Bz == 0.2
        magnet.persistent = False
        assert magnet.state() == tango.DevState.MOVING and "heating" in magnet.status()
        wait_while(magnet, tango.DevState.MOVING)
        magnet.Bz = 0.1
        wait_while(magnet, tango.DevState.MOVING)
        assert magnet.Bz == 0.1


def test_device_refuses_persistent_mode_while_ramping(tmp_path):
    with magnet_device(fast_world(tmp_path)) as magnet:
        magnet.Bx = 0.5
        with pytest.raises(tango.DevFailed) as exc:
            magnet.persistent = True
        assert reason(exc) == "NANOMRI_BUSY" and magnet.persistent is False


def test_safe_state_holds_the_field_mid_ramp_and_resume_finishes_it(tmp_path):
    with magnet_device(fast_world(tmp_path)) as magnet:
        magnet.Bz = 0.5
        time.sleep(0.3)
        magnet.SafeState()
        assert magnet.state() == tango.DevState.ON and "paused" in magnet.status()
        held = magnet.Bz
        assert 0.0 < held < 0.5
        time.sleep(0.3)
        assert magnet.Bz == held
        assert magnet.read_attribute("Bz").w_value == 0.5
        magnet.Resume()
        wait_while(magnet, tango.DevState.MOVING)
        assert magnet.Bz == 0.5


def test_device_quench_is_a_fault_until_reset(tmp_path):
    with magnet_device(fast_world(tmp_path, quench_field=0.2)) as magnet:
        magnet.Bz = 0.4
        wait_while(magnet, tango.DevState.MOVING)
        assert magnet.state() == tango.DevState.FAULT
        assert "quench of the z coil" in magnet.status()
        assert magnet.Bz == 0.0
        with pytest.raises(tango.DevFailed) as exc:
            magnet.Bx = 0.1
        assert reason(exc) == "NANOMRI_QUENCH"
        magnet.ResetQuench()
        assert magnet.state() == tango.DevState.ON and "Resume" in magnet.status()
        magnet.Bz = 0.1
        wait_while(magnet, tango.DevState.MOVING)
        assert magnet.Bz == 0.1


# --- the AMI 430 driver on pyvisa-sim


def test_ami430_driver_ramps_each_coil_at_its_share_of_the_rate(tmp_path):
    magnet = open_ami430(ami(tmp_path))
    magnet.set_ramp_rate(0.01)
    magnet.ramp_to((0.4, -0.2, 0.0))
    assert magnet.target() == (0.4, -0.2, 0.0)
    rates = [float(magnet.supplies[a].ask("RAMP:RATE:FIELD:1?").split(",")[0]) for a in "xyz"]
    assert rates == pytest.approx([0.01, 0.005, 0.01])
    assert magnet.supplies["x"].ask("FIELD:UNITS?") == "1"  # tesla
    assert magnet.supplies["x"].ask("RAMP:RATE:UNITS?") == "0"  # per second


def test_ami430_supply_refusal_is_a_refusal_and_the_others_keep_their_settings(tmp_path):
    magnet = open_ami430(ami(tmp_path, ";max_ramp_rate=0.5"))  # the supplies stop at 0.1 T/s
    magnet.set_ramp_rate(0.3)
    with pytest.raises(Refused, match="the x supply refused") as exc:
        magnet.ramp_to((0.2, 0.1, 0.0))
    assert exc.value.reason == "INSTRUMENT"
    assert magnet.target() == (0.0, 0.0, 0.0)
    assert magnet.supplies["x"].ask("RAMP:RATE:FIELD:1?").startswith("0.0020000000")


def test_ami430_through_the_device_takes_its_limits_from_the_supplies(tmp_path):
    with magnet_device(f"visa:{ami(tmp_path, supplies=DEVICE_SUPPLIES)}") as magnet:
        assert magnet.state() == tango.DevState.ON, magnet.status()
        config = magnet.get_attribute_config("Bx")
        assert (float(config.min_value), float(config.max_value)) == (-1.0, 1.0)  # 10 A x 0.1 T/A
        assert magnet.max_field == 1.0 and magnet.max_ramp_rate == 0.01
        assert magnet.ramp_rate == 0.002  # what the supplies held
        magnet.ramp_rate = 0.005
        magnet.Bx = 0.4
        magnet.Bz = -0.3
        assert setpoint(magnet)[:4] == pytest.approx((0.4, 0.0, -0.3, 0.5))  # FIELD:TARG?
        assert magnet.ramp_rate == 0.005
        with pytest.raises(tango.DevFailed) as exc:
            magnet.RampTo([0.8, 0.0, 0.8])
        assert reason(exc) == "NANOMRI_FIELD_LIMIT"
        magnet.SafeState()
        assert magnet.state() == tango.DevState.ON


def test_ami430_through_the_device_refuses_ramps_in_persistent_mode(tmp_path):
    with magnet_device(f"visa:{ami(tmp_path, supplies=DEVICE_SUPPLIES)}") as magnet:
        magnet.Bx = 0.2
        magnet.persistent = True
        assert magnet.persistent is True
        with pytest.raises(tango.DevFailed) as exc:
            magnet.Bx = 0.1
        assert reason(exc) == "NANOMRI_PERSISTENT"
        assert magnet.read_attribute("Bx").w_value == 0.2
        magnet.persistent = False
        magnet.Bx = 0.1
        assert magnet.read_attribute("Bx").w_value == 0.1


def test_ami430_quench_through_the_device_is_a_fault_until_reset(tmp_path):
    quenched = ami(tmp_path, supplies=DEVICE_SUPPLIES, state=7, quench=1)
    with magnet_device(f"visa:{quenched}") as magnet:
        assert magnet.state() == tango.DevState.FAULT
        assert "quench detected by the x, y, z supply" in magnet.status()
        with pytest.raises(tango.DevFailed) as exc:
            magnet.Bz = 0.1
        assert reason(exc) == "NANOMRI_QUENCH"
        magnet.ResetQuench()
        assert magnet.state() == tango.DevState.ON


def test_ami430_address_without_the_rated_ramp_rate_leaves_the_device_in_fault(tmp_path):
    with magnet_device(f"visa:{ami(tmp_path, '', DEVICE_SUPPLIES)}") as magnet:
        assert magnet.state() == tango.DevState.FAULT
        assert "max_ramp_rate" in magnet.status()


def test_shipped_ami430_model_opens_holding_and_without_quench(tmp_path):
    shutil.copy(AMI_YAML, tmp_path / "plain.yaml")
    magnet = open_ami430(f"{SUPPLIES}|{tmp_path / 'plain.yaml'}@sim;max_ramp_rate=0.01")
    assert magnet.state() == MagnetState.HOLDING and magnet.fault() == ""
