"""STM/AFM scan head: surface physics, the simulated probe on a fake clock, the ScanHead device."""

import math
import time

import numpy as np
import pytest
import tango
import yaml

from nanomri.devices.scan_head import FeedbackMode, ScanHead
from nanomri.devices.scanner import Scanner
from nanomri.simulators.drivers.scan_head import SimProbe
from nanomri.simulators.drivers.scan_head import open_driver as open_head
from nanomri.simulators.drivers.scanner import SimScanner
from nanomri.simulators.drivers.scanner import open_driver as open_stage
from nanomri.simulators.motion import Trajectory, follow
from nanomri.simulators.nv_sensor import SimSensor
from nanomri.simulators.sim_world import SimWorld
from nanomri.surface import surface_height
from nanomri.tunnelling import (
    frequency_shift,
    gap_for_amplitude,
    gap_for_frequency_shift,
    oscillation_amplitude,
)
from nanomri.world import WorldError, parse_world
from nanomri.world_sections.probe import SurfaceSpec

from .fake_clock import FakeClock
from .probe_worlds import BUMP, PLANE, TEST_SURFACE, engaged, refused, setup, world_data
from .tango_context import CONFOCAL, device, devices, reason, wait_while

# --- physics -------------------------------------------------------------------------------

SURFACE = SurfaceSpec.model_validate({
    **TEST_SURFACE, "slope": {"x": 1e-3, "y": -2e-3},
    "steps": [{"x": 4.0e-6, "y": 0.0, "angle": 0.0, "height": 2e-10, "width": 1e-10}]})


def test_surface_is_the_tilted_plane_far_from_bumps_and_steps():
    x, y = np.array([0.5e-6, 1.0e-6]), np.array([0.2e-6, 4.0e-6])
    expected = PLANE + 1e-3 * x - 2e-3 * y
    assert surface_height(SURFACE, x, y) == pytest.approx(expected, abs=1e-15)


def test_bump_adds_its_height_at_its_centre_and_half_of_it_half_a_fwhm_away():
    plane = PLANE + 1e-3 * BUMP["x"] - 2e-3 * BUMP["y"]
    centre = surface_height(SURFACE, BUMP["x"], BUMP["y"])
    half = surface_height(SURFACE, BUMP["x"] + BUMP["fwhm"] / 2, BUMP["y"])
    assert centre - plane == pytest.approx(BUMP["height"], rel=1e-9)
    assert half - plane - 1e-3 * BUMP["fwhm"] / 2 == pytest.approx(BUMP["height"] / 2, rel=1e-6)


def test_step_raises_the_terrace_on_its_upper_side_by_its_height():
    low, high = surface_height(SURFACE, [3.9e-6, 4.1e-6], [1e-6, 1e-6])
    assert high - low - 1e-3 * 0.2e-6 == pytest.approx(2e-10, rel=1e-6)


def test_a_displaced_sample_carries_its_bump_and_its_plane():
    before = surface_height(SURFACE, BUMP["x"], BUMP["y"])
    after = surface_height(SURFACE, BUMP["x"] + 100e-9, BUMP["y"], [100e-9, 0.0, 2e-10])
    assert after - before == pytest.approx(2e-10, rel=1e-6)  # the bump moved, the plane rose


def test_fork_signals_invert_to_the_gap_they_came_from():
    for gap in (1e-10, 4e-10, 1e-9):
        shift = float(frequency_shift(gap, 30.0, 2e-10))
        assert shift < 0 and gap_for_frequency_shift(shift, 30.0, 2e-10) == pytest.approx(gap)
        amplitude = float(oscillation_amplitude(gap, 2e-9))
        assert gap_for_amplitude(amplitude, 2e-9) == pytest.approx(gap)
    assert float(frequency_shift(-1e-9, 30.0, 2e-10)) == -30.0  # contact


def test_loop_relaxes_to_a_step_with_its_time_constant_at_any_sampling():
    tau = 1e-3
    for times in (np.linspace(0, 5e-3, 6), np.linspace(0, 5e-3, 501)):
        z = follow(times, np.full(times.shape, 1.0), 0.0, tau)
        assert z == pytest.approx(1.0 - np.exp(-times / tau), rel=1e-12)


def test_loop_lags_a_ramp_by_tau_times_its_slope_and_saturates_at_travel():
    times = np.linspace(0.0, 0.1, 11)
    z = follow(times, 2.0 * times, 0.0, 1e-3)
    assert z[-1] == pytest.approx(2.0 * 0.1 - 2.0 * 1e-3, rel=1e-9)
    assert follow(times, 2.0 * times, 0.0, 1e-3, high=0.05).max() == 0.05


def test_chained_moves_rest_in_between_and_settle_with_the_last():
    lift = Trajectory.move(0.0, 1.0, 0.0, 1.0, 10.0, 0.0)
    down = Trajectory.move(1.0, 0.5, 5.0, 1.0, 10.0, 0.01)
    path = lift.then(down)
    assert path.position([1.2, 3.0, 4.99]) == pytest.approx([1.0, 1.0, 1.0])
    assert float(path.position(10.0)) == 0.5 and path.settled == down.settled
    with pytest.raises(ValueError, match="cannot follow"):
        down.then(lift)


def test_world_without_current_or_fork_probe_is_refused():
    data = world_data()
    del data["instruments"]["probe"]["current_setpoint_range"]
    del data["instruments"]["probe"]["fork"]
    with pytest.raises(WorldError, match="instruments.probe"):
        parse_world(yaml.safe_dump(data), "w.yaml")


def test_shipped_world_has_a_surface_below_the_retracted_probe():
    clock, world = FakeClock(), SimWorld(parse_world(CONFOCAL.read_text()), FakeClock())
    probe = SimProbe(world)
    assert float(probe.gap(clock.now)[0]) > 0
    assert probe.tip_status() == "feedback off, tip retracted"


# --- the simulated scan head ---------------------------------------------------------------


def test_z_move_into_the_surface_is_refused_naming_the_height_and_nothing_moves():
    clock, probe, _ = setup()
    error = refused(probe.move_to, "z", PLANE - 1e-9)
    assert error.reason == "CRASH"
    assert "5.0000e-07 m" in str(error) and "move z" in str(error)
    assert probe.target("z") == 1.0e-6 and not probe.is_moving("z")


def test_lateral_move_into_a_bump_taller_than_the_gap_is_refused():
    clock, probe, _ = setup()
    probe.move_to("x", 1.0e-6)
    clock.now += 2.0
    probe.move_to("z", PLANE + 2e-9)  # 2 nm above the plane, the bump is 5 nm high
    clock.now += 5.0
    assert probe.position("z") == pytest.approx(PLANE + 2e-9)
    error = refused(probe.move_to, "x", 3.0e-6)
    assert error.reason == "CRASH" and "move x" in str(error)
    assert probe.target("x") == 1.0e-6
    probe.move_to("x", 1.5e-6)  # short of the bump: allowed
    clock.now += 2.0
    assert probe.position("x") == pytest.approx(1.5e-6)


def test_approach_takes_its_time_then_holds_the_setpoint_gap():
    clock, probe, _ = setup()
    probe.approach()
    assert probe.is_approaching() and probe.is_moving("z") and not probe.feedback()
    travel = 1.0e-6 - PLANE
    clock.now += 0.5 * travel / probe.constraints.approach_velocity
    assert PLANE < probe.position("z") < 1.0e-6 and probe.is_approaching()
    clock.now += travel / probe.constraints.approach_velocity
    assert probe.feedback() and not probe.is_approaching() and not probe.is_moving("z")
    gap = probe._setpoint_gap()
    assert 0 < gap < 1e-9
    assert float(probe.gap(clock.now)[0]) == pytest.approx(gap, rel=1e-6)
    assert probe.topography() == pytest.approx(PLANE, abs=1e-12)


def test_approach_ends_at_the_bottom_of_travel_when_the_surface_is_out_of_reach():
    clock, probe, _ = setup(surface={"height": -5e-8, "bumps": []})
    probe.approach()
    clock.now += 20.0
    assert not probe.feedback() and probe.position("z") == 0.0
    assert "out of reach" in probe.tip_status()


def test_retract_lifts_the_tip_to_the_top_of_travel_in_real_time():
    clock, probe = engaged()
    probe.retract()
    assert not probe.feedback() and probe.is_moving("z")
    clock.now += 0.1
    assert PLANE < probe.position("z") < 1.0e-6
    clock.now += 5.0
    assert probe.position("z") == 1.0e-6 and math.isnan(probe.topography())


def test_z_is_refused_while_the_feedback_holds_it_and_the_mode_cannot_switch():
    clock, probe = engaged()
    assert refused(probe.move_to, "z", 0.9e-6).reason == "FEEDBACK_ON"
    assert refused(probe.set_feedback_mode, "amplitude").reason == "FEEDBACK_ON"
    assert probe.feedback_mode() == "current"


def test_feedback_tracks_a_bump_and_topography_recovers_its_height():
    clock, probe = engaged()
    probe.set_velocity("x", 1e-7)
    probe.move_to("x", 3.0e-6)  # over the bump at 2 µm
    heights = []
    while probe.is_moving("x"):
        clock.now += 5e-3
        heights.append(probe.topography())
    heights = np.array(heights)
    assert heights.max() - PLANE == pytest.approx(BUMP["height"], rel=0.02)
    assert heights[-1] == pytest.approx(PLANE, abs=1e-12)
    assert float(probe.gap(clock.now)[0]) == pytest.approx(probe._setpoint_gap(), rel=1e-3)


def test_dragging_the_tip_over_a_bump_faster_than_the_loop_follows_is_a_crash():
    clock, probe = engaged(surface={"bumps": [{**BUMP, "height": 20e-9, "fwhm": 10e-9}]})
    probe.set_velocity("x", 2e-6)
    error = refused(probe.move_to, "x", 3.0e-6)
    assert error.reason == "CRASH" and probe.target("x") == 1.0e-6 and probe.feedback()


def test_frequency_shift_feedback_holds_the_fork_at_its_setpoint_gap():
    clock, probe, _ = setup()
    probe.set_feedback_mode("frequency_shift")
    probe.set_setpoint("frequency_shift", -5.0)
    probe.approach()
    clock.now += 10.0
    fork = probe.spec.fork
    shift = float(frequency_shift(probe.gap(clock.now), fork.frequency_shift_contact,
                                  fork.decay_length)[0])
    assert shift == pytest.approx(-5.0, rel=1e-6)


def leapfrog_path(clock, probe, axis, target, relock: bool):
    """Tip gap and z sampled along a leapfrog move until it has landed."""
    start = clock.now
    probe.move_to(axis, target)
    end = probe.paths["z"].settled + 0.1
    times = np.linspace(start, end, 4000)
    clock.now = end
    assert probe.feedback() == relock
    return times, probe.gap(times), probe.tip(times)


def test_leapfrog_lifts_moves_and_comes_back_down_never_below_the_surface():
    clock, probe, _ = setup()
    probe.move_to("x", 1.0e-6)
    clock.now += 2.0
    probe.move_to("z", PLANE + 2e-9)  # lower than the bump's top
    clock.now += 5.0
    probe.set_leapfrog_height(20e-9)
    times, gaps, tip = leapfrog_path(clock, probe, "x", 3.0e-6, relock=False)  # over the bump
    assert gaps.min() > 0
    assert tip[:, 2].max() == pytest.approx(PLANE + 22e-9, abs=1e-15)
    assert tip[-1] == pytest.approx([3.0e-6, 2.5e-6, PLANE + 2e-9], abs=1e-15)
    moving = (tip[:, 0] > 1.0e-6) & (tip[:, 0] < 3.0e-6)
    assert moving.sum() > 100
    assert tip[moving, 2] == pytest.approx(PLANE + 22e-9, abs=1e-15)  # x moves only at the top


def test_leapfrog_whose_landing_would_crash_is_refused():
    clock, probe, _ = setup()
    probe.move_to("x", 1.0e-6)
    clock.now += 2.0
    probe.move_to("z", PLANE + 2e-9)
    clock.now += 5.0
    probe.set_leapfrog_height(20e-9)
    error = refused(probe.move_to, "x", BUMP["x"])  # comes back down 2 nm into the bump's top
    assert error.reason == "CRASH" and "leapfrog move x" in str(error)
    assert not probe.is_moving("x") and not probe.is_moving("z")
    assert probe.position("z") == pytest.approx(PLANE + 2e-9)


def test_leapfrog_in_feedback_lands_on_the_setpoint_over_the_bump():
    clock, probe = engaged()
    probe.set_leapfrog_height(20e-9)
    times, gaps, tip = leapfrog_path(clock, probe, "x", BUMP["x"], relock=True)
    assert gaps.min() > 0
    assert float(probe.gap(clock.now)[0]) == pytest.approx(probe._setpoint_gap(), rel=1e-3)
    assert probe.topography() - PLANE == pytest.approx(BUMP["height"], rel=1e-3)


def test_several_lateral_writes_join_one_hop():
    clock, probe = engaged()
    probe.set_leapfrog_height(20e-9)
    probe.move_to("x", 1.5e-6)
    probe.move_to("y", 2.0e-6)
    assert not probe.feedback() and probe.is_approaching()
    clock.now += 30.0
    assert probe.feedback()
    assert [probe.position("x"), probe.position("y")] == pytest.approx([1.5e-6, 2.0e-6])


DRIFT = {"x": 1e-10, "y": 5e-11, "z": 2e-12}  # m/s, a warm sample
FLANK = (BUMP["x"] - BUMP["fwhm"] / 2, BUMP["y"])  # where the bump's height changes fastest
HOLD = 100.0  # s


def held_on_the_flank() -> tuple[FakeClock, SimProbe, SimSensor]:
    """A probe in current feedback held still on the bump's flank over a drifting sample (the
    drift's origin is the world's start, at 100 s), and the sensor NV of its world."""
    clock, probe = engaged(surface={"drift": DRIFT})
    probe.set_velocity("x", 1e-7)
    probe.move_to("x", FLANK[0])
    clock.now += 15.0
    assert not probe.is_moving("x") and probe.feedback()
    return clock, probe, SimSensor(probe.world, probe.world.model.sensor)


def set_estimates(probe: SimProbe, fraction: float) -> None:
    for axis, v in DRIFT.items():
        probe.set_drift_estimate(axis, fraction * v)


def hold(clock: FakeClock, probe: SimProbe, sensor: SimSensor):
    """Topography and NV position at the start and the end of a hold of HOLD seconds."""
    start = (probe.topography(), sensor.nv_position(np.array([clock.now]))[0], clock.now)
    clock.now += HOLD
    return start, (probe.topography(), sensor.nv_position(np.array([clock.now]))[0], clock.now)


def drifted_height(t: float, estimated_from: float = math.inf, fraction: float = 0.0) -> float:
    """The test surface's height under the flank at t, the sample moved by DRIFT since 100 s,
    less `fraction` of it from `estimated_from` on."""
    v = np.array(list(DRIFT.values()))
    moved = v * (t - 100.0) - fraction * v * max(t - estimated_from, 0.0)
    surface = SurfaceSpec.model_validate({**TEST_SURFACE, "drift": DRIFT})
    return float(surface_height(surface, *FLANK, moved))


def test_a_tip_held_over_a_drifting_sample_sees_the_topography_the_drift_brings():
    clock, probe, sensor = held_on_the_flank()
    (top0, nv0, t0), (top1, nv1, t1) = hold(clock, probe, sensor)
    assert top1 - top0 == pytest.approx(drifted_height(t1) - drifted_height(t0), rel=1e-3)
    assert abs(top1 - top0) > 5e-10  # the flank slides under the tip by about a nanometre
    assert nv1 - nv0 == pytest.approx(np.array(list(DRIFT.values())) * HOLD, rel=1e-9)
    assert probe.drift_compensation("x") == 0.0


def test_compensating_the_whole_drift_holds_the_topography_and_the_nv_still():
    clock, probe, sensor = held_on_the_flank()
    set_estimates(probe, 1.0)
    (top0, nv0, _), (top1, nv1, _) = hold(clock, probe, sensor)
    assert abs(top1 - top0) < 1e-13  # the loop's lag of the old drift; ~1 nm uncompensated
    assert np.abs(nv1 - nv0).max() < 1e-18
    assert probe.position("x") == FLANK[0]  # the compensation is no move of the target
    assert probe.drift_compensation("x") == pytest.approx(DRIFT["x"] * HOLD, rel=1e-9)


def test_compensating_half_the_drift_leaves_half_of_it():
    clock, probe, sensor = held_on_the_flank()
    set_estimates(probe, 0.5)
    (top0, nv0, t0), (top1, nv1, t1) = hold(clock, probe, sensor)
    assert nv1 - nv0 == pytest.approx(0.5 * np.array(list(DRIFT.values())) * HOLD, rel=1e-9)
    expected = drifted_height(t1, t0, 0.5) - drifted_height(t0)
    assert top1 - top0 == pytest.approx(expected, rel=1e-3)
    assert abs(expected - (drifted_height(t1) - drifted_height(t0))) > 1e-10  # not the whole


def test_changing_the_drift_estimate_keeps_the_sample_where_it_is():
    clock, probe, _ = held_on_the_flank()
    world = probe.world
    probe.set_drift_estimate("y", 2e-10)
    clock.now += HOLD
    before, top = world.sample_displacement(clock.now), probe.topography()
    compensation = probe.drift_compensation("y")
    assert compensation == pytest.approx(2e-10 * HOLD)
    probe.set_drift_estimate("y", -1e-10)
    assert np.array_equal(world.sample_displacement(clock.now), before)
    assert probe.topography() == top and probe.drift_compensation("y") == compensation
    clock.now += 10.0
    grown = world.sample_displacement(clock.now) - before
    assert grown[1] == pytest.approx((DRIFT["y"] + 1e-10) * 10.0, rel=1e-9)
    assert probe.drift_compensation("y") == pytest.approx(compensation - 1e-10 * 10.0)
    assert refused(probe.set_drift_estimate, "y", 1.0).reason == "OUT_OF_RANGE"
    assert probe.drift_estimate("y") == -1e-10


def test_a_move_the_compensation_pushes_out_of_the_travel_is_refused_naming_it():
    clock, probe, _ = setup()  # retracted over x = 2.5 µm; x travels over [0, 5] µm
    probe.set_drift_estimate("x", 1e-8)
    clock.now += HOLD  # 1 µm compensated
    error = refused(probe.move_to, "x", 4.5e-6)
    assert error.reason == "OUT_OF_RANGE" and "drift compensation" in str(error)
    assert "+1e-06 m" in str(error) and probe.target("x") == 2.5e-6
    probe.move_to("x", 3.5e-6)  # 4.5 µm with the compensation: inside
    assert probe.target("x") == 3.5e-6


def test_retract_lifts_the_piezo_to_the_top_of_its_travel_with_the_compensation():
    clock, probe = engaged()
    probe.set_drift_estimate("z", -1e-9)
    clock.now += HOLD  # 0.1 µm compensated down
    probe.retract()
    assert probe.target("z") == pytest.approx(1.1e-6)  # commanded: the piezo's top less -0.1 µm
    clock.now += 10.0
    assert probe.position("z") == pytest.approx(1.1e-6) and not probe.is_moving("z")
    assert probe.tip_status() == "feedback off, tip retracted"


def test_refused_settings_leave_the_probe_as_it_was():
    clock, probe = engaged()
    before = probe.setpoint("current")
    assert refused(probe.set_setpoint, "current", 1.0).reason == "OUT_OF_RANGE"
    assert refused(probe.set_setpoint, "amplitude", math.nan).reason == "OUT_OF_RANGE"
    assert refused(probe.set_leapfrog_height, 1e-3).reason == "OUT_OF_RANGE"
    assert refused(probe.set_velocity, "x", 0.0).reason == "OUT_OF_RANGE"
    assert probe.setpoint("current") == before and probe.leapfrog_height() == 0.0
    assert probe.feedback()


def test_stage_and_probe_keep_their_own_trajectories_in_one_world(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(world_data()))
    stage, probe = open_stage(str(path)), open_head(f"{path}#probe")
    assert type(stage) is SimScanner and type(probe) is SimProbe
    assert stage.world is probe.world and probe.world.links.probe is probe
    assert open_head(f"{path}#probe") is probe  # a device's Init finds the same instrument
    focus = stage.world.focus(np.array([0.0]))
    probe.move_to("x", 1.0e-6)
    assert stage.world.paths["x"] is stage.paths["x"] and stage.position("x") == 10.0e-6
    assert np.array_equal(stage.world.focus(np.array([0.0])), focus)
    assert not hasattr(stage, "approach")


# --- the Scanner and ScanHead devices ---------------------------------------------------------


@pytest.fixture
def fast_world(tmp_path) -> str:
    """A world whose probe reaches the surface in a fraction of a second."""
    data = world_data(surface={"height": 0.95e-6},
                      probe={"approach_velocity": 1.0e-6, "max_velocity": {
                          "x": 2.0e-6, "y": 2.0e-6, "z": 1.0e-6}})
    path = tmp_path / "fast.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_stage_has_no_tip_attributes_and_a_scan_head_on_a_stage_is_a_fault():
    with device(Scanner) as stage:
        names = {name.lower() for name in stage.get_attribute_list()}
        assert {"feedback", "topography", "leapfrog_height", "setpoint_current"}.isdisjoint(names)
        assert "Approach" not in stage.get_command_list()
        stage.SafeState()
        stage.x = stage.x + 1e-6
        wait_while(stage, tango.DevState.MOVING)
        assert stage.state() == tango.DevState.ON
    with device(ScanHead, f"sim:{CONFOCAL}#scanner") as head:
        assert head.state() == tango.DevState.FAULT and "not a ProbeSpec" in head.status()


def test_probe_device_approaches_holds_feedback_and_safe_state_retracts(fast_world):
    with device(ScanHead, f"sim:{fast_world}#probe") as probe:
        probe.set_source(tango.DevSource.DEV)  # not the 100 ms poll cache
        assert probe.feedback is False and probe.topography is None
        probe.Approach()
        assert probe.state() == tango.DevState.MOVING
        wait_while(probe, tango.DevState.MOVING)
        assert probe.feedback is True and probe.state() == tango.DevState.ON
        assert "feedback on" in probe.status()
        assert probe.topography == pytest.approx(0.95e-6, abs=1e-12)
        probe.SafeState()
        assert probe.feedback is False
        wait_while(probe, tango.DevState.MOVING)
        assert probe.z == pytest.approx(1.0e-6) and "retracted" in probe.status()


def test_probe_device_refuses_a_crash_and_stays_put(fast_world):
    with device(ScanHead, f"sim:{fast_world}#probe") as probe:
        probe.set_source(tango.DevSource.DEV)  # not the 100 ms poll cache
        with pytest.raises(tango.DevFailed) as exc:
            probe.z = 0.9e-6
        assert reason(exc) == "NANOMRI_CRASH"
        assert "surface is at height 9.5000e-07 m" in str(exc.value)
        assert probe.z == 1.0e-6 and probe.state() == tango.DevState.ON


def test_probe_device_refuses_bad_tip_settings_and_reads_them_back_unchanged(fast_world):
    with device(ScanHead, f"sim:{fast_world}#probe") as probe:
        probe.set_source(tango.DevSource.DEV)  # not the 100 ms poll cache
        names = ("setpoint_current", "setpoint_frequency_shift", "setpoint_amplitude",
                 "leapfrog_height", "velocity_x", "drift_estimate_x", "feedback_mode")
        before = {name: probe.read_attribute(name).value for name in names}
        bad = [("setpoint_current", 1.0), ("setpoint_current", math.nan),
               ("setpoint_frequency_shift", 1.0), ("setpoint_amplitude", -1e-9),
               ("leapfrog_height", 1.0), ("leapfrog_height", math.inf),
               ("drift_estimate_x", 1.0)]
        for name, value in bad:
            with pytest.raises(tango.DevFailed) as exc:
                probe.write_attribute(name, value)
            assert reason(exc) == "API_WAttrOutsideLimit", name
        with pytest.raises(tango.DevFailed) as exc:
            probe.velocity_x = 0.0
        assert reason(exc) == "NANOMRI_OUT_OF_RANGE" and "velocity" in str(exc.value)
        with pytest.raises(tango.DevFailed):
            probe.write_attribute("feedback_mode", 7)
        assert {name: probe.read_attribute(name).value for name in names} == before


def test_probe_device_refuses_mode_change_and_z_moves_in_feedback(fast_world):
    with device(ScanHead, f"sim:{fast_world}#probe") as probe:
        probe.set_source(tango.DevSource.DEV)  # not the 100 ms poll cache
        probe.Approach()
        wait_while(probe, tango.DevState.MOVING)
        with pytest.raises(tango.DevFailed) as exc:
            probe.feedback_mode = FeedbackMode.AMPLITUDE
        assert reason(exc) == "NANOMRI_FEEDBACK_ON"
        with pytest.raises(tango.DevFailed) as exc:
            probe.z = 0.99e-6
        assert reason(exc) == "NANOMRI_FEEDBACK_ON"
        assert probe.feedback_mode == FeedbackMode.CURRENT and probe.feedback is True


def test_probe_device_compensation_grows_as_the_estimate_times_time(fast_world):
    v = 1e-7  # m/s
    with device(ScanHead, f"sim:{fast_world}#probe") as probe:
        probe.set_source(tango.DevSource.DEV)
        assert probe.drift_compensation_x == 0.0
        written = time.monotonic()
        probe.drift_estimate_x = v
        set_at = time.monotonic()
        samples = []
        for _ in range(3):
            time.sleep(0.3)
            before = time.monotonic()
            samples.append((before, probe.drift_compensation_x, time.monotonic()))
        for before, value, after in samples:  # the world's clock runs at the wall's rate here
            assert v * (before - set_at) <= value <= v * (after - written)
        assert probe.drift_estimate_x == v and probe.x == pytest.approx(2.5e-6)
        config = probe.get_attribute_config("drift_compensation_x")
        assert config.unit == "m" and config.writable == tango.AttrWriteType.READ
    with device(Scanner) as stage:
        stage.set_source(tango.DevSource.DEV)
        stage.drift_estimate_x = v
        time.sleep(0.3)
        assert stage.drift_compensation_x == 0.0  # a stage without a tip does not compensate


def test_shipped_stack_world_opens_the_probe_section():
    with device(ScanHead, f"sim:{CONFOCAL}#probe") as probe:
        assert probe.state() == tango.DevState.ON
        config = probe.get_attribute_config("setpoint_current")
        assert config.unit == "A" and float(config.max_value) == pytest.approx(1e-8)
        assert float(probe.get_attribute_config("z").max_value) == pytest.approx(1e-6)


def test_probe_and_tunnel_current_devices_share_one_world(fast_world):
    from nanomri.devices.tunnel_current import TunnelCurrent

    with devices((ScanHead, "test/nanomri/probe", f"sim:{fast_world}#probe"),
                 (TunnelCurrent, "test/nanomri/tunnel", f"sim:{fast_world}")) as context:
        probe = context.get_device("test/nanomri/probe")
        probe.set_source(tango.DevSource.DEV)
        tunnel = context.get_device("test/nanomri/tunnel")
        tunnel.set_source(tango.DevSource.DEV)
        assert abs(tunnel.current) < 5e-12  # retracted: an open junction
        probe.Approach()
        wait_while(probe, tango.DevState.MOVING)
        setpoint = probe.setpoint_current
        readings = [tunnel.current for _ in range(20)]
        assert np.mean(readings) == pytest.approx(setpoint, rel=0.02)


def test_the_heads_clock_runs_at_the_worlds_rate_the_drift_estimate_is_per(tmp_path):
    path = tmp_path / "lapse.yaml"
    path.write_text(yaml.safe_dump({**world_data(surface={"height": 0.95e-6}),
                                    "clock_rate": 100.0}))
    with device(ScanHead, f"sim:{path}#probe") as probe:
        probe.set_source(tango.DevSource.DEV)
        before, started = probe.clock, time.monotonic()
        time.sleep(0.3)
        ticked, waited = probe.clock - before, time.monotonic() - started
        assert 100 * 0.3 <= ticked <= 100 * waited + 1.0
        probe.drift_estimate_y = 1e-10
        before = (probe.clock, probe.drift_compensation_y)
        time.sleep(0.3)
        after = (probe.clock, probe.drift_compensation_y)
        assert (after[1] - before[1]) / (after[0] - before[0]) == pytest.approx(1e-10, rel=0.05)
