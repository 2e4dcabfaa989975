"""Hardware-timed rasters: the planned program played by the simulated stage puts every pixel
gate where the plan says, and the stage refuses programs it cannot play."""

import numpy as np
import pytest

from nanomri.interfaces.errors import Refused
from nanomri.interfaces.scanner import PathMove
from nanomri.raster_path import (
    AxisLimits,
    move_time,
    plan_raster,
    with_approach,
    with_gate_lag,
)
from nanomri.simulators.drivers.scanner import SimScanner
from nanomri.simulators.sim_world import SimWorld
from nanomri.world import load_world

from .conftest import ROOT
from .fake_clock import FakeClock

MODEL = load_world(ROOT / "conf" / "worlds" / "confocal.yaml")
SPEC = MODEL.instruments.scanner
LIMITS = {a: AxisLimits(SPEC.max_velocity.as_dict()[a], SPEC.max_acceleration.as_dict()[a])
          for a in "xyz"}
FAST = np.linspace(10e-6, 12e-6, 21)  # 100 nm pixels
SLOW = np.linspace(10e-6, 10.4e-6, 5)


def played(mode: str, dwell: float = 1e-3, lag: float = 0.0):
    """The plan of a small image and the stage that played it, approach included, from where
    the stage rested away from the image, for gates whose timer starts `lag` s after it."""
    clock = FakeClock()
    stage = SimScanner(SimWorld(MODEL, clock))
    plan = plan_raster("x", FAST, "y", SLOW, dwell, mode, LIMITS, SPEC.settle_time)
    stage.move_to("x", 20e-6)
    stage.move_to("y", 5e-6)
    clock.now += 1.0
    here = {axis: stage.position(axis) for axis in "xyz"}
    assert all(here[axis] != plan.start[axis] for axis in "xy")
    plan = with_gate_lag(with_approach(plan, here, LIMITS, SPEC.settle_time), lag)
    stage.load_path(plan.moves)
    t0 = clock.now + lag
    duration = stage.run_path()
    return plan, stage, t0, duration


def pixel_order(plan) -> np.ndarray:
    """Fast-axis pixel index of each gate, in acquisition order."""
    index = np.tile(np.arange(plan.pixels), (plan.lines, 1))
    if plan.reversed_odd_lines:
        index[1::2] = index[1::2, ::-1]
    return index.ravel()


@pytest.mark.parametrize("mode", ["continuous", "bidirectional"])
def test_each_sweep_gate_spans_its_pixel_at_constant_velocity(mode):
    plan, stage, t0, duration = played(mode)
    x = stage.paths["x"]
    opens, closes = t0 + plan.gates[:, 0], t0 + plan.gates[:, 1]
    centres = x.position((opens + closes) / 2)
    np.testing.assert_allclose(centres, FAST[pixel_order(plan)], atol=1e-12)
    np.testing.assert_allclose(np.abs(x.position(closes) - x.position(opens)),
                               FAST[1] - FAST[0], rtol=1e-9)
    for edge, times in enumerate((opens, closes)):  # the comparator's edges are the same
        np.testing.assert_allclose(x.position(times), plan.windows[:, edge], atol=1e-12)
    lines = np.repeat(SLOW, plan.pixels)
    np.testing.assert_allclose(stage.paths["y"].position(opens), lines, atol=1e-12)
    np.testing.assert_allclose(stage.paths["y"].position(closes), lines, atol=1e-12)
    assert duration >= plan.duration


@pytest.mark.parametrize("lag", [0.0, 4e-3])
def test_step_gates_count_at_rest_on_each_settled_pixel_whatever_their_timer_lag(lag):
    plan, stage, t0, _ = played("step", dwell=0.5e-3, lag=lag)
    for axis, pixels in (("x", FAST[pixel_order(plan)]), ("y", np.repeat(SLOW, plan.pixels))):
        path = stage.paths[axis]
        for edge in (0, 1):
            np.testing.assert_allclose(path.position(t0 + plan.gates[:, edge]), pixels,
                                       atol=1e-15)
    period = np.diff(plan.gates[: plan.pixels, 0])
    expected = 0.5e-3 + move_time(FAST[1] - FAST[0], LIMITS["x"].velocity,
                                LIMITS["x"].acceleration) + SPEC.settle_time
    np.testing.assert_allclose(period, expected)


def test_a_100_pixel_bidirectional_image_fits_in_125_percent_of_its_dwell():
    """Issue 5's target image, 100 x 100 at 1 ms over the confocal world's NVs: the stage's
    own turnarounds leave room for it; lines with a flyback do not."""
    pixels = np.linspace(10e-6, 15e-6, 100)
    dwell_sum = pixels.size**2 * 1e-3
    duration = {mode: plan_raster("x", pixels, "y", pixels, 1e-3, mode, LIMITS,
                                  SPEC.settle_time).duration for mode in ("continuous",
                                                                          "bidirectional")}
    assert dwell_sum < duration["bidirectional"] < 1.25 * dwell_sum < duration["continuous"]


def test_a_dwell_too_short_for_the_stage_is_refused_naming_the_shortest():
    shortest = (FAST[1] - FAST[0]) / LIMITS["x"].velocity
    with pytest.raises(ValueError, match=f"dwell at least {shortest:g} s"):
        plan_raster("x", FAST, "y", SLOW, shortest / 2, "continuous", LIMITS, 0.0)


def test_uneven_pixels_are_refused():
    with pytest.raises(ValueError, match="evenly spaced"):
        plan_raster("x", np.array([0.0, 1e-6, 3e-6]), "y", SLOW, 1e-3, "step", LIMITS, 0.0)


def test_overlapping_moves_are_refused_and_the_stage_stays_put():
    clock = FakeClock()
    stage = SimScanner(SimWorld(MODEL, clock))
    before = stage.position("x")
    stage.load_path([PathMove("x", 0.0, 20e-6, 1e-4), PathMove("x", 1e-3, 10e-6, 1e-4)])
    with pytest.raises(Refused, match="before its previous move ends") as refused:
        stage.run_path()
    assert refused.value.reason == "PATH"
    clock.now += 1.0
    assert stage.position("x") == before and not stage.is_moving("x")


@pytest.mark.parametrize("move, reason", [
    (PathMove("x", 0.0, 1.0, 1e-4), "OUT_OF_RANGE"),
    (PathMove("x", 0.0, 20e-6, 1.0), "OUT_OF_RANGE"),
    (PathMove("x", -1.0, 20e-6, 1e-4), "PATH"),
    (PathMove("q", 0.0, 20e-6, 1e-4), "UNKNOWN_AXIS"),
])
def test_impossible_moves_are_refused_and_the_old_program_kept(move, reason):
    clock = FakeClock()
    stage = SimScanner(SimWorld(MODEL, clock))
    stage.load_path([PathMove("y", 0.0, 20e-6, 1e-4)])
    with pytest.raises(Refused) as refused:
        stage.load_path([PathMove("x", 0.0, 20e-6, 1e-4), move])
    assert refused.value.reason == reason
    stage.run_path()
    clock.now += 1.0
    assert stage.position("y") == 20e-6 and stage.position("x") == SPEC.initial_position.x


def test_a_bidirectional_image_resumed_on_an_odd_line_sweeps_it_backwards():
    clock = FakeClock()
    stage = SimScanner(SimWorld(MODEL, clock))
    plan = plan_raster("x", FAST, "y", SLOW[1:], 1e-3, "bidirectional", LIMITS,
                       SPEC.settle_time, first_backwards=True)
    plan = with_approach(plan, {a: stage.position(a) for a in "xyz"}, LIMITS, SPEC.settle_time)
    stage.load_path(plan.moves)
    t0 = clock.now
    stage.run_path()
    centres = stage.paths["x"].position(t0 + plan.gates.mean(axis=1)).reshape(plan.lines, -1)
    np.testing.assert_allclose(centres[0::2], np.tile(FAST[::-1], (2, 1)), atol=1e-12)
    np.testing.assert_allclose(centres[1::2], np.tile(FAST, (2, 1)), atol=1e-12)
