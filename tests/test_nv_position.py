"""The NV's place under a magnetic tip fitted to field maps made with the tip's dipole field
(the shipped world's calibration: 1.15e-17 A m^2 along z, 20 nm over the apex) and Gaussian
noise of a frequency lock; the fit sees only the map, the calibration and a guess."""

import numpy as np
import pytest

from nanomri.analysis.localize import Grid
from nanomri.analysis.nv_position import nv_under_tip
from nanomri.magnetic_tip import dipole_field, unit_vector

NM = 1e-9
MOMENT = 1.15e-17  # A m^2
OFFSET = np.array([0.0, 0.0, 20e-9])  # m, the dipole over the apex
Z = np.array([0.0, 0.0, 1.0])
NOISE = 2e-6  # T: ~56 kHz of a locked NV frequency at 28 GHz/T
CENTRE = np.array([2.5e-6, 2.5e-6, 0.4955e-6])  # m: where the experimenter thinks the NV is
NV = CENTRE + np.array([1.3, -2.1, 0.0]) * NM  # where it is
PIXELS = np.arange(-10, 10.01, 2.0) * NM  # 11 pixels of 2 nm
HEIGHTS = np.arange(30, 50.01, 5.0) * NM  # the apex over the NV


def field_map(rng, nv=NV, moment=MOMENT * Z, axis=Z, heights=HEIGHTS) -> Grid:
    """The tip's field on the NV axis, with noise, over the apex's places about CENTRE."""
    axes = (CENTRE[0] + PIXELS, CENTRE[1] + PIXELS, CENTRE[2] + heights)
    grid = Grid(axes, np.zeros(tuple(len(a) for a in axes)))
    tips = grid.points()
    field = dipole_field(nv - tips, OFFSET[None], np.asarray(moment)[None]) @ axis
    return Grid(axes, (field + rng.normal(0, NOISE, field.size)).reshape(grid.values.shape))


def test_the_nv_is_found_within_a_third_of_a_nanometre_and_three_sigma():
    found = nv_under_tip(field_map(np.random.default_rng(1)), OFFSET, Z, Z, CENTRE)
    miss = np.abs(found.position - NV)
    assert np.all(miss < 0.3 * NM), miss / NM
    assert np.all(miss < 3 * found.error), (miss / NM, found.error / NM)
    assert abs(found.moment.value - MOMENT) < 3 * found.moment.error
    assert found.residual_rms == pytest.approx(NOISE, rel=0.1)  # the fit leaves only the noise


def test_a_guess_15_nm_off_laterally_and_5_nm_in_depth_finds_the_same_nv():
    grid = field_map(np.random.default_rng(2))
    near = nv_under_tip(grid, OFFSET, Z, Z, CENTRE)
    far = nv_under_tip(grid, OFFSET, Z, Z, CENTRE + np.array([15.0, -15.0, -5.0]) * NM)
    assert np.all(np.abs(far.position - NV) < 0.3 * NM), far.position / NM - NV / NM
    assert np.allclose(far.position, near.position, atol=1e-3 * NM)


@pytest.mark.parametrize("tilted, miss", [(False, (-40.0, -40.0, 0.0)), (True, (0.0, 25.0, -5.0))])
def test_a_guess_where_a_fit_from_it_alone_goes_astray_still_finds_the_nv(tilted, miss):
    axis = unit_vector(np.radians(54.7), np.radians(45)) if tilted else Z
    direction = unit_vector(np.radians(20), np.radians(-60)) if tilted else Z
    grid = field_map(np.random.default_rng(8), moment=MOMENT * direction, axis=axis)
    found = nv_under_tip(grid, OFFSET, direction, axis, CENTRE + np.array(miss) * NM)
    assert np.all(np.abs(found.position - NV) < 0.3 * NM), (found.position - NV) / NM


def test_the_truth_lies_within_one_reported_sigma_about_68_percent_of_the_time():
    rng = np.random.default_rng(3)
    trials = 100
    within = np.zeros(3)
    for _ in range(trials):
        found = nv_under_tip(field_map(rng, heights=HEIGHTS[::2]), OFFSET, Z, Z, CENTRE)
        within += np.abs(found.position - NV) < found.error
    assert np.all((0.55 * trials <= within) & (within <= 0.80 * trials)), within / trials


def test_a_small_map_with_the_moment_fixed_registers_a_moved_nv_and_covers_it():
    """Drift tracking's registration: 3 x 3 pixels of 8 nm at one height, the moment known
    from the first map; the NV moved by a drift of some 10 minutes."""
    rng = np.random.default_rng(4)
    moved = NV + np.array([0.7, -0.4, 0.3]) * NM
    small = np.arange(-8, 8.01, 8.0) * NM
    within, trials = np.zeros(3), 100
    for _ in range(trials):
        axes = (NV[0] + small, NV[1] + small, NV[2] + np.array([40.0]) * NM - OFFSET[2])
        grid = Grid(axes, np.zeros((3, 3, 1)))
        field = dipole_field(moved - grid.points(), OFFSET[None], (MOMENT * Z)[None]) @ Z
        grid = Grid(axes, (field + rng.normal(0, NOISE, field.size)).reshape(3, 3, 1))
        found = nv_under_tip(grid, OFFSET, Z, Z, NV, moment=MOMENT)
        assert np.all(np.abs(found.position - moved) < 0.3 * NM), (found.position - moved) / NM
        assert found.moment.value == MOMENT and found.pixels == 9
        within += np.abs(found.position - moved) < found.error
    assert np.all((0.55 * trials <= within) & (within <= 0.80 * trials)), within / trials
    with pytest.raises(ValueError, match="fixed moment"):
        nv_under_tip(grid, OFFSET, Z, Z, NV, moment=0.0)


def test_a_tilted_nv_axis_and_a_tilted_moment_are_fitted():
    axis = unit_vector(np.radians(54.7), np.radians(45))  # a (100) diamond's NV
    direction = unit_vector(np.radians(20), np.radians(-60))
    nv = CENTRE + np.array([-4.0, 3.0, 2.0]) * NM
    grid = field_map(np.random.default_rng(4), nv=nv, moment=MOMENT * direction, axis=axis)
    found = nv_under_tip(grid, OFFSET, direction, axis, CENTRE + np.array([8, -8, -5]) * NM)
    miss = np.abs(found.position - nv)
    assert np.all(miss < 0.3 * NM) and np.all(miss < 3 * found.error), miss / NM
    assert abs(found.moment.value - MOMENT) < 3 * found.moment.error


def test_pixels_where_the_lock_was_lost_are_left_out():
    rng = np.random.default_rng(9)
    grid = field_map(rng)
    values = grid.values.copy()
    lost = rng.random(values.shape) < 0.3
    values[lost] = np.nan
    found = nv_under_tip(Grid(grid.axes, values), OFFSET, Z, Z, CENTRE)
    assert found.pixels == values.size - lost.sum()
    assert np.all(np.abs(found.position - NV) < 3 * found.error), (found.position - NV) / NM


def test_a_map_of_four_pixels_is_refused_for_too_few_points():
    grid = field_map(np.random.default_rng(5))
    values = np.full(grid.values.shape, np.nan)
    values[:2, :2, 0] = grid.values[:2, :2, 0]
    with pytest.raises(ValueError, match="4 measured pixels"):
        nv_under_tip(Grid(grid.axes, values), OFFSET, Z, Z, CENTRE)


def test_a_map_where_the_lock_never_held_is_refused():
    grid = field_map(np.random.default_rng(6))
    with pytest.raises(ValueError, match="no measured pixel"):
        nv_under_tip(Grid(grid.axes, np.full(grid.values.shape, np.nan)), OFFSET, Z, Z, CENTRE)


def test_a_guess_over_the_tip_is_refused():
    grid = field_map(np.random.default_rng(7))
    with pytest.raises(ValueError, match="under the tip's dipole"):
        nv_under_tip(grid, OFFSET, Z, Z, CENTRE + np.array([0, 0, 80]) * NM)
