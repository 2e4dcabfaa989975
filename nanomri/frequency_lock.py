"""Locking the MW frequency to the NV's resonance while the tip moves (seed 001, ref. 19):
the dip measured on both of its flanks, at f - delta and f + delta; their difference is the
error signal, zero on resonance, which the Lorentzian line's shape turns into the offset of
the resonance, exactly and not only near it. The lock that lost the dip (both flanks at the
baseline) searches for it again with a sweep around the last lock point.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nanomri.analysis import fits

Measure = Callable[[float], float]  # signal/reference ratio with the MW at a frequency (Hz)
MAX_CORRECTION = 2.0  # half widths a step may move the lock point
CENTRED_DIP = 0.5  # both flanks at least this deep (3/4 on resonance): the probes straddle it
MIN_DIP = 0.05  # fraction of the line's depth a flank's dip is taken as at least
SEARCH_POINTS = 81  # of the sweep that finds a lost dip again
SEARCH_HALF_WIDTHS = 40  # that sweep's span, in half widths of the line
LOST_BELOW = 0.15  # fraction of the expected flank depth under which the dip is lost


@dataclass(frozen=True)
class Line:
    """The NV's ODMR dip: `centre` and half width `hwhm` (Hz), `depth` (fraction of
    `baseline`), as an ODMR fit gives them."""

    centre: float
    hwhm: float
    depth: float
    baseline: float

    @classmethod
    def fitted(cls, frequencies: np.ndarray, ratios: np.ndarray) -> "Line":
        fit = fits.odmr(frequencies, ratios)
        if not (fit["depth"] > 0 and fit["fwhm"] > 0):
            raise ValueError("no ODMR dip in the sweep: widen it or add repetitions")
        return cls(fit["centre"], fit["fwhm"] / 2, fit["depth"], fit["offset"])

    def at(self, f: np.ndarray | float) -> np.ndarray:
        """The ratio this line gives at `f`."""
        return self.baseline * (1 - self.depth * self.hwhm**2 / ((f - self.centre)**2
                                                                  + self.hwhm**2))


@dataclass(frozen=True)
class Lock:
    """One pixel's lock: the frequency (Hz, NaN if the dip was not found), the steps it took,
    and whether it had to search for the dip."""

    frequency: float
    steps: int
    searched: bool


class FrequencyLock:
    """Follows the resonance from pixel to pixel; `line` is its shape from an ODMR sweep
    (its centre the first lock point). Probing at delta = hwhm/sqrt(3) maximises the error
    signal's slope on a Lorentzian."""

    def __init__(self, line: Line, max_steps: int = 3):
        if not (line.hwhm > 0 and 0 < line.depth < 1):
            raise ValueError(f"cannot lock to a line of hwhm {line.hwhm} Hz, depth {line.depth}")
        self.line = line
        self.frequency = line.centre
        self.delta = line.hwhm / np.sqrt(3)
        self.tolerance = line.hwhm / 4  # a step smaller than this ends the pixel's lock
        self.max_steps = max_steps
        self.search_span = SEARCH_HALF_WIDTHS * line.hwhm
        self.flank_dip = line.baseline - float(line.at(line.centre + self.delta))

    def dips(self, lower: float, upper: float) -> tuple[float, float]:
        """The dips on the two flanks in units of the line's depth (1 at its centre)."""
        line = self.line
        return tuple((line.baseline - r) / (line.baseline * line.depth) for r in (lower, upper))

    def offset(self, dips: tuple[float, float]) -> float:
        """The resonance's offset (Hz) above the lock point from the flanks' dips d:
        1/d(-) - 1/d(+) = 4 delta x / hwhm^2 for a Lorentzian."""
        lower, upper = (max(d, MIN_DIP) for d in dips)
        return self.line.hwhm**2 * (1 / lower - 1 / upper) / (4 * self.delta)

    def follow(self, measure: Measure) -> Lock:
        """Lock at the present pixel, starting from the last lock point."""
        searched = False
        for step in range(1, self.max_steps + 1):
            lower = measure(self.frequency - self.delta)
            upper = measure(self.frequency + self.delta)
            dip = self.line.baseline - (lower + upper) / 2
            if dip < LOST_BELOW * self.flank_dip:
                if searched or not self._search(measure):
                    return Lock(np.nan, step, True)
                searched = True
                continue
            dips = self.dips(lower, upper)
            reach = MAX_CORRECTION * self.line.hwhm
            correction = float(np.clip(self.offset(dips), -reach, reach))
            self.frequency += correction
            # done once close, with both flanks probed where the slope is steep (3/4 deep)
            if abs(correction) < self.tolerance and min(dips) > CENTRED_DIP:
                return Lock(self.frequency, step, searched)
        return Lock(self.frequency, self.max_steps, searched)

    def _search(self, measure: Measure) -> bool:
        """Sweep around the last lock point for the dip; True if found (and the lock there)."""
        f = self.frequency + np.linspace(-self.search_span, self.search_span, SEARCH_POINTS) / 2
        ratios = np.array([measure(x) for x in f])
        try:
            found = Line.fitted(f, ratios)
        except (ValueError, RuntimeError):
            return False
        if not (f[0] <= found.centre <= f[-1]) or found.depth < self.line.depth / 3:
            return False
        self.frequency = found.centre
        return True
