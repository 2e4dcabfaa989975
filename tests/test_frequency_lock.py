"""The frequency lock follows an NV resonance that the tip moves, with shot noise."""

import numpy as np
import pytest

from nanomri.frequency_lock import FrequencyLock, Line

LINE = Line(centre=2.0e9, hwhm=2e6, depth=0.2, baseline=1.0)
NOISE = 0.003  # one sigma of a measured ratio


def nv(resonance: float, rng: np.random.Generator, depth: float = LINE.depth,
       noise: float = NOISE):
    """A measurement of the NV's ratio at a MW frequency, its dip at `resonance`."""
    line = Line(resonance, LINE.hwhm, depth, LINE.baseline)
    return lambda f: float(line.at(f)) + rng.normal(0, noise)


def test_the_lock_follows_a_resonance_the_tip_moves_by_less_than_a_linewidth_per_pixel():
    rng = np.random.default_rng(5)
    path = LINE.centre + 6e6 * np.sin(np.linspace(0, 2 * np.pi, 60))  # up to 0.6 MHz a pixel
    lock = FrequencyLock(LINE)
    locked = np.array([lock.follow(nv(f, rng)).frequency for f in path])
    assert np.max(np.abs(locked - path)) < 0.1 * LINE.hwhm * 2  # a tenth of the linewidth


def test_the_lock_keeps_up_with_steps_larger_than_the_half_width_in_cw_odmr_noise():
    """As on the stack: CW ODMR of 13 % depth, 2 % noise per probe; 1.5 half widths a pixel."""
    rng = np.random.default_rng(8)
    line = Line(LINE.centre, LINE.hwhm, 0.13, 1.0)
    path = LINE.centre + 1.5 * LINE.hwhm * np.arange(20)
    lock = FrequencyLock(line)
    locked = np.array([lock.follow(nv(f, rng, 0.13, 0.02)).frequency for f in path])
    assert np.median(np.abs(locked - path)) < 0.3 * LINE.hwhm
    assert np.max(np.abs(locked - path)) < 1.5 * LINE.hwhm  # never lost: one noisy pixel


def test_a_jump_beyond_the_lock_range_is_found_again_by_a_search():
    rng = np.random.default_rng(6)
    lock = FrequencyLock(LINE)
    jumped = LINE.centre + 25e6  # 12 half widths: both flanks at the baseline
    result = lock.follow(nv(jumped, rng))
    assert result.searched and abs(result.frequency - jumped) < 0.2 * LINE.hwhm


def test_a_dip_that_is_gone_gives_no_lock_point():
    rng = np.random.default_rng(7)
    result = FrequencyLock(LINE).follow(nv(LINE.centre, rng, depth=1e-9))
    assert np.isnan(result.frequency) and result.searched


def test_a_line_without_a_dip_cannot_be_locked_to():
    with pytest.raises(ValueError, match="cannot lock"):
        FrequencyLock(Line(LINE.centre, LINE.hwhm, 0.0, 1.0))
