"""Registering the NV under the tip from small maps of its locked resonance, against an NV
simulated with the tip's dipole field and a noisy Lorentzian dip: near the expected place one
map does; several nm off it (the drift since the last registration) the first map loses its
line and a wide map finds the NV again; far off, the registration is refused with what the
lock measured, not raised."""

import numpy as np
import pytest

from nanomri.analysis import localize as lz
from nanomri.frequency_lock import FrequencyLock, Line
from nanomri.magnetic_tip import dipole_field
from nanomri.nv_registration import PatternMap

NM = 1e-9
REFERENCE = np.array([2.5e-6, 2.5e-6, 0.5e-6])  # where the NV was registered (m)
DEPTH = 10 * NM  # of the NV under the surface
OFFSET = np.array([0.0, 0.0, 20 * NM])  # the tip's dipole over its apex
MOMENT = 1.15e-17  # A m^2, along z
BIAS = 0.12  # T along the NV axis
BARE = 490e6  # Hz: the NV's resonance with the tip far
LINE = Line(BARE, 2.55e6, 0.12, 1.0)  # a CW ODMR dip as the finder fits it
NOISE = 0.04  # of the ratio per probe: registrations err 0.1-0.7 nm, as on the stack


class SimulatedNV:
    """The NV at `place` under the tip: `move` puts the apex, `probe` gives the ratio there."""

    def __init__(self, place: np.ndarray, seed: int):
        self.place, self.rng = place, np.random.default_rng(seed)
        self.apex = None

    def move(self, apex: np.ndarray) -> None:
        self.apex = np.asarray(apex, dtype=float)

    def calls(self):
        return self.move, self.probe

    def probe(self, frequency: float) -> float:
        field = dipole_field(self.place[None], (self.apex + OFFSET)[None],
                             np.array([[0.0, 0.0, MOMENT]]))[0, 2]
        line = Line(float(lz.lock_from_field(field, BARE, BIAS)), LINE.hwhm, LINE.depth,
                    LINE.baseline)
        return float(line.at(frequency)) + self.rng.normal(0, NOISE)


def maps() -> PatternMap:
    return PatternMap(REFERENCE, REFERENCE[2] + DEPTH, OFFSET, np.array([0.0, 0.0, 1.0]),
                      np.array([0.0, 0.0, 1.0]), MOMENT, BARE, BIAS,
                      np.array([-8, 0, 8]) * NM, 40 * NM, FrequencyLock(LINE, max_steps=3))


@pytest.mark.parametrize("seed", [1, 2])
def test_an_nv_near_where_it_is_expected_is_registered_within_a_nanometre(seed):
    nv = SimulatedNV(REFERENCE + np.array([0.3, -0.2, 0.1]) * NM, seed)
    located = maps().find(REFERENCE, nv.move, nv.probe)
    assert not located.refused(), located.refused()
    assert np.all(np.abs(located.place.position - nv.place) < 1 * NM)


def test_an_nv_the_drift_took_nanometres_away_is_found_again():
    drifted = REFERENCE + np.array([10.0, -8.0, 4.0]) * NM  # 10 pm/s for 1000 s
    seeds = range(8)
    # one map around the old place rarely registers it: it loses the line, or misplaces it
    firsts = [maps().locate(REFERENCE, *SimulatedNV(drifted, seed).calls()) for seed in seeds]
    missed = [f.failure or f.poor() or f.refused()
              or np.abs(f.place.position - drifted).max() > 1 * NM for f in firsts]
    assert sum(map(bool, missed)) >= 4, missed
    found = [maps().find(REFERENCE, *SimulatedNV(drifted, seed).calls()) for seed in seeds]
    assert not any(f.refused() for f in found), [f.refused() for f in found]
    off = np.array([f.place.position - drifted for f in found])
    assert np.abs(off).max() < 2 * NM and np.median(np.abs(off)) < 0.5 * NM, off / NM


def test_an_nv_beyond_the_wide_map_is_refused_with_what_the_lock_measured():
    nv = SimulatedNV(REFERENCE + np.array([60.0, 0.0, 0.0]) * NM, seed=5)
    located = maps().find(REFERENCE, nv.move, nv.probe)
    refused = located.refused()
    assert refused and "the lock lost" in refused and "mT" in refused
