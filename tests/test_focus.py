"""Refocusing on a confocal spot whose counts a fake counter gives: a Gaussian PSF on
background, shot noise."""

import numpy as np
import pytest

from nanomri.clients.focus import refocus

NV = {"x": 10.8e-6, "y": 11.3e-6, "z": 5.0e-6}
FWHM = {"x": 300e-9, "y": 300e-9, "z": 900e-9}


class Spot:
    def __init__(self, peak: float, seed: int = 1):
        self.at = {"x": NV["x"] + 120e-9, "y": NV["y"] - 80e-9, "z": NV["z"] + 400e-9}
        self.peak, self.rng = peak, np.random.default_rng(seed)

    def move(self, axis: str, position: float) -> None:
        self.at[axis] = position

    def count(self) -> float:
        r2 = sum(4 * np.log(2) * ((self.at[a] - NV[a]) / FWHM[a]) ** 2 for a in NV)
        return float(self.rng.poisson(50 + self.peak * np.exp(-r2)))


def test_refocus_moves_each_axis_to_the_spot():
    spot = Spot(peak=1000.0)
    focus = dict(spot.at)
    refocus(focus, spot.move, spot.count)
    assert all(abs(spot.at[a] - NV[a]) < (20e-9 if a != "z" else 60e-9) for a in NV), spot.at
    assert focus == spot.at


def test_refocus_without_a_spot_refuses_and_puts_the_focus_back():
    spot = Spot(peak=0.0)
    before = dict(spot.at)
    with pytest.raises(ValueError, match="no NV along x"):
        refocus(dict(before), spot.move, spot.count)
    assert spot.at == before
