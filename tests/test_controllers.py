"""The Pool controllers of nanomri without a Pool: their pure logic, and each one as a client of
its device in PyTango's test context (frames per trigger, ramps, refusals, states)."""

import importlib.util
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import tango
from sardana import State
from sardana.pool import AcqSynch

from nanomri.devices.camera import EMCCD
from nanomri.devices.laser import NVLaser
from nanomri.devices.magnet import VectorMagnet
from nanomri.devices.sequencer import PulseSequencer
from nanomri.devices.signal_generator import SignalGenerator
from nanomri.devices.tunnel_current import TunnelCurrent
from nanomri.interfaces.signal_generator import Mode
from nanomri.sequence import Pulse, Sequence
from nanomri.world import load_world

from .conftest import ROOT
from .magnet_worlds import fast_world
from .tango_context import CONFOCAL, WORLD, device, devices, reason, wait_while


def controller_module(name: str):
    """A module of controllers/ (a PoolPath folder), loaded from its file as the Pool does."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "controllers" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EMCCD_CTRL = controller_module("EMCCDCtrl")
MAGNET_CTRL = controller_module("MagnetCtrl")
PSEUDO_CTRL = controller_module("MagnetPseudoCtrl")
GENERATOR_CTRL = controller_module("SignalGeneratorCtrl")
TUNNEL_CTRL = controller_module("TunnelCurrentCtrl")
CAMERA = load_world(CONFOCAL).instruments.camera


def settle(ctrl, axis: int = 1, timeout: float = 10.0) -> tuple:
    """State and status of a motor axis once it stops Moving."""
    deadline = time.monotonic() + timeout
    while True:
        ctrl.StateAll()
        state, status, _ = ctrl.StateOne(axis)
        if state != State.Moving:
            return state, status
        assert time.monotonic() < deadline, f"still moving after {timeout} s: {status}"
        time.sleep(0.01)


# pure logic ---------------------------------------------------------------------------

@pytest.mark.parametrize("b, theta, phi", [(0.5, 0.3, 1.1), (1e-3, math.pi / 2, -2.0),
                                           (0.2, math.pi - 0.1, 3.0)])
def test_field_pseudo_motors_go_to_components_and_back(b, theta, phi):
    ctrl = PSEUDO_CTRL.MagnetPseudoCtrl("field_ctrl", {})
    vector = ctrl.CalcAllPhysical((b, theta, phi), (0.0, 0.0, 0.0))
    assert vector == pytest.approx((b * math.sin(theta) * math.cos(phi),
                                    b * math.sin(theta) * math.sin(phi), b * math.cos(theta)))
    assert ctrl.CalcAllPseudo(vector, (0.0, 0.0, 0.0)) == pytest.approx((b, theta, phi))
    assert [ctrl.CalcPhysical(i, (b, theta, phi), None) for i in (1, 2, 3)] == list(vector)
    assert [ctrl.CalcPseudo(i, vector, None) for i in (1, 2, 3)] == pytest.approx([b, theta,
                                                                                    phi])


def test_zero_field_keeps_the_angles_it_had_and_a_negative_magnitude_is_refused():
    ctrl = PSEUDO_CTRL.MagnetPseudoCtrl("field_ctrl", {})
    assert ctrl.CalcAllPseudo((0.0, 0.0, 0.0), (0.0, 0.7, -1.2)) == (0.0, 0.7, -1.2)
    assert ctrl.CalcAllPseudo((0.0, 0.0, 0.3), (0.3, 0.0, 2.5)) == (0.3, 0.0, 2.5)
    assert ctrl.CalcAllPseudo((0.0, 0.0, 0.0), None) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="negative"):
        ctrl.CalcAllPhysical((-0.1, 0.0, 0.0), (0.0, 0.0, 0.0))


def test_axes_not_moved_keep_the_setpoint_while_ramping_and_the_field_at_rest():
    setpoint, field = [0.1, 0.2, 0.3], [0.05, 0.1, 0.15]
    assert MAGNET_CTRL.ramp_target({3: 0.5}, setpoint, field, ramping=True) == [0.1, 0.2, 0.5]
    assert MAGNET_CTRL.ramp_target({1: 0.0, 3: 0.5}, setpoint, field, ramping=False) == [
        0.0, 0.1, 0.5]


def test_a_generator_motor_is_on_when_settled_moving_while_settling_and_fault_on_fault():
    on, off = tango.DevState.ON, tango.DevState.OFF
    assert GENERATOR_CTRL.motor_state(off, settled=True) == State.On  # output off: no fault
    assert GENERATOR_CTRL.motor_state(on, settled=False) == State.Moving
    assert GENERATOR_CTRL.motor_state(tango.DevState.FAULT, settled=True) == State.Fault


def test_frame_shape_is_the_roi_over_the_binning_as_x_then_y():
    assert EMCCD_CTRL.frame_shape([100, 60, 64, 32], 2) == [32, 16]


# controllers on their devices ---------------------------------------------------------

@pytest.fixture(scope="module")
def widefield():
    """Laser, sequencer and camera of one world in one server."""
    names = {"laser": NVLaser, "sequencer": PulseSequencer, "camera": EMCCD}
    with devices(*[(cls, f"test/wf/{name}", WORLD) for name, cls in names.items()]) as context:
        yield {name: context.get_device_access(f"test/wf/{name}") for name in names}


def test_emccd_takes_one_frame_per_camera_pulse_exposed_for_the_pulse(widefield):
    laser, sequencer = (tango.DeviceProxy(widefield[n]) for n in ("laser", "sequencer"))
    camera = tango.DeviceProxy(widefield["camera"])
    laser.power, laser.emission = 20e-3, True
    camera.roi, camera.binning = [0, 0, 32, 16], 2
    ctrl = EMCCD_CTRL.EMCCDCtrl("camera_ctrl", {"device": widefield["camera"]})
    ctrl.AddDevice(1)
    ctrl.SetCtrlPar("synchronization", AcqSynch.HardwareTrigger)
    assert ctrl.GetCtrlPar("latency_time") == pytest.approx(camera.readout_time)
    assert ctrl.GetAxisPar(1, "shape") == [16, 8]
    pulses = (Pulse("camera", 0.0, 10e-3), Pulse("camera", 12e-3, 5e-3))  # on, then half as long
    sequencer.Load(Sequence(pulses, 20e-3).to_json())
    sequencer.repetitions = 3
    wait_while(sequencer, tango.DevState.MOVING)
    ctrl.LoadOne(1, 10e-3, 6, ctrl.GetCtrlPar("latency_time"))
    ctrl.StartOne(1)
    sequencer.Run()
    frames, deadline = [], time.monotonic() + 20
    while (state := ctrl.StateOne(1)[0]) == State.Moving:
        frames += ctrl.ReadOne(1)
        assert time.monotonic() < deadline, f"{len(frames)} frames after 20 s"
        time.sleep(0.01)
    frames += ctrl.ReadOne(1)
    laser.emission = False
    assert state == State.On and len(frames) == 6 == camera.frame_count
    assert all(frame.shape == (8, 16) for frame in frames)
    electrons = [(frame.mean() - CAMERA.baseline) * CAMERA.e_per_count / 4 for frame in frames]
    expected = CAMERA.quantum_efficiency * CAMERA.photons_per_watt * 20e-3 * 10e-3
    assert np.mean(electrons[0::2]) == pytest.approx(expected, rel=0.05)
    assert np.mean(electrons[0::2]) / np.mean(electrons[1::2]) == pytest.approx(2.0, rel=0.05)


def test_emccd_in_software_trigger_exposes_one_frame_for_the_integration_time(widefield):
    camera = tango.DeviceProxy(widefield["camera"])
    camera.roi, camera.binning = [0, 0, 64, 32], 1
    ctrl = EMCCD_CTRL.EMCCDCtrl("camera_ctrl", {"device": widefield["camera"]})
    ctrl.LoadOne(1, 0.03, 1, 0.0)
    assert camera.exposure == 0.03 and camera.trigger_mode == 0  # INTERNAL
    with pytest.raises(ValueError, match="hardware trigger"):
        ctrl.LoadOne(1, 0.03, 5, 0.0)
    ctrl.StartOne(1)
    deadline = time.monotonic() + 10
    while ctrl.StateOne(1)[0] == State.Moving:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert ctrl.ReadOne(1).shape == (32, 64) and camera.frame_count == 1


@contextmanager
def served(cls, driver: str) -> Iterator[tuple[tango.DeviceProxy, str]]:
    """A device in the test context: its proxy and the name a controller reaches it by."""
    context = device(cls, driver)
    with context as proxy:
        proxy.set_source(tango.DevSource.DEV)
        yield proxy, context.get_device_access()


def test_generator_motor_steps_the_cw_frequency_and_refuses_in_sweep_mode():
    with served(SignalGenerator, f"{WORLD}#mw") as (context_proxy, name):
        ctrl = GENERATOR_CTRL.SignalGeneratorCtrl("mw_ctrl", {"device": name})
        ctrl.StartOne(1, 2.9e9)
        state, status = settle(ctrl)
        assert state == State.On and "output off" in status
        assert ctrl.ReadOne(1) == 2.9e9 and context_proxy.frequency == 2.9e9
        with pytest.raises(tango.DevFailed) as exc:
            ctrl.StartOne(1, 1e12)
        assert reason(exc) == "API_WAttrOutsideLimit" and ctrl.ReadOne(1) == 2.9e9
        context_proxy.mode = Mode.SWEEP
        with pytest.raises(RuntimeError, match="FIXED"):
            ctrl.StartOne(1, 2.8e9)
        assert ctrl.ReadOne(1) == 2.9e9


def magnet_ctrl(name: str):
    return MAGNET_CTRL.MagnetCtrl("magnet_ctrl", {"device": name})


def start(ctrl, moves: dict[int, float]) -> None:
    ctrl.PreStartAll()
    for axis, position in moves.items():
        ctrl.StartOne(axis, position)
    ctrl.StartAll()


def read(ctrl) -> list[float]:
    ctrl.ReadAll()
    return [ctrl.ReadOne(axis) for axis in (1, 2, 3)]


def test_magnet_motors_moved_together_ramp_along_one_line_and_abort_holds_the_field(tmp_path):
    with served(VectorMagnet, fast_world(tmp_path)) as (_, name):
        ctrl = magnet_ctrl(name)
        start(ctrl, {1: 0.2, 3: 0.4})  # 1.6 s at 0.25 T/s
        time.sleep(0.3)
        ctrl.StateAll()
        assert ctrl.StateOne(1)[0] == State.Moving
        bx, by, bz = read(ctrl)
        # along the line (0.2, 0, 0.4) T: the three reads are microseconds apart mid-ramp
        assert 0 < bz < 0.4 and bx / bz == pytest.approx(0.5, rel=1e-2) and by == 0.0
        ctrl.AbortOne(1)
        held = read(ctrl)
        ctrl.StateAll()
        assert ctrl.StateOne(3)[0] == State.On
        time.sleep(0.2)
        assert read(ctrl) == held
        start(ctrl, {3: 0.1})  # Bx stays where the abort left it
        assert settle(ctrl, 3)[0] == State.On
        assert read(ctrl) == pytest.approx([held[0], 0.0, 0.1])


def test_a_quench_is_a_fault_with_the_magnets_message_and_refuses_moves(tmp_path):
    with served(VectorMagnet, fast_world(tmp_path, quench_field=0.2)) as (_, name):
        ctrl = magnet_ctrl(name)
        start(ctrl, {3: 0.4})
        state, status = settle(ctrl, 3)
        assert state == State.Fault and "quench of the z coil" in status
        with pytest.raises(tango.DevFailed) as exc:
            start(ctrl, {1: 0.1})
        assert reason(exc) == "NANOMRI_QUENCH"


def test_tunnel_channels_read_the_device_not_its_poll_cache():
    with served(TunnelCurrent, WORLD) as (tunnel, name):
        ctrl = TUNNEL_CTRL.TunnelCurrentCtrl("tunnel_ctrl", {"device": name})
        values = []
        for _ in range(2):
            ctrl.PreReadAll()
            ctrl.PreReadOne(1)
            ctrl.PreReadOne(2)
            ctrl.ReadAll()
            values.append((ctrl.ReadOne(1), ctrl.ReadOne(2)))
        (i1, di1), (i2, di2) = values
        assert i1 != i2 and di1 != di2  # fresh noise on every read, within 100 ms
        ctrl.StateAll()
        assert ctrl.StateOne(1) == (State.On, tunnel.status())


# the sequencer's trigger/gate controller ------------------------------------------------

SEQUENCER_CTRL = controller_module("SequencerTGCtrl")
TIME, POSITION = SEQUENCER_CTRL.SynchDomain.Time, SEQUENCER_CTRL.SynchDomain.Position
NS = 1e-9


def synch_group(delay: float, active: float, total: float, repeats: int, **initial) -> dict:
    """A Sardana synchronisation group in the time domain (`initial` by domain, if any)."""
    param = SEQUENCER_CTRL.SynchParam
    group = {param.Delay: {TIME: delay}, param.Active: {TIME: active},
             param.Total: {TIME: total}, param.Repeats: repeats}
    if initial:
        group[param.Initial] = {TIME if d == "time" else POSITION: v for d, v in initial.items()}
    return group


THREE_GROUPS = [synch_group(0.5e-3, 0.1e-3, 0.2e-3, 3),  # gates from 0.5 ms
                synch_group(2e-3, 50e-6, 0.1e-3, 4, position=1.0),  # from 2 ms (delay)
                synch_group(0.0, 0.2e-3, 0.3e-3, 2, time=4e-3)]  # from 4 ms (initial time)


def test_gates_of_a_three_group_description_are_where_sardanas_pool_plays_them():
    from sardana.macroserver.scan.gscan import generate_timestamps
    from sardana.util.funcgenerator import FunctionGenerator

    from nanomri.sequence import check

    pool = FunctionGenerator()  # what the Pool plays: software synchronisation, dummy TG
    pool.initial_domain = pool.active_domain = TIME
    pool.set_configuration(THREE_GROUPS)
    sequence = SEQUENCER_CTRL.gates_sequence(THREE_GROUPS, NS)
    gates = sequence.windows("gate")
    expected = np.column_stack([pool.active_events, pool.passive_events])
    np.testing.assert_allclose(gates, expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(gates[[0, 3, 7], 0], [0.5e-3, 2e-3, 4e-3], rtol=0, atol=1e-15)
    assert sequence.length == pytest.approx(4.5e-3) and len(gates) == 9
    assert check(sequence, 1e9, 1, 2**20) == 18  # 17 edges inside: the last ends it
    # the MacroServer's theoretical dt column agrees for the first group only (it adds a later
    # group's delay to the previous group's last gate): the Pool is what plays the gates
    dt = [t["timestamp"] for t in generate_timestamps(THREE_GROUPS).values()]
    np.testing.assert_allclose(dt[:3], gates[:3, 0], rtol=0, atol=1e-15)


def test_a_one_group_description_is_still_one_period_played_repeats_times_after_its_delay():
    sequence, repeats, delay = SEQUENCER_CTRL.gate_sequence(
        synch_group(1.5e-3, 0.3e-3, 1e-3, 100_000), NS)
    (gate,) = sequence.pulses
    assert (gate.channel, gate.start) == ("gate", 0.0)
    assert gate.duration == pytest.approx(0.3e-3) and sequence.length == pytest.approx(1e-3)
    assert repeats == 100_000 and delay == pytest.approx(1.5e-3)
    sequence, _, _ = SEQUENCER_CTRL.gate_sequence(synch_group(0.0, 2e-3, 1e-3, 5), NS)
    assert sequence.pulses[0].duration == pytest.approx(1e-3)  # a gate no longer than a period


def test_overlapping_gates_of_two_groups_are_refused_naming_both_groups():
    groups = [synch_group(0.0, 0.1e-3, 0.2e-3, 5),  # gates at 0, 0.2, ..., 0.8 ms
              synch_group(2e-3, 0.1e-3, 0.2e-3, 2),
              synch_group(0.65e-3, 0.1e-3, 0.1e-3, 1)]  # into the gate at 0.6 ms of group 0
    with pytest.raises(ValueError, match=r"groups 0 and 2 overlap: \[0.0006, 0.0007\] s"):
        SEQUENCER_CTRL.gates_sequence(groups, NS)
    groups[2] = synch_group(0.7e-3, 0.1e-3, 0.1e-3, 1)  # touching is no overlap
    assert len(SEQUENCER_CTRL.gates_sequence(groups, NS).pulses) == 8


def test_sequencer_controller_loads_several_groups_as_one_run_and_skips_an_unchanged_load():
    with served(PulseSequencer, WORLD) as (sequencer, name):
        ctrl = SEQUENCER_CTRL.SequencerTGCtrl("tg_ctrl", {"device": name,
                                                          "start_trigger": "IMMEDIATE"})
        ctrl.AddDevice(1)
        ctrl.SynchOne(1, THREE_GROUPS)
        assert sequencer.sequence == SEQUENCER_CTRL.gates_sequence(THREE_GROUPS, NS).to_json()
        assert (sequencer.repetitions, sequencer.delay) == (1, 0.0)
        wait_while(sequencer, tango.DevState.MOVING)
        ctrl.SynchOne(1, THREE_GROUPS)
        assert sequencer.state() == tango.DevState.ON  # the same gates: no upload again
        ctrl.StartOne(1)
        wait_while(sequencer, tango.DevState.RUNNING)
        assert sequencer.completed == 1
        ctrl.SynchOne(1, THREE_GROUPS[:1])
        assert sequencer.length == pytest.approx(0.2e-3)
        assert (sequencer.repetitions, sequencer.delay) == (3, pytest.approx(0.5e-3))


def position_group(initial: float, active: float, total: float, repeats: int) -> dict:
    """A group as Sardana's ascanct describes it: Initial in position only, the rest in both."""
    param = SEQUENCER_CTRL.SynchParam
    return {param.Delay: {TIME: 0.004, POSITION: -4e-7}, param.Initial: {POSITION: initial},
            param.Active: {TIME: 0.002, POSITION: active},
            param.Total: {TIME: 0.0025, POSITION: total}, param.Repeats: repeats}


def test_position_windows_are_sardanas_position_domain_in_either_direction():
    windows = SEQUENCER_CTRL.position_windows
    np.testing.assert_allclose(windows([position_group(1e-5, 4e-8, 5e-8, 3)]),
                               [(1e-5, 1.004e-5), (1.005e-5, 1.009e-5), (1.01e-5, 1.014e-5)])
    np.testing.assert_allclose(windows([position_group(1e-5, -4e-8, -5e-8, 2)]),
                               [(1e-5, 0.996e-5), (0.995e-5, 0.991e-5)])
    with pytest.raises(ValueError, match="group 0 has no position domain"):
        windows(THREE_GROUPS)


def test_sequencer_controller_in_the_position_domain_arms_the_stages_comparator():
    with served(PulseSequencer, WORLD) as (sequencer, name):
        ctrl = SEQUENCER_CTRL.SequencerTGCtrl("tg_ctrl", {"device": name,
                                                          "start_trigger": "STAGE_MOTION"})
        ctrl.AddDevice(1)
        for attribute, value in (("synch_domain", "Energy"), ("position_axis", "xy")):
            with pytest.raises(ValueError, match=f"{attribute} must be one of"):
                ctrl.SetAxisExtraPar(1, attribute, value)
        ctrl.SetAxisExtraPar(1, "synch_domain", "Position")
        ctrl.SetAxisExtraPar(1, "position_axis", "y")
        assert ctrl.GetAxisExtraPar(1, "synch_domain") == "Position"
        ctrl.SynchOne(1, [position_group(1e-5, 4e-8, 5e-8, 20)])
        assert sequencer.sequence == "" and "20 position gates on the stage's y" in (
            sequencer.status())
        ctrl.StartOne(1)
        assert sequencer.state() == tango.DevState.RUNNING  # armed for the stage's next move
        ctrl.AbortOne(1)
        ctrl.SetAxisExtraPar(1, "synch_domain", "Time")
        ctrl.SynchOne(1, THREE_GROUPS)  # back in time: a sequence replaces the gates
        assert sequencer.sequence == SEQUENCER_CTRL.gates_sequence(THREE_GROUPS, NS).to_json()


NV_SEQUENCE_CTRL = controller_module("NVSequenceCtrl")
NV_COUNTER_CTRL = controller_module("NVCounterCtrl")


def test_nv_times_are_motors_whose_moves_upload_the_measurements_sequence():
    from nanomri.nv_sequences import Times, measurement

    with served(PulseSequencer, WORLD) as (sequencer, name):
        ctrl = NV_SEQUENCE_CTRL.NVSequenceCtrl("nv_seq_ctrl", {"sequencer": name})
        ctrl.SetCtrlPar("measurement", "ramsey")  # uploaded when it returns
        assert ctrl.StateOne(1)[0] == State.On
        assert sequencer.sequence == measurement("ramsey", Times()).to_json()
        start(ctrl, {1: 2e-6, 4: 30e-9})  # tau and pi_half in one upload
        assert ctrl.StateOne(1)[0] == State.Moving  # the sequencer's real upload time
        wait_while(sequencer, tango.DevState.MOVING)
        assert ctrl.StateOne(1)[0] == State.On and ctrl.ReadOne(1) == 2e-6
        assert sequencer.sequence == measurement(
            "ramsey", Times(tau=2e-6, pi_half=30e-9)).to_json()
        loaded = sequencer.sequence
        with pytest.raises(ValueError, match=">= 0"):
            start(ctrl, {1: -1e-6})
        with pytest.raises(ValueError, match="one of"):
            ctrl.SetCtrlPar("measurement", "hahn")
        assert ctrl.ReadOne(1) == 2e-6 and ctrl.GetCtrlPar("measurement") == "ramsey"
        assert sequencer.sequence == loaded


@pytest.mark.parametrize("value, length, repetitions", [
    (-100000, 5e-6, 100000), (-1.4, 5e-6, 1), (0.5, 5e-6, 100000), (1e-6, 5e-6, 1),
    (0.3, 3e-6, 100000)])
def test_a_negative_integration_time_is_repetitions_a_positive_one_what_fits(value, length,
                                                                             repetitions):
    assert NV_COUNTER_CTRL.repetitions_of(value, length) == repetitions


@pytest.mark.parametrize("per_point, largest, repetitions, passes", [
    (100000, 10**6, 3847, 26),  # points of ~20 ms: the 1 ms settling is < 5 % of each
    (1000, 10**6, 1000, 1),  # fewer than that: one pass
    (100000, 500, 500, 200),  # as many as memory and counter hold, more passes
    (7, 3, 3, 3),  # at least what was asked: 3 x 3 >= 7
])
def test_a_hardware_sweep_plays_its_points_in_passes_long_enough_to_hide_the_settling(
        per_point, largest, repetitions, passes):
    assert NV_COUNTER_CTRL.sweep_passes(per_point, 5.05e-6, 1e-3, largest) == (repetitions,
                                                                              passes)


def test_a_hardware_sweep_whose_points_do_not_fit_is_refused():
    with pytest.raises(ValueError, match="not one repetition per point fits"):
        NV_COUNTER_CTRL.sweep_passes(1000, 5e-6, 1e-3, 0)
