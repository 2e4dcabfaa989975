"""Simulated APD + counter: Poisson counts of what the focus, the laser and the sequencer did."""

import math
from contextlib import suppress

import numpy as np

from nanomri.confocal import detected_rate
from nanomri.interfaces.errors import Refused
from nanomri.interfaces.photon_counter import CountingMode, PhotonCounterConstraints
from nanomri.nv_spin import inside
from nanomri.world_sections.photon_counter import PhotonCounterSpec

from ..nv_sensor import SimSensor
from ..sim_world import SimWorld, open_section

SAMPLES_PER_GATE = 64  # points along a gate at which the path and the laser are sampled
SAMPLES_PER_WINDOW = 16  # per gate window of a hardware-gated scan (short, many windows)
SAMPLED_REPETITIONS = 16  # repetitions sampled per batch of sequencer gates, evenly spread
# (over all bins: each bin gets its share, at least one)


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
        self._first = 0  # of them, those counted before the playback being counted
        self._bins = 1
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

    def set_bins(self, bins: int) -> None:
        if self.is_counting():
            raise Refused("BUSY", "cannot change bins while counting; stop first")
        if isinstance(bins, bool) or int(bins) != bins or bins < 1:
            raise Refused("OUT_OF_RANGE", f"bins must be a whole number >= 1, got {bins}")
        self._check_fits(int(bins), 1)
        self._bins = int(bins)

    def bins(self) -> int:
        return self._bins

    def _check_fits(self, bins: int, gates: int) -> None:
        limit = self.constraints.max_gates
        if bins * gates > limit:
            raise Refused("OUT_OF_RANGE", f"{bins} bins x {gates} gates per repetition = "
                                          f"{bins * gates} gate sums exceed max_gates {limit}")

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
            with suppress(Refused):  # a run whose bins do not fit was refused when read
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
            self._check_fits(self._bins, len(gates))
            self._counting, self._done = playback, 0
            if self._sums.shape != (self._bins * len(gates),):
                self._sums, self._total = np.zeros(self._bins * len(gates), dtype=np.int64), 0
            self._first = self._total
        done = playback.completed(min(self.world.clock(), self._armed[1]))
        new = range(self._first + self._done, self._first + done)
        if len(new) and len(gates):
            sums = self._sums.reshape(self._bins, len(gates))
            sums += self._rng.poisson(self._mean_counts(playback, gates, new))
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

    def _mean_counts(self, playback, gates: np.ndarray, new: range) -> np.ndarray:
        """(bins, gates) mean counts of the repetitions `new` (numbered since arm; repetition
        i of the run is number i + `_first`), summed into bin number mod bins: each bin's mean
        per repetition from repetitions of its own spread over `new`, times how many it got."""
        bins = self._bins
        b = np.arange(bins)
        first = new.start + (b - new.start) % bins  # each bin's first number in `new`
        got = np.maximum((new.stop - first + bins - 1) // bins, 0)
        share = math.ceil(SAMPLED_REPETITIONS / bins)
        sampled = [first[k] + bins * np.unique(np.linspace(0, got[k] - 1, share).round())
                   for k in b if got[k]]
        which = np.repeat(b[got > 0], [len(x) for x in sampled])
        starts = (playback.start
                  + (np.concatenate(sampled) - self._first) * playback.sequence.length)
        bright = (self._sensor.brightness(playback.sequence, starts)
                  if self._sensor is not None else np.ones((len(starts), len(gates))))
        per_start = self._gate_means(playback, gates, starts, bright)
        means = np.zeros((bins, len(gates)))
        np.add.at(means, which, per_start)
        return means / np.maximum(np.bincount(which, minlength=bins), 1)[:, None] * got[:, None]

    def _gate_means(self, playback, gates: np.ndarray, starts: np.ndarray,
                    bright: np.ndarray) -> np.ndarray:
        """(starts, gates) mean counts of each gate of repetitions starting at `starts`, the
        sensor NV as bright as `bright` (starts, gates): `expected_counts` of every gate, at
        the cost of one detected rate per gate when the focus and the laser's power stand
        still over them (the gate's samples then differ only in whether the laser is on)."""
        widths = gates[:, 1] - gates[:, 0]
        t0, t1 = starts.min() + gates[0, 0], starts.max() + gates[-1, 1]
        if not (len(gates) and self._optics_still(t0, t1)):
            return np.array([[self.expected_counts(r + g[0], r + g[1], x)
                              for g, x in zip(gates, row, strict=True)]
                             for r, row in zip(starts, bright, strict=True)]).reshape(bright.shape)
        w = self.world
        focus, power = w.focus(np.array([t0])), float(w.laser.at(np.array([t0]))[0])
        lit = (_lit(playback.sequence) if w.laser.gated_at(np.array([t0]))[0]
               else np.ones(len(gates)))
        weights = np.ones((bright.size, len(w.nv_centres)))
        if self._sensor is not None:
            weights[:, self._sensor.spec.nv] = bright.ravel()
        on = detected_rate(focus, w.nv_centres, power, w.model.optics,  # one focus for all
                           weights).reshape(bright.shape)
        off = detected_rate(focus, w.nv_centres, 0.0, w.model.optics)[0]
        return widths * (lit * on + (1 - lit) * off)

    def _optics_still(self, t0: float, t1: float) -> bool:
        """Whether no scanner axis moves and the laser's power and gating do not change
        between `t0` and `t1`."""
        w = self.world
        moving = any(p.starts.size and t0 < p.end and p.starts[0] <= t1 for p in w.paths.values())
        changes = np.asarray(w.laser.times)
        return not moving and not ((changes > t0) & (changes <= t1)).any()

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


def _lit(sequence) -> np.ndarray:
    """(gates,) the part of each gate of `sequence` its laser channel lights, sampled as
    `expected_counts` samples a gate; worked out once per sequence object (a counter read
    during a run asks again at every read)."""
    known = sequence.__dict__.get("_nanomri_lit")  # as functools.cached_property keeps
    if known is None:
        gates = sequence.windows("gate")
        fractions = (np.arange(SAMPLES_PER_GATE) + 0.5) / SAMPLES_PER_GATE
        offsets = gates[:, :1] + (gates[:, 1] - gates[:, 0])[:, None] * fractions
        known = sequence.__dict__["_nanomri_lit"] = inside(
            offsets.ravel(), sequence.windows("laser")).reshape(offsets.shape).mean(axis=1)
    return known


def open_driver(address: str) -> SimPhotonCounter:
    """The simulated photon counter of the world file at `address` (`<world>[#section]`)."""
    world, spec, key = open_section(address, "photon_counter", PhotonCounterSpec)
    return world.driver(key, lambda: SimPhotonCounter(world, spec))
