"""Tracking the sample's drift from repeated registrations of one feature (the NV's place under
the tip), as an operator does with a Nanonis drift compensation: each registration measures how
far the feature has moved in the scan head's frame since its reference; the head's drift
compensation has meanwhile added its own offset to the piezos. Their sum is where the sample
has drifted in the piezos' frame. A constant-velocity Kalman filter per axis follows that place
and its velocity through registrations of any spacing and noise (registrations seconds apart
say little about a drift of pm/s; the filter weighs them so). The estimate to set is the
velocity, within a bound of what thermal drift does; the offset the compensation has not
followed is told apart, for the caller to bring back between lines (brought back by the
velocity instead, it would bend the lines scanned meanwhile).
"""

from dataclasses import dataclass, field

import numpy as np

from .vectors import finite_vector

MAX_DRIFT = 1e-10  # m/s: the estimate's bound and the prior's spread of the velocity
TURN = 1e-13  # m/s per sqrt(s): the drift's velocity wanders ~1 pm/s a minute, 6 in an hour


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

    def as_dict(self) -> dict:
        """Plain numbers, as an environment variable or a file keeps them."""
        return {"time": float(self.time), **{key: [float(v) for v in getattr(self, key)]
                                             for key in VECTORS}}

    @classmethod
    def from_dict(cls, data: dict) -> "Registration":
        missing = [key for key in ("time", *VECTORS) if key not in data]
        if missing:
            raise ValueError(f"a registration lacks {', '.join(missing)}: {data!r:.120}")
        return cls(float(data["time"]), *(finite_vector(data[key], key) for key in VECTORS))


VECTORS = ("displacement", "error", "compensation", "estimate")


@dataclass
class DriftTracker:
    """The drift estimate from registrations; `log` holds them in order (a tracker rebuilt
    from a log replays it). `max_drift` (m/s) bounds the estimate per axis."""

    max_drift: float = MAX_DRIFT
    log: list[Registration] = field(default_factory=list)

    def __post_init__(self):
        self._state: np.ndarray | None = None  # per axis: place (m), velocity (m/s)
        self._covariance: np.ndarray | None = None  # per axis: 2 x 2
        self._time = 0.0  # of the filter's last update
        for registration in self.log:
            self._update(registration.time, registration.displacement
                         + registration.compensation, registration.error)

    def register(self, time: float, displacement, error, compensation) -> np.ndarray:
        """The drift estimate (m/s, per axis) to set now, from a registration at `time` (the
        head's clock, s) of the feature `displacement` (m, error `error`) from its reference,
        with the head's `compensation` (m) then."""
        displacement = finite_vector(displacement, "displacement")
        error = finite_vector(error, "error")
        compensation = finite_vector(compensation, "compensation")
        if not np.all(error > 0):
            raise ValueError(f"the registration's errors must be positive, got {error}")
        if self.log and not time > self.log[-1].time:
            raise ValueError(f"registration at {time!r} s is not after the last one at "
                             f"{self.log[-1].time!r} s")
        self._update(time, displacement + compensation, error)
        estimate = np.clip(self._state[:, 1], -self.max_drift, self.max_drift)
        self.log.append(Registration(time, displacement, error, compensation, estimate))
        return estimate

    def _update(self, time: float, drifted: np.ndarray, error: np.ndarray) -> None:
        """The filter moved to `time` and told the place `drifted` (m, error `error`)."""
        dt, self._time = time - self._time, time
        if self._state is None:
            self._state = np.stack([drifted, np.zeros(3)], -1)
            self._covariance = np.array([np.diag([e**2, self.max_drift**2]) for e in error])
            return
        step = np.array([[1.0, dt], [0.0, 1.0]])
        noise = TURN**2 * np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]])
        for axis in range(3):
            state = step @ self._state[axis]
            covariance = step @ self._covariance[axis] @ step.T + noise
            gain = covariance[:, 0] / (covariance[0, 0] + error[axis] ** 2)
            self._state[axis] = state + gain * (drifted[axis] - state[0])
            self._covariance[axis] = covariance - np.outer(gain, covariance[0])

    def offset(self, time: float, compensation) -> np.ndarray:
        """Where the filter puts the feature at `time` (the head's clock, s) from its
        reference, with the head's `compensation` (m) then: the offset to bring back."""
        if self._state is None:
            return np.zeros(3)
        place = self._state[:, 0] + self._state[:, 1] * (time - self._time)
        return place - finite_vector(compensation, "compensation")

    def velocity(self) -> np.ndarray:
        """The drift's velocity (m/s) the registrations give so far; zero before any."""
        return np.zeros(3) if self._state is None else self._state[:, 1].copy()
