"""Tracking the sample's drift from repeated registrations of one feature (the NV's place under
the tip), as an operator does with a Nanonis drift compensation: each registration measures how
far the feature has moved in the scan head's frame since its reference; the head's drift
compensation has meanwhile added its own offset to the piezos. Their sum is where the sample
has drifted in the piezos' frame; a straight line through the last few sums is the drift, and
the next estimate is the velocity that brings the feature back to its reference by the next
registration and keeps it there.
"""

from dataclasses import dataclass, field

import numpy as np

WINDOW = 4  # registrations the drift's line is fitted to: drift bends over tens of minutes


@dataclass(frozen=True)
class Registration:
    """One registration: the head's clock (s), the feature's displacement from its reference
    in the head's frame (m) and its error, the head's drift compensation then (m), and the
    drift estimate (m/s) set after it."""

    time: float
    displacement: np.ndarray
    error: np.ndarray
    compensation: np.ndarray
    estimate: np.ndarray


def _vector(value, name: str) -> np.ndarray:
    vector = np.asarray(value, dtype=float)
    if vector.shape != (3,) or not np.all(np.isfinite(vector)):
        raise ValueError(f"{name} must be a finite 3-vector, got {value!r}")
    return vector


@dataclass
class DriftTracker:
    """The drift estimate from registrations; `log` holds them in order. `window`: how many of
    the last registrations the drift's line is fitted to."""

    window: int = WINDOW
    log: list[Registration] = field(default_factory=list)

    def register(self, time: float, displacement, error, compensation,
                 horizon: float) -> np.ndarray:
        """The drift estimate (m/s, per axis) to set now, from a registration at `time` (the
        head's clock, s) of the feature `displacement` (m, error `error`) from its reference,
        with the head's `compensation` (m) then, for `horizon` s until the next one."""
        displacement = _vector(displacement, "displacement")
        error = _vector(error, "error")
        compensation = _vector(compensation, "compensation")
        if not np.all(error > 0):
            raise ValueError(f"the registration's errors must be positive, got {error}")
        if not horizon > 0:
            raise ValueError(f"the horizon until the next registration must be positive, "
                             f"got {horizon!r} s")
        if self.log and not time > self.log[-1].time:
            raise ValueError(f"registration at {time!r} s is not after the last one at "
                             f"{self.log[-1].time!r} s")
        drifted = self._drift_line([*self.log[-(self.window - 1):],
                                    Registration(time, displacement, error, compensation,
                                                 np.zeros(3))])
        wanted = drifted(time + horizon)  # the compensation that puts the feature back then
        estimate = (wanted - compensation) / horizon
        self.log.append(Registration(time, displacement, error, compensation, estimate))
        return estimate

    @staticmethod
    def _drift_line(registrations: list[Registration]):
        """Where the sample has drifted in the piezos' frame (displacement + compensation) as
        a function of time: the weighted straight line through the registrations (a constant
        through one)."""
        t = np.array([r.time for r in registrations])
        drifted = np.array([r.displacement + r.compensation for r in registrations])
        weight = 1 / np.array([r.error for r in registrations])
        if len(registrations) == 1:
            return lambda _: drifted[0]
        centre = t.mean()
        lines = [np.polyfit(t - centre, drifted[:, axis], 1, w=weight[:, axis])
                 for axis in range(3)]
        return lambda when: np.array([np.polyval(line, when - centre) for line in lines])

    def velocity(self) -> np.ndarray:
        """The drift's velocity (m/s) the registrations give so far; zero before two."""
        if len(self.log) < 2:
            return np.zeros(3)
        line = self._drift_line(self.log[-self.window:])
        return line(1.0) - line(0.0)
