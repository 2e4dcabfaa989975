"""Simulated EMCCD: frames exposed to what the laser did, read out in real time, EM-gain noise.

Pixel model per (binned) pixel and frame, in electrons:
  n ~ Poisson(bin² · (QE · photons_per_watt · ∫P dt + D(T) · t_exp + CIC)),
  EM output ~ Gamma(shape n, scale g) for gain g > 1 (Basden et al. 2003; Hirsch et al. 2013),
  plus Gaussian read noise, then counts = e / e_per_count + baseline, clipped to 16 bits.
D(T) = dark_current · 2^((T − dark_current_temperature) / dark_current_doubling).
The sensor is frame transfer: in internal trigger mode it integrates continuously, one frame
every max(exposure, readout); in external mode one frame per pulse of the sequencer's
"camera" channel, exposed for the pulse, unless it ends before the last frame is read out.
"""

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps

import numpy as np

from nanomri.interfaces.camera import (
    CameraConstraints,
    TriggerMode,
    check_em_gain,
    check_exposure,
    check_frames,
    check_readout_rate,
    check_roi,
    check_setpoint,
    readout_time,
)
from nanomri.interfaces.errors import Refused
from nanomri.world_sections.camera import CameraSpec

from ..sim_world import SimWorld, open_section

LASER_SAMPLES = 256  # grid on which the laser power is integrated, besides its recorded steps
MAX_KNOTS = 200_000  # sequencer laser edges listed per exposure; beyond, stratified sampling
BUFFER_BYTES = 64 * 2**20  # ring of the last frames kept for the device's events
REPS_PER_STEP = 10_000  # sequencer repetitions scanned for triggers at a time
ADC_MAX = 65535


def _locked(method: Callable) -> Callable:
    @wraps(method)
    def call(self: "SimCamera", *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return call


@dataclass(frozen=True)
class Settings:
    """What a frame is taken with; frozen at Acquire."""

    exposure: float
    gain: int
    rate: float
    roi: tuple[int, int, int, int]
    binning: int
    mode: TriggerMode
    readout: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.roi[3] // self.binning, self.roi[2] // self.binning

    @property
    def period(self) -> float:
        return max(self.exposure, self.readout)


@dataclass
class Run:
    """One acquisition: its settings, progress and accumulated frames."""

    settings: Settings
    start: float
    frames: int
    on_sum: np.ndarray
    off_sum: np.ndarray
    produced: int = 0
    pairs: int = 0
    missed: int = 0
    stopped: bool = False
    seen: float = -math.inf  # end of the last trigger window considered
    ready: float = -math.inf  # when the last accepted frame is read out
    pending: np.ndarray | None = field(default=None, repr=False)  # "on" frame awaiting its pair

    @property
    def active(self) -> bool:
        return not self.stopped and self.produced < self.frames


class SimCamera:
    """CameraDriver over a SimWorld; frames are made when asked for, once their readout ends."""

    def __init__(self, world: SimWorld, spec: CameraSpec):
        self.world = world
        self.spec = spec
        self.constraints = CameraConstraints(
            width=spec.width, height=spec.height, pixel_size=spec.pixel_size,
            readout_rates=tuple(spec.readout_rates), min_exposure=spec.min_exposure,
            max_exposure=spec.max_exposure, max_em_gain=spec.max_em_gain,
            min_temperature=spec.min_temperature, max_temperature=spec.ambient_temperature,
            em_gain_max_temperature=spec.em_gain_max_temperature)
        self._lock = threading.RLock()
        self._rng = world.rng("camera")
        self._exposure = min(max(1e-2, spec.min_exposure), spec.max_exposure)
        self._gain = 1
        self._rate = spec.readout_rates[0]
        self._roi = (0, 0, spec.width, spec.height)
        self._binning = 1
        self._mode = TriggerMode.INTERNAL
        self._cooler = False
        self._setpoint = spec.min_temperature
        self._anchor = (world.clock(), spec.ambient_temperature)  # (t, K) of the last change
        self._last = np.zeros((spec.height, spec.width), dtype=np.uint16)
        self._run = Run(self._settings(), -math.inf, 0, self._last * 0.0, self._last * 0.0)
        self._ring: deque[tuple[int, int, np.ndarray]] = deque(maxlen=2)
        self._serial = 0  # frames made since the driver opened

    # settings ---------------------------------------------------------------------------

    def _settings(self) -> Settings:
        x, y, w, h = self._roi
        b = self._binning
        t = readout_time(h, (w // b) * (h // b), self.spec.vertical_shift_time, self._rate)
        return Settings(self._exposure, self._gain, self._rate, self._roi, b, self._mode, t)

    def _idle(self, action: str) -> None:
        """Refuse `action` (e.g. "change the exposure") during an acquisition."""
        self._advance()
        if self._run.active:
            raise Refused("BUSY", f"cannot {action} while acquiring (frame "
                                  f"{self._run.produced} of {self._run.frames}); Stop first")

    @_locked
    def set_exposure(self, exposure: float) -> None:
        check_exposure(self.constraints, exposure)
        self._idle("change the exposure")
        self._exposure = float(exposure)

    def exposure(self) -> float:
        return self._exposure

    @_locked
    def set_em_gain(self, gain: int) -> None:
        check_em_gain(self.constraints, gain)
        self._idle("change the EM gain")
        self._gain = int(gain)

    def em_gain(self) -> int:
        return self._gain

    @_locked
    def set_readout_rate(self, rate: float) -> None:
        offered = check_readout_rate(self.constraints, rate)
        self._idle("change the readout rate")
        self._rate = offered

    def readout_rate(self) -> float:
        return self._rate

    @_locked
    def set_roi(self, roi: tuple[int, int, int, int], binning: int) -> None:
        roi = tuple(int(v) for v in roi)
        check_roi(self.constraints, roi, int(binning))
        self._idle("change the ROI or binning")
        self._roi, self._binning = roi, int(binning)

    def roi(self) -> tuple[int, int, int, int]:
        return self._roi

    def binning(self) -> int:
        return self._binning

    @_locked
    def set_trigger_mode(self, mode: TriggerMode) -> None:
        if mode not in TriggerMode.__members__.values():
            raise Refused("NOT_OFFERED", f"trigger mode {mode!r} is not one of "
                                         f"{[f'{m.value}={m.name}' for m in TriggerMode]}")
        mode = TriggerMode(mode)
        self._idle("change the trigger mode")
        self._mode = mode

    def trigger_mode(self) -> TriggerMode:
        return self._mode

    @_locked
    def readout_time(self) -> float:
        return self._settings().readout

    @_locked
    def frame_period(self) -> float:
        return self._settings().period

    # cooling ----------------------------------------------------------------------------

    def _target(self) -> float:
        if not self._cooler:
            return self.spec.ambient_temperature
        return max(self._setpoint + self.spec.temperature_offset, self.spec.min_temperature)

    def _temperature_at(self, t: float) -> float:
        """Linear approach to the target at cooling_rate from the last change."""
        t0, start = self._anchor
        gap = self._target() - start
        return start + math.copysign(min(self.spec.cooling_rate * max(t - t0, 0.0), abs(gap)), gap)

    def _retarget(self, change: Callable[[], None]) -> None:
        now = self.world.clock()
        self._anchor = (now, self._temperature_at(now))
        change()

    @_locked
    def temperature(self) -> float:
        return self._temperature_at(self.world.clock())

    @_locked
    def set_setpoint(self, kelvin: float) -> None:
        check_setpoint(self.constraints, kelvin)
        self._idle("change the temperature set point")
        self._retarget(lambda: setattr(self, "_setpoint", float(kelvin)))

    def setpoint(self) -> float:
        return self._setpoint

    @_locked
    def set_cooler(self, on: bool) -> None:
        self._idle("switch the cooler")
        self._retarget(lambda: setattr(self, "_cooler", bool(on)))

    def cooler(self) -> bool:
        return self._cooler

    def _check_cold(self, gain: int) -> None:
        """Refuse EM gain unless the sensor is, and stays, below em_gain_max_temperature."""
        limit = self.spec.em_gain_max_temperature
        now = self._temperature_at(self.world.clock())
        if gain > 1 and max(now, self._target()) > limit:
            heading = "cooler off" if not self._cooler else f"set point {self._setpoint:g} K"
            raise Refused("WARM", f"EM gain {gain} needs the sensor below {limit:g} K; it is at "
                                  f"{now:.1f} K ({heading}): cool it or set EM gain 1")

    # acquisition ------------------------------------------------------------------------

    @_locked
    def acquire(self, frames: int) -> None:
        check_frames(self.constraints, frames)
        self._idle("start an acquisition")
        self._check_cold(self._gain)
        s = self._settings()
        rows, cols = s.shape
        self._ring = deque(self._ring, maxlen=max(2, BUFFER_BYTES // (2 * rows * cols)))
        zeros = np.zeros(s.shape)
        self._run = Run(s, self.world.clock(), int(frames), zeros, zeros.copy())

    @_locked
    def stop(self) -> None:
        self._advance()
        self._run.stopped = True

    @_locked
    def is_acquiring(self) -> bool:
        self._advance()
        return self._run.active

    @_locked
    def frame_count(self) -> int:
        self._advance()
        return self._run.produced

    def frames_requested(self) -> int:
        return self._run.frames

    @_locked
    def frames_since(self, serial: int) -> list[tuple[int, int, np.ndarray]]:
        self._advance()
        return [frame for frame in self._ring if frame[0] >= serial]

    @_locked
    def last_image(self) -> np.ndarray:
        self._advance()
        return self._last

    @_locked
    def sums(self) -> tuple[np.ndarray, np.ndarray, int]:
        self._advance()  # copies: the device's event thread may add a pair meanwhile
        return self._run.on_sum.copy(), self._run.off_sum.copy(), self._run.pairs

    @_locked
    def pairs(self) -> int:
        self._advance()
        return self._run.pairs

    @_locked
    def missed_triggers(self) -> int:
        self._advance()
        return self._run.missed

    def _advance(self) -> None:
        """Make every frame whose readout has ended by now."""
        run = self._run
        if not run.active:
            return
        now = self.world.clock()
        if run.settings.mode == TriggerMode.INTERNAL:
            self._advance_internal(run, now)
        else:
            self._advance_external(run, now)

    def _advance_internal(self, run: Run, now: float) -> None:
        s = run.settings
        ready = math.floor((now - run.start - s.readout) / s.period + 1e-9)
        while run.produced < min(ready, run.frames):
            k = run.produced
            self._store(run, self._expose(run.start + k * s.period,
                                          run.start + (k + 1) * s.period, s))

    def _advance_external(self, run: Run, now: float) -> None:
        s = run.settings
        for start, end in self._trigger_windows(run, now):
            if end + s.readout > now or not run.active:
                return
            run.seen = end
            if start < run.start:
                continue
            if end < run.ready:  # storage area still being read: the camera ignores the pulse
                run.missed += 1
                continue
            run.ready = end + s.readout
            self._store(run, self._expose(start, end, s))

    def _trigger_windows(self, run: Run, now: float):
        """Pulses of the sequencer's "camera" channel ending after run.seen, up to now."""
        playback = self.world.playback()
        if playback is None:
            return
        w = playback.sequence.windows("camera")
        length, end = playback.sequence.length, min(playback.end, now)
        if not len(w) or end <= playback.start:
            return
        first = max(math.floor((max(run.seen, run.start) - playback.start) / length), 0)
        last = min(math.floor((end - playback.start) / length), playback.repetitions - 1)
        for chunk in range(first, last + 1, REPS_PER_STEP):
            reps = np.arange(chunk, min(chunk + REPS_PER_STEP, last + 1))
            spans = (playback.start + reps[:, None, None] * length + w[None]).reshape(-1, 2)
            spans = spans[(spans[:, 1] > run.seen) & (spans[:, 0] < playback.end)]
            spans[:, 1] = np.minimum(spans[:, 1], playback.end)  # a pulse cut by Stop
            yield from spans

    def _store(self, run: Run, image: np.ndarray) -> None:
        index = run.produced
        run.produced += 1
        self._ring.append((self._serial, index, image))
        self._serial += 1
        self._last = image
        if index % 2 == 0:
            run.pending = image
        elif run.pending is not None:
            run.on_sum += run.pending
            run.off_sum += image
            run.pairs += 1
            run.pending = None

    # image physics ----------------------------------------------------------------------

    def laser_energy(self, start: float, end: float) -> float:
        """∫ P dt (J) of the laser power at the sample over [start, end].

        world.laser_power is constant between the laser's recorded steps and, when gated,
        the sequencer's laser edges: summed over those pieces the integral is exact.
        """
        steps = np.asarray(self.world.laser.times, dtype=float)
        knots = [np.linspace(start, end, LASER_SAMPLES + 1),
                 steps[(steps > start) & (steps < end)]]
        edges = self._gate_edges(start, end)
        if edges is None:  # too many pulses to list: stratified samples, unbiased
            knots.append(start + (np.arange(MAX_KNOTS) + self._rng.random(MAX_KNOTS)) *
                         (end - start) / MAX_KNOTS)
        else:
            knots.append(edges)
        knots = np.unique(np.concatenate(knots))
        middles = (knots[1:] + knots[:-1]) / 2
        return float(np.sum(self.world.laser_power(middles) * np.diff(knots)))

    def _gate_edges(self, start: float, end: float) -> np.ndarray | None:
        """Edges of the sequencer's laser channel inside (start, end) if the beam is gated
        there; None if there are more than MAX_KNOTS."""
        playback = self.world.playback()
        steps = np.asarray(self.world.laser.times, dtype=float)
        inside = np.concatenate([[start], steps[(steps > start) & (steps < end)]])
        if playback is None or not self.world.laser.gated_at(inside).any():
            return np.empty(0)
        w, length = playback.sequence.windows("laser").ravel(), playback.sequence.length
        low, high = max(start, playback.start), min(end, playback.end)
        if high <= low or not w.size:
            return np.empty(0)
        first = math.floor((low - playback.start) / length)
        last = math.floor((high - playback.start) / length)
        if (last - first + 1) * w.size > MAX_KNOTS:
            return None
        reps = playback.start + np.arange(first, last + 1)[:, None] * length
        edges = np.append((reps + w[None, :]).ravel(), playback.end)
        return edges[(edges > start) & (edges < end)]

    def dark_current(self, kelvin: float) -> float:
        """Dark current (e/pixel/s): doubles every dark_current_doubling kelvin."""
        s = self.spec
        return s.dark_current * 2.0 ** ((kelvin - s.dark_current_temperature) /
                                        s.dark_current_doubling)

    def mean_electrons(self, start: float, end: float, binning: int) -> float:
        """Mean electrons of a binned pixel exposed over [start, end], before EM gain."""
        s = self.spec
        photons = s.photons_per_watt * self.laser_energy(start, end)
        dark = self.dark_current(self._temperature_at((start + end) / 2)) * (end - start)
        return binning**2 * (s.quantum_efficiency * photons + dark + s.clock_induced_charge)

    def _expose(self, start: float, end: float, settings: Settings) -> np.ndarray:
        """One frame in ADC counts (uint16)."""
        s, rng = self.spec, self._rng
        electrons = rng.poisson(self.mean_electrons(start, end, settings.binning),
                                settings.shape).astype(float)
        if settings.gain > 1:
            electrons = rng.gamma(electrons, settings.gain)  # shape 0 gives 0
        electrons += rng.normal(0.0, s.read_noise, settings.shape)
        counts = np.rint(electrons / s.e_per_count + s.baseline)
        return np.clip(counts, 0, ADC_MAX).astype(np.uint16)


def open_driver(address: str) -> SimCamera:
    """The simulated camera of `<world.yaml>` or `<world.yaml>#<section>`."""
    world, spec, key = open_section(address, "camera", CameraSpec)
    return world.driver(key, lambda: SimCamera(world, spec))
