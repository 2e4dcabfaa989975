"""Registering the NV under a magnetic tip from a small map of its field pattern: the NV's
locked resonance at a few tip places around where it is expected, fitted with the tip's
calibrated dipole and a moment measured before (`analysis.nv_position.nv_under_tip`). Drift
tracking (`clients/tip_tracking`) registers so between the lines of a scan.

The lock at each pixel starts from the resonance that the expected place gives: a few nm off
it the line is tens of MHz away (8 MHz per nm of height 50 nm under the dipole), so a map that
lost pixels, or whose fit failed or is uncertain, is taken again wide (pixels twice apart, the
tip higher, where the field varies more slowly) and then fine around what the wide map found.
The instruments are the caller's: `move` puts the tip's apex at a place, `probe` returns the
NV's signal/reference ratio with the MW at a frequency.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nanomri.analysis import localize as lz
from nanomri.analysis import nv_position as nvp
from nanomri.frequency_lock import FrequencyLock
from nanomri.magnetic_tip import dipole_field

Move = Callable[[np.ndarray], None]  # the tip's apex to a place (m, the scan head's frame)
Probe = Callable[[float], float]  # the NV's signal/reference ratio with the MW at f (Hz)
WIDE_SPREAD, WIDE_RISE = 2.0, 20e-9  # the wide map: pixels twice apart, the tip 20 nm higher
POOR = 8  # a place less certain than the map's reach over this is mapped wide again
REFINES = 2  # maps at most around a place found off the middle of the last


@dataclass(frozen=True)
class Located:
    """One map: its middle `centre` (m), the `grid` of the tip's field on the NV axis (T, NaN
    where the lock lost the line), and the NV's place fitted to it, or `failure` saying why
    there is none."""

    centre: np.ndarray
    grid: lz.Grid
    place: nvp.NVPlace | None
    failure: str

    @property
    def reach(self) -> float:
        """The map's half width (m)."""
        return float(np.abs(self.grid.axes[0] - self.centre[0]).max())

    def poor(self) -> bool:
        """Lost pixels, or a place less certain than the reach over POOR."""
        return bool(np.isnan(self.grid.values).any()
                    or np.any(self.place.error > self.reach / POOR))

    def off_middle(self) -> bool:
        """The place farther than a quarter of the reach from the middle, or less certain."""
        return bool(np.any(np.abs(self.place.position - self.centre) > self.reach / 4)
                    or np.any(self.place.error > self.reach / 4))

    def refused(self) -> str:
        """Why this map gives no registration (no fit, a place beyond its reach or too
        uncertain), with what its lock measured; an empty string if it gives one."""
        if self.place is not None:
            moved = self.place.position - self.centre
            if np.all(np.abs(moved) <= self.reach) and np.all(self.place.error
                                                               <= self.reach / 4):
                return ""
            why = (f"a registration {np.round(moved * 1e9, 2)} nm from the middle of its map "
                   f"(errors {np.round(self.place.error * 1e9, 2)} nm) is beyond the map's "
                   f"reach of {self.reach * 1e9:.3g} nm")
        else:
            why = self.failure
        values = self.grid.values
        return (f"{why}; the lock lost {np.isnan(values).sum()} of its {values.size} pixels, "
                f"field {np.array2string(values.ravel() * 1e3, precision=2)} mT")


@dataclass
class PatternMap:
    """Maps of the NV's field pattern: `lateral` pixels (m, each way from the middle) at
    `height` over the `surface` (m, its z over the NV's `reference` place), the tip a dipole
    of `moment` (A m^2) along `direction` at apex + `offset`, the NV quantised along `axis`
    with resonance `bare` (Hz) in the bias field `bias` (T) with the tip far; `lock` follows
    the line from pixel to pixel."""

    reference: np.ndarray
    surface: float
    offset: np.ndarray
    direction: np.ndarray
    axis: np.ndarray
    moment: float
    bare: float
    bias: float
    lateral: np.ndarray
    height: float
    lock: FrequencyLock

    def find(self, around: np.ndarray, move: Move, probe: Probe) -> Located:
        """The NV near the place `around`: a map there; if it lost pixels or its fit failed or
        is poor, a wide map; then, while the place found is from the wide map or off the
        map's middle (where the fit is poorer), up to REFINES maps around it. The last map
        decides."""
        located = self.locate(around, move, probe)
        if located.failure or located.poor():
            wide = self.locate(around, move, probe, WIDE_SPREAD, WIDE_RISE)
            if wide.failure:
                return located
            located = wide
        reach = np.abs(self.lateral).max()
        for _ in range(REFINES):
            if located.failure or not (located.off_middle() or located.reach > reach):
                break
            located = self.locate(located.place.position, move, probe)
        return located

    def locate(self, around: np.ndarray, move: Move, probe: Probe, spread: float = 1.0,
               rise: float = 0.0) -> Located:
        """The map around the place `around` (its lateral pixels `spread` times the set ones,
        `rise` m higher) and the NV's place fitted to it, or why it could not be."""
        grid = self.map(around, move, probe, spread, rise)
        try:
            place = nvp.nv_under_tip(grid, self.offset, self.direction, self.axis, around,
                                     moment=self.moment)
        except ValueError as error:
            return Located(around, grid, None, str(error))
        return Located(around, grid, place, "")

    def map(self, around: np.ndarray, move: Move, probe: Probe, spread: float = 1.0,
            rise: float = 0.0) -> lz.Grid:
        """The tip's field on the NV axis (T) over the pixels around the place `around`, at
        `height` + `rise` over the surface as it moved with the NV, in a serpentine."""
        xs, ys = around[0] + spread * self.lateral, around[1] + spread * self.lateral
        z = self.surface + around[2] - self.reference[2] + self.height + rise
        values = np.full((len(xs), len(ys), 1), np.nan)
        for i, x in enumerate(xs):
            for j, y in (enumerate(ys) if i % 2 == 0 else reversed(list(enumerate(ys)))):
                tip = np.array([x, y, z])
                move(tip)
                self.lock.frequency = self.expected(tip, around)
                values[i, j, 0] = self.lock.follow(probe).frequency
        return lz.Grid((xs, ys, np.array([z])), lz.field_from_lock(values, self.bare,
                                                                     self.bias))

    def expected(self, tip: np.ndarray, nv: np.ndarray) -> float:
        """The NV's resonance (Hz) with the apex at `tip`, the NV at `nv`."""
        moment = self.moment * self.direction / np.linalg.norm(self.direction)
        field = dipole_field(nv[None], (tip + self.offset)[None], moment[None])
        return float(lz.lock_from_field(field[0] @ (self.axis / np.linalg.norm(self.axis)),
                                        self.bare, self.bias))
