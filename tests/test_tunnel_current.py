"""Tunnel current: junction physics, the simulated preamplifier and lock-in, the device."""

import math
import time

import numpy as np
import pytest
import tango
import yaml

from nanomri.devices.scan_head import ScanHead
from nanomri.devices.tunnel_current import TunnelCurrent
from nanomri.simulators.drivers.tunnel_current import SimTunnelCurrent
from nanomri.simulators.sim_world import SimWorld
from nanomri.tunnelling import gap_for_current, tunnel_current
from nanomri.world import WorldError, parse_world

from .fake_clock import FakeClock
from .probe_worlds import PLANE, engaged, model, refused, setup, world_data
from .tango_context import CONFOCAL, device, devices, reason, wait_while

G0, KAPPA = 7.75e-5, 1.0e10


# --- physics -------------------------------------------------------------------------------


def test_current_falls_by_e_squared_per_inverse_kappa_of_gap():
    i1, i2 = tunnel_current([5e-10, 6e-10], 0.04, G0, KAPPA)
    assert i1 / i2 == pytest.approx(math.exp(2.0), rel=1e-12)
    assert float(tunnel_current(0.0, 0.04, G0, KAPPA)) == pytest.approx(G0 * 0.04)
    assert float(tunnel_current(-1e-10, 0.04, G0, KAPPA)) == pytest.approx(G0 * 0.04)  # contact


def test_seed_tunnel_conditions_give_an_angstrom_scale_gap():
    # seed 003: I = 10 pA at V_DC = 40 mV
    gap = gap_for_current(10e-12, 0.04, G0, KAPPA)
    assert 4e-10 < gap < 8e-10
    assert float(tunnel_current(gap, 0.04, G0, KAPPA)) == pytest.approx(10e-12, rel=1e-12)
    assert float(tunnel_current(gap, -0.04, G0, KAPPA)) == pytest.approx(-10e-12, rel=1e-12)
    assert gap_for_current(10e-12, 0.0, G0, KAPPA) == -math.inf


# --- the simulated readout -------------------------------------------------------------------


def test_current_is_the_setpoint_while_the_current_feedback_holds_the_tip():
    clock, probe = engaged()
    readout = probe.world.links.tunnel_current
    setpoint = probe.setpoint("current")
    assert readout.expected_current() == pytest.approx(setpoint, rel=1e-6)
    readings = np.array([readout.current() for _ in range(2000)])
    spec = readout.spec
    assert readings.mean() == pytest.approx(setpoint, rel=0.01)
    assert readings.std() == pytest.approx(spec.current_noise * math.sqrt(spec.bandwidth),
                                           rel=0.1)


def test_current_follows_the_gap_the_probe_reports_with_the_feedback_off():
    clock, probe, readout = setup()
    probe.move_to("x", 1.0e-6)
    clock.now += 2.0
    probe.move_to("z", PLANE + 6e-10)
    clock.now += 5.0
    expected = G0 * readout.bias() * math.exp(-2 * KAPPA * 6e-10)
    assert readout.expected_current() == pytest.approx(expected, rel=1e-6)
    probe.retract()
    clock.now += 5.0
    assert readout.expected_current() < 1e-30


def test_no_probe_in_the_process_is_an_open_junction_with_noise_only():
    world = SimWorld(model(), FakeClock())
    readout = SimTunnelCurrent(world)
    assert readout.expected_current() == 0.0
    assert abs(readout.current()) < 1e-11 and readout.lockin()[0] < 1e-12


def test_same_seed_same_noise():
    def readings():
        return [SimTunnelCurrent(SimWorld(model(), FakeClock())).current() for _ in range(3)]

    assert readings() == readings()


def test_preamplifier_saturates_and_clips_at_full_scale():
    clock, probe = engaged()
    readout = probe.world.links.tunnel_current
    probe.set_setpoint("current", readout.constraints.current_max)
    clock.now += 0.1
    assert readout.saturated()
    assert abs(readout.current()) <= readout.constraints.current_max


def test_lower_bias_in_current_feedback_brings_the_tip_closer_by_ln_ratio_over_2_kappa():
    clock, probe = engaged()
    readout = probe.world.links.tunnel_current
    before = float(probe.gap(clock.now)[0])
    readout.set_bias(readout.bias() / 4)
    clock.now += 0.1
    assert before - float(probe.gap(clock.now)[0]) == pytest.approx(math.log(4) / (2 * KAPPA),
                                                                     rel=1e-4)
    assert readout.expected_current() == pytest.approx(probe.setpoint("current"), rel=1e-4)


def test_zero_bias_in_current_feedback_is_refused_as_a_crash_and_bias_kept():
    clock, probe = engaged()
    readout = probe.world.links.tunnel_current
    before = readout.bias()
    error = refused(readout.set_bias, 0.0)
    assert error.reason == "CRASH" and "bias 0 V" in str(error)
    assert readout.bias() == before and probe.feedback()
    probe.set_feedback(False)
    readout.set_bias(0.0)  # with z held, a zero bias is harmless
    assert readout.bias() == 0.0


def test_approach_in_current_mode_at_zero_bias_is_refused():
    clock, probe, readout = setup()
    readout.set_bias(0.0)
    assert refused(probe.approach).reason == "CRASH"
    assert not probe.is_approaching() and not probe.is_moving("z")


def test_lockin_without_modulation_shows_filtered_noise_only():
    clock, _, readout = setup()
    readout.set_time_constant(0.01)
    amplitudes = []
    for _ in range(3000):
        clock.now += 0.1  # ten time constants: independent outputs
        amplitudes.append(readout.lockin()[0])
    sigma = readout.spec.current_noise * math.sqrt(1 / (4 * 0.01))
    assert np.mean(amplitudes) == pytest.approx(sigma * math.sqrt(math.pi / 2), rel=0.05)
    amplitude, phase = readout.lockin()
    assert readout.lockin() == (amplitude, phase)  # read twice at once: one output
    assert -math.pi <= phase <= math.pi


def test_lockin_settings_are_refused_outside_the_allowed_values_and_kept():
    _, _, readout = setup()
    assert refused(readout.set_time_constant, 0.02).reason == "NOT_ALLOWED"
    assert refused(readout.set_reference_frequency, 1e6).reason == "OUT_OF_RANGE"
    assert refused(readout.set_bias, 11.0).reason == "OUT_OF_RANGE"
    spec = readout.spec
    assert readout.time_constant() == spec.initial_time_constant
    assert readout.reference_frequency() == spec.initial_reference_frequency
    assert readout.bias() == spec.initial_bias


def test_world_refuses_an_initial_time_constant_not_in_the_list():
    data = world_data(tunnel={"initial_time_constant": 0.02})
    with pytest.raises(WorldError, match="initial_time_constant"):
        parse_world(yaml.safe_dump(data), "w.yaml")


# --- the device ------------------------------------------------------------------------------


def test_device_declares_limits_and_refuses_bad_values_leaving_settings_unchanged():
    with device(TunnelCurrent) as tunnel:
        names = ("bias", "lockin_time_constant", "reference_frequency")
        before = {name: tunnel.read_attribute(name).value for name in names}
        assert tunnel.get_attribute_config("bias").unit == "V"
        assert float(tunnel.get_attribute_config("bias").max_value) == 10.0
        for name, value in (("bias", 11.0), ("bias", math.nan), ("bias", -math.inf),
                            ("reference_frequency", 1e5), ("lockin_time_constant", 5.0)):
            with pytest.raises(tango.DevFailed) as exc:
                tunnel.write_attribute(name, value)
            assert reason(exc) == "API_WAttrOutsideLimit", name
        with pytest.raises(tango.DevFailed) as exc:
            tunnel.lockin_time_constant = 0.02
        assert reason(exc) == "NANOMRI_NOT_ALLOWED" and "0.03" in str(exc.value)
        assert {name: tunnel.read_attribute(name).value for name in names} == before
        tunnel.lockin_time_constant = 0.3
        assert tunnel.lockin_time_constant == 0.3


def test_device_reads_an_open_junction_and_safe_state_keeps_a_small_bias_of_its_sign():
    with device(TunnelCurrent, f"sim:{CONFOCAL}") as tunnel:
        tunnel.set_source(tango.DevSource.DEV)
        assert tunnel.state() == tango.DevState.ON and "bias" in tunnel.status()
        assert abs(tunnel.current) < 5e-12  # no probe in this server
        assert tunnel.get_attribute_config("current").unit == "A"
        assert 0.0 <= tunnel.lockin_amplitude < 1e-12
        tunnel.bias = -2.0
        tunnel.SafeState()
        assert tunnel.bias == -0.01
        tunnel.bias = 0.004
        tunnel.SafeState()
        assert tunnel.bias == 0.004


@pytest.fixture
def fast_world(tmp_path) -> str:
    data = world_data(surface={"height": 0.95e-6},
                      probe={"approach_velocity": 1.0e-6})
    path = tmp_path / "fast.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_device_alarms_when_the_current_saturates_the_preamplifier(fast_world):
    with devices((ScanHead, "test/nanomri/probe", f"sim:{fast_world}#probe"),
                 (TunnelCurrent, "test/nanomri/tunnel", f"sim:{fast_world}")) as context:
        probe = context.get_device("test/nanomri/probe")
        tunnel = context.get_device("test/nanomri/tunnel")
        tunnel.set_source(tango.DevSource.DEV)
        probe.setpoint_current = 1e-8  # the preamplifier's full scale
        probe.Approach()
        wait_while(probe, tango.DevState.MOVING)
        assert tunnel.state() == tango.DevState.ALARM
        assert "saturated" in tunnel.status()
        assert tunnel.read_attribute("current").quality == tango.AttrQuality.ATTR_ALARM
        with pytest.raises(tango.DevFailed) as exc:
            tunnel.bias = 0.0
        assert reason(exc) == "NANOMRI_CRASH"
        assert tunnel.bias == pytest.approx(0.04)
        probe.setpoint_current = 1e-10
        wait_while(tunnel, tango.DevState.ALARM, timeout=2.0)
        deadline = time.monotonic() + 2.0  # the loop settles in a few of its time constants
        while abs(tunnel.current - 1e-10) > 5e-12:
            assert time.monotonic() < deadline, f"current {tunnel.current} A, not 1e-10 A"
