"""Confocal physics and scanner trajectories: pure functions against textbook values."""

import numpy as np
import pytest
from scipy.optimize import curve_fit

from nanomri.confocal import dead_time_loss, detected_rate, psf, saturation
from nanomri.simulators.motion import Trajectory
from nanomri.world import load_world

from .conftest import ROOT

WORLD = load_world(ROOT / "conf" / "worlds" / "confocal.yaml")
OPTICS = WORLD.optics


def gaussian(x, a, x0, fwhm, c):
    return a * np.exp(-4 * np.log(2) * (x - x0) ** 2 / fwhm**2) + c


def test_line_scan_across_an_nv_has_the_world_psf_fwhm():
    nv = np.array([[0.0, 0.0, 0.0]])
    x = np.linspace(-1e-6, 1e-6, 401)
    focus = np.stack([x, np.zeros_like(x), np.zeros_like(x)], axis=-1)
    rate = detected_rate(focus, nv, 1e-3, OPTICS)
    popt, _ = curve_fit(gaussian, x, rate, p0=(rate.max(), 0, 3e-7, rate.min()))
    assert popt[2] == pytest.approx(OPTICS.psf_fwhm_lateral, rel=0.02)


def test_psf_falls_to_half_at_half_the_fwhm_in_both_directions():
    half = np.array([[OPTICS.psf_fwhm_lateral / 2, 0, 0], [0, 0, OPTICS.psf_fwhm_axial / 2]])
    assert psf(half, OPTICS.psf_fwhm_lateral, OPTICS.psf_fwhm_axial) == pytest.approx(0.5)


def test_nv_at_saturation_power_gives_half_its_saturated_rate():
    assert saturation(OPTICS.nv_saturation_power, OPTICS.nv_saturation_power) == 0.5
    on_nv = detected_rate(np.zeros((1, 3)), np.zeros((1, 3)), OPTICS.nv_saturation_power, OPTICS)
    background = OPTICS.background_rate_per_watt * OPTICS.nv_saturation_power
    expected = dead_time_loss(0.5 * OPTICS.nv_saturation_rate + background,
                              OPTICS.detector_dead_time) + OPTICS.dark_count_rate
    assert on_nv[0] == pytest.approx(expected)


def test_dead_time_caps_the_detected_rate():
    assert dead_time_loss(np.array([1e12]), 22e-9)[0] == pytest.approx(1 / 22e-9, rel=1e-3)


def test_no_laser_gives_dark_counts_only():
    rate = detected_rate(np.zeros((1, 3)), np.zeros((1, 3)), 0.0, OPTICS)
    assert rate[0] == OPTICS.dark_count_rate


def test_long_move_takes_trapezoid_time_and_ends_at_target():
    v, a = 2e-4, 0.05
    path = Trajectory.move(0.0, 10e-6, t0=1.0, velocity=v, acceleration=a, settle=3e-3)
    # accelerate v/a, cruise (d - v²/a)/v, decelerate v/a
    assert path.end - 1.0 == pytest.approx(2 * v / a + (10e-6 - v**2 / a) / v)
    assert path.settled == pytest.approx(path.end + 3e-3)
    assert path.position(path.end + 1.0) == 10e-6
    assert path.velocity(1.0 + v / a + 1e-3) == pytest.approx(v)


def test_short_move_is_a_triangle_that_never_reaches_cruise_velocity():
    path = Trajectory.move(0.0, 1e-7, t0=0.0, velocity=2e-4, acceleration=0.05, settle=0.0)
    assert path.end == pytest.approx(2 * np.sqrt(1e-7 / 0.05))
    assert max(path.velocity(t) for t in np.linspace(0, path.end, 50)) < 2e-4
    assert path.position(path.end / 2) == pytest.approx(0.5e-7)


def test_position_is_continuous_and_monotonic_along_a_move():
    path = Trajectory.move(5e-6, 1e-6, t0=0.0, velocity=2e-4, acceleration=0.05, settle=0.0)
    p = path.position(np.linspace(-0.01, path.end + 0.01, 2000))
    assert p[0] == 5e-6 and p[-1] == 1e-6
    assert np.all(np.diff(p) <= 1e-18) and np.max(np.abs(np.diff(p))) < 1e-8


def test_a_position_comparator_sees_each_level_when_the_path_passes_it():
    v, a = 2e-4, 0.05
    path = Trajectory.move(0.0, 10e-6, t0=1.0, velocity=v, acceleration=a, settle=0.0)
    levels = np.linspace(0.0, 10e-6, 41)[1:-1]
    times = np.array([path.crossing(x, after=1.0) for x in levels])
    assert np.allclose(path.position(times), levels, rtol=0, atol=1e-15)
    assert np.all(np.diff(times) > 0)
    # in the acceleration ramp x = a t² / 2, not the cruise's x = v t
    assert times[0] - 1.0 == pytest.approx(np.sqrt(2 * levels[0] / a))
    assert path.crossing(11e-6, after=1.0) is None  # never reached
    assert path.crossing(10e-6, after=5.0) == 5.0  # at rest there
    back = path.then(Trajectory.move(10e-6, 0.0, t0=path.end + 0.1, velocity=v,
                                     acceleration=a, settle=0.0))
    second = back.crossing(5e-6, after=path.end)  # the way back, not the way out
    assert second > path.end and back.velocity(second) < 0
    assert float(back.position(second)) == pytest.approx(5e-6, abs=1e-15)


def test_stop_decelerates_to_rest_short_of_the_target():
    path = Trajectory.move(0.0, 50e-6, t0=0.0, velocity=2e-4, acceleration=0.05, settle=0.0)
    t = 0.05  # cruising
    stopped = path.stopped_at(t, acceleration=0.05, settle=0.0)
    assert stopped.end == pytest.approx(t + 2e-4 / 0.05)
    assert float(path.position(t)) < stopped.final < 50e-6
