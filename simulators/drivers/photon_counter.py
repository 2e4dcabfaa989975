"""Simulated APD + counter: Poisson counts of what the focus and the laser did during the gate."""

import numpy as np

from nanomri.confocal import detected_rate
from nanomri.interfaces.photon_counter import PhotonCounterConstraints

from ..world import SimWorld, get_world

SAMPLES_PER_GATE = 64  # points along the gate at which the path and the laser are sampled


class SimPhotonCounter:
    """PhotonCounterDriver over a SimWorld; counts are drawn once per gate, when it is read."""

    def __init__(self, world: SimWorld):
        self.world = world
        spec = world.model.instruments.photon_counter
        self.constraints = PhotonCounterConstraints(
            min_dwell=spec.min_dwell, max_dwell=spec.max_dwell, max_count_rate=spec.max_count_rate)
        self.readout_time = spec.readout_time
        self._rng = world.rng("photon_counter")
        self._gate: tuple[float, float] | None = None  # (open, close) of the gate not yet read
        self._ready = 0.0
        self._counts = 0

    def start(self, dwell: float) -> None:
        c = self.constraints
        if not c.min_dwell <= dwell <= c.max_dwell:
            raise ValueError(f"dwell {dwell:g} s is outside [{c.min_dwell:g}, {c.max_dwell:g}] s")
        now = self.world.clock()
        self._gate = (now, now + dwell)
        self._ready = now + dwell + self.readout_time

    def is_counting(self) -> bool:
        return self.world.clock() < self._ready

    def stop(self) -> None:
        now = self.world.clock()
        if self._gate is not None and now < self._gate[1]:
            self._gate = (self._gate[0], now)
            self._ready = now

    def counts(self) -> int:
        if self._gate is not None and not self.is_counting():
            self._counts = self._draw(*self._gate)
            self._gate = None
        return self._counts

    def expected_counts(self, opened: float, closed: float) -> float:
        """Mean counts of a gate: the detected rate integrated along the real path and laser."""
        if closed <= opened:
            return 0.0
        times = opened + (np.arange(SAMPLES_PER_GATE) + 0.5) * (closed - opened) / SAMPLES_PER_GATE
        w = self.world
        rate = detected_rate(w.focus(times), w.nv_centres, w.laser_power(times), w.model.optics)
        return float(rate.mean() * (closed - opened))

    def _draw(self, opened: float, closed: float) -> int:
        return int(self._rng.poisson(self.expected_counts(opened, closed)))


def open_driver(address: str) -> SimPhotonCounter:
    """The simulated photon counter of the world file at `address`."""
    return SimPhotonCounter(get_world(address))
