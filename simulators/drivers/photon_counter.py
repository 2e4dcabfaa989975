"""Simulated APD + counter: Poisson counts of what the focus, the laser and the sequencer did."""

import numpy as np

from nanomri.confocal import detected_rate
from nanomri.interfaces.photon_counter import CountingMode, PhotonCounterConstraints
from nanomri.specs.photon_counter import PhotonCounterSpec

from ..nv_sensor import SimSensor
from ..sim_world import SimWorld, open_section

SAMPLES_PER_GATE = 64  # points along a gate at which the path and the laser are sampled
SAMPLES_PER_WINDOW = 16  # per gate window of a hardware-gated scan (short, many windows)
SAMPLED_REPETITIONS = 16  # repetitions sampled per batch of sequencer gates, evenly spread


class SimPhotonCounter:
    """PhotonCounterDriver over a SimWorld; counts are drawn when they are read."""

    def __init__(self, world: SimWorld, spec: PhotonCounterSpec | None = None):
        self.world = world
        spec = spec or world.model.instruments.photon_counter
        self.constraints = PhotonCounterConstraints(
            min_dwell=spec.min_dwell, max_dwell=spec.max_dwell,
            max_count_rate=spec.max_count_rate, max_gates=spec.max_gates)
        self.readout_time = spec.readout_time
        self._rng = world.rng("photon_counter")
        self._gate: tuple[float, float] | None = None  # (open, close) of the gate not yet read
        self._ready = 0.0
        self._counts = 0
        self._armed: tuple[float, float] | None = None  # (armed at, disarmed at)
        self._per_window = False
        self._sums = np.zeros(0, dtype=np.int64)
        self._counting = None  # the playback whose gates are being counted
        self._done = 0  # its repetitions counted so far
        self._total = 0  # repetitions counted since arm, over every playback
        sensor = world.model.sensor
        self._sensor = SimSensor(world, sensor) if sensor is not None else None

    def start(self, dwell: float) -> None:
        c = self.constraints
        if not c.min_dwell <= dwell <= c.max_dwell:
            raise ValueError(f"dwell {dwell:g} s is outside [{c.min_dwell:g}, {c.max_dwell:g}] s")
        now = self.world.clock()
        self._armed = None  # a timed gate ends any sequence counting
        self._gate = (now, now + dwell)
        self._ready = now + dwell + self.readout_time

    def arm(self, mode: CountingMode = CountingMode.SEQUENCE) -> None:
        self._armed = (self.world.clock(), np.inf)
        self._per_window = mode == CountingMode.GATES
        self._sums = np.zeros(0, dtype=np.int64)
        self._counting, self._done, self._total = None, 0, 0

    def is_counting(self) -> bool:
        now = self.world.clock()
        if self._armed is not None and self._armed[1] == np.inf:
            playback = self.world.playback()
            return playback is None or playback.start < self._armed[0] or now < playback.end
        return now < self._ready

    def stop(self) -> None:
        now = self.world.clock()
        if self._gate is not None and now < self._gate[1]:
            self._gate = (self._gate[0], now)
            self._ready = now
        if self._armed is not None and self._armed[1] == np.inf:
            self.gate_counts()
            self._armed = (self._armed[0], now)

    def counts(self) -> int:
        if self._gate is not None and not self.world.clock() < self._ready:
            self._counts = self._draw(*self._gate)
            self._gate = None
        return self._counts

    def gate_counts(self) -> np.ndarray:
        playback = self.world.playback()
        if self._armed is None or playback is None or playback.start < self._armed[0]:
            return self._sums.copy()
        if self._per_window:
            return self._window_counts(playback)
        gates = playback.sequence.windows("gate")
        if playback is not self._counting:  # a new run: its gates replace the old binning
            self._counting, self._done = playback, 0
            if len(self._sums) != len(gates):
                self._sums, self._total = np.zeros(len(gates), dtype=np.int64), 0
        done = playback.completed(min(self.world.clock(), self._armed[1]))
        new = range(self._done, done)
        if len(new) and len(gates):
            self._sums += self._rng.poisson(self._mean_per_gate(playback, gates, new) * len(new))
        self._total += len(new)
        self._done = done
        return self._sums.copy()

    def _window_counts(self, playback) -> np.ndarray:
        """One value per gate window of `playback` completed so far, drawn once each."""
        if playback is not self._counting:
            self._counting, self._sums, self._total = playback, np.zeros(0, np.int64), 0
        until = min(self.world.clock(), self._armed[1])
        windows = playback.closed_windows("gate", until)
        new = windows[len(self._sums):]
        if len(new):
            counts = self._rng.poisson(self._window_means(new))
            self._sums = np.concatenate([self._sums, counts])
        self._total = playback.completed(until)
        return self._sums.copy()

    def _window_means(self, windows: np.ndarray) -> np.ndarray:
        """Mean counts of each (open, close) window along the real path and laser."""
        fractions = (np.arange(SAMPLES_PER_WINDOW) + 0.5) / SAMPLES_PER_WINDOW
        widths = windows[:, 1] - windows[:, 0]
        times = (windows[:, :1] + widths[:, None] * fractions).ravel()
        w = self.world
        rate = detected_rate(w.focus(times), w.nv_centres, w.laser_power(times), w.model.optics)
        return rate.reshape(len(windows), -1).mean(axis=1) * widths

    def repetitions_counted(self) -> int:
        self.gate_counts()  # bring the count up to now
        return self._total

    def _mean_per_gate(self, playback, gates: np.ndarray, reps: range) -> np.ndarray:
        """Mean counts per gate of one repetition, averaged over repetitions spread over `reps`."""
        sampled = np.unique(np.linspace(reps.start, reps.stop - 1, SAMPLED_REPETITIONS).round())
        rep_starts = playback.start + sampled * playback.sequence.length
        bright = (self._sensor.brightness(playback.sequence, rep_starts)
                  if self._sensor is not None else np.ones((len(sampled), len(gates))))
        return np.mean([[self.expected_counts(r + g[0], r + g[1], b)
                         for g, b in zip(gates, row_bright, strict=True)]
                        for r, row_bright in zip(rep_starts, bright, strict=True)], axis=0)

    def expected_counts(self, opened: float, closed: float,
                        brightness: float | None = None) -> float:
        """Mean counts of a gate: the detected rate integrated along the real path and laser,
        the sensor NV as bright as its spin (`brightness`, or as whatever plays then)."""
        if closed <= opened:
            return 0.0
        times = opened + (np.arange(SAMPLES_PER_GATE) + 0.5) * (closed - opened) / SAMPLES_PER_GATE
        w = self.world
        weights = None
        if self._sensor is not None:
            weights = np.ones((len(times), len(w.nv_centres)))
            weights[:, self._sensor.spec.nv] = (brightness if brightness is not None
                                                else self._sensor.brightness_now(opened))
        rate = detected_rate(w.focus(times), w.nv_centres, w.laser_power(times),
                             w.model.optics, weights)
        return float(rate.mean() * (closed - opened))

    def _draw(self, opened: float, closed: float) -> int:
        return int(self._rng.poisson(self.expected_counts(opened, closed)))


def open_driver(address: str) -> SimPhotonCounter:
    """The simulated photon counter of the world file at `address` (`<world>[#section]`)."""
    world, spec, key = open_section(address, "photon_counter", PhotonCounterSpec)
    return world.driver(key, lambda: SimPhotonCounter(world, spec))
