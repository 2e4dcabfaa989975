"""Tracking the sample's drift during an NV scan with the tip (env NanomriTrack): before the
scan and between lines, every `every` s, the tip re-registered on the NV's field pattern
(`nanomri.nv_registration`: small maps of the NV's locked resonance where the tracker expects
it, fitted with the tip's calibrated dipole and the moment the finder measured), and the scan
head's drift estimate set from the registrations (`nanomri.drift_tracking`). The scan's
coordinates so stay in the sample's frame; every point of the file carries the estimate and
the last registration's displacement.

The settings are what the experimenter measured before the scan (cli/nv_finder.track_settings
builds them from what it found): the NV's place under the tip (head frame), when (the head's
clock) and the head's drift compensation then, the surface's z over it, the tip's moment and
calibration, the NV axis, the bare resonance and bias field, the CW ODMR line, and the map.
"""

import time
from collections.abc import Mapping

import numpy as np

from nanomri.drift_tracking import DriftTracker, Registration
from nanomri.frequency_lock import FrequencyLock, Line
from nanomri.nv_registration import PatternMap
from nanomri.vectors import finite_vector

from .nv_measurement import measurement, set_measurement
from .sequence_runner import device_proxy

TRACK_ENV = "NanomriTrack"
AXES = ("x", "y", "z")
TIP_MOTORS = ("tip_x", "tip_y", "tip_z")
REQUIRED = ("every", "nv", "error", "clock", "wall", "compensation", "surface", "moment",
            "tip_offset", "moment_direction", "nv_axis", "bare", "bias", "line")
DEFAULTS = {"lateral": [-8e-9, 0.0, 8e-9], "height": 40e-9, "repetitions": 5000, "steps": 3}
MISSES = 2  # refused registrations in a row that stop the macro
KEPT = 64  # registrations the environment keeps (its "log", replayed by the next tracker)
RAMP_SPEED = 1e-9  # m/s of the head's clock: the offset brought back no faster
RAMP_WALL = 0.5  # s: no ramp shorter, so the writes' latency is a small part of it
SETTLED = 0.02e-9  # m: an offset left this small is not ramped again
RAMPS = 3  # ramps at most per registration
PROBE = "cwodmr"  # the lock's probe: CW ODMR counts ~8x the photons of pulsed per second


def _vector(settings: Mapping, key: str) -> np.ndarray:
    return finite_vector(settings[key], f"{TRACK_ENV}['{key}']")


class TipTracker:
    """Registrations of the NV under the tip from within a macro, the drift estimate set on
    the scan head after each; the registrations are kept in the environment, so the next
    macro's tracker goes on from them. Refused (ValueError naming the setting) if the settings
    are incomplete or the tip is held by the feedback: the map needs the tip at set heights."""

    COLUMNS = tuple(f"{column}_{a}" for column in ("drift_estimate", "tracked", "tracked_error")
                    for a in AXES)

    def __init__(self, macro, runner, settings: Mapping, devices: Mapping[str, str]):
        if not isinstance(settings, Mapping):
            raise ValueError(f"{TRACK_ENV} must be a dict of the tracking's settings, got "
                             f"{type(settings).__name__} {settings!r:.80}")
        missing = [key for key in REQUIRED if key not in settings]
        if missing:
            raise ValueError(f"{TRACK_ENV} lacks {', '.join(missing)}")
        self.kept = dict(settings)
        settings = {**DEFAULTS, **settings}
        self.macro, self.runner = macro, runner
        self.every = float(settings["every"])
        if not self.every > 0:
            raise ValueError(f"{TRACK_ENV}['every'] must be a positive time (s), got "
                             f"{settings['every']!r}")
        lateral = np.asarray(settings["lateral"], dtype=float)
        height = float(settings["height"])
        self.repetitions, steps = int(settings["repetitions"]), int(settings["steps"])
        if len(lateral) < 2 or not height > 0 or self.repetitions < 1 or steps < 1:
            raise ValueError(f"{TRACK_ENV}: the map needs 2 or more lateral pixels, a positive "
                             f"height, repetitions and steps; got {lateral.tolist()}, "
                             f"{height}, {self.repetitions}, {steps}")
        hwhm, depth, baseline = (float(v) for v in settings["line"])
        bare = float(settings["bare"])
        self.reference = _vector(settings, "nv")
        self.maps = PatternMap(
            self.reference, float(settings["surface"]), _vector(settings, "tip_offset"),
            _vector(settings, "moment_direction"), _vector(settings, "nv_axis"),
            float(settings["moment"]), bare, float(settings["bias"]), lateral, height,
            FrequencyLock(Line(bare, hwhm, depth, baseline), max_steps=steps))
        if "probe" not in devices:
            raise ValueError(f"{TRACK_ENV} is set but the instruments have no scan head (probe)")
        self.head = device_proxy(devices["probe"])
        if self.head.feedback:
            raise ValueError(f"{TRACK_ENV}: the tip is in feedback; tracking maps the NV at "
                             "set heights, so the scan must run with the feedback off")
        self.tracker = DriftTracker(log=[Registration.from_dict(r)
                                         for r in settings.get("log", [])])
        if self.tracker.log:
            wall, clock = (float(v) for v in settings["last"])
        else:  # the finder's place is the first registration
            wall, clock = float(settings["wall"]), float(settings["clock"])
            self.tracker.register(clock, np.zeros(3), _vector(settings, "error"),
                                  _vector(settings, "compensation"))
        self.place = self.reference + self.tracker.offset(*self._head_now())
        self.last = (wall, clock)
        self.misses = 0

    def due(self) -> bool:
        """True once `every` s have passed since the last registration (or the scan's start)."""
        return time.time() - self.last[0] >= self.every

    def before_scan(self) -> None:
        """As a pre-scan hook: a registration before the first point if one is due, so that
        the scan starts where the NV is and not where it was when last registered."""
        if self.due():
            self.register()

    def register(self) -> None:
        """Map, fit, set the head's estimate; the MW, laser and measurement left as found."""
        macro, runner = self.macro, self.runner
        mw, laser = runner.dev["mw"], runner.dev["laser"]
        kept = (float(mw.frequency), int(laser.mode), bool(laser.emission), measurement(macro))
        tips = macro.getMotion(list(TIP_MOTORS))
        where = [macro.getMoveable(m).getPosition() for m in TIP_MOTORS]
        set_measurement(macro, PROBE)
        runner.gate_laser(True)
        try:
            located = self.maps.find(self.place, lambda tip: tips.move(list(map(float, tip))),
                                     self._probe)
        finally:
            tips.move(where)
            runner.tune("mw", kept[0])
            laser.mode, laser.emission = kept[1], kept[2]
            set_measurement(macro, kept[3])
        found, refused = located.place, located.refused()
        if refused:
            self.misses += 1
            if self.misses >= MISSES:
                raise RuntimeError(f"tracking lost the NV: {refused}, {self.misses} times in "
                                   "a row; find it again (cli/nv_finder) and set NanomriTrack")
            macro.warning(f"tracking: {refused}: kept out, the drift estimate left as it was")
            return
        self.misses = 0
        wall = time.time()
        clock, compensation = self._head_now()
        rate = (clock - self.last[1]) / (wall - self.last[0])  # the head's clock per second
        displacement = found.position - self.reference
        estimate = self.tracker.register(clock, displacement, found.error, compensation)
        left = self._bring_back(estimate, rate)
        self.place, self.last = self.reference + left, (wall, clock)
        macro.setEnv(TRACK_ENV, {**self.kept, "last": list(self.last),
                                 "log": [r.as_dict() for r in self.tracker.log[-KEPT:]]})
        macro.info("tracked: the NV " + ", ".join(
            f"{a} {d * 1e9:+.2f} ± {e * 1e9:.2f}" for a, d, e in
            zip(AXES, displacement, found.error, strict=True))
            + " nm from its reference, brought back to " + ", ".join(
            f"{v * 1e9:+.2f}" for v in left) + " nm; drift estimate "
            + ", ".join(f"{v * 1e12:+.2f}" for v in estimate) + " pm/s")

    def _head_now(self) -> tuple[float, np.ndarray]:
        """The head's clock (s) and its drift compensation then (m), in one call."""
        read = self.head.read_attributes(["clock", *(f"drift_compensation_{a}" for a in AXES)])
        return float(read[0].value), np.array([r.value for r in read[1:]])

    def _set_estimate(self, velocity: np.ndarray) -> None:
        self.head.write_attributes([(f"drift_estimate_{a}", float(v))
                                    for a, v in zip(AXES, velocity, strict=True)])

    def _bring_back(self, velocity: np.ndarray, rate: float) -> np.ndarray:
        """The offset the compensation has not followed brought back while the tip waits
        between lines: the estimate raised by it over a ramp of the head's clock, then left at
        `velocity` (`rate`: the head's clock per second). Returns the offset left (m)."""
        try:
            for _ in range(RAMPS):
                clock, compensation = self._head_now()
                offset = self.tracker.offset(clock, compensation)
                if np.abs(offset).max() <= SETTLED:
                    break
                duration = max(np.abs(offset).max() / RAMP_SPEED, RAMP_WALL * rate)
                self._set_estimate(velocity + offset / duration)
                while (wait := (clock + duration - float(self.head.clock)) / rate) > 0:
                    self.macro.checkPoint()
                    time.sleep(min(wait, 0.1))
                self._set_estimate(velocity)
        finally:
            self._set_estimate(velocity)
        return self.tracker.offset(*self._head_now())

    def _probe(self, frequency: float) -> float:
        self.macro.checkPoint()
        self.runner.tune("mw", frequency)
        signal, reference = self.runner.run(self.repetitions)[:2]
        return signal / reference

    def getStepExtraInfo(self) -> dict[str, float]:
        """The point's columns: the head's drift estimate, the last displacement found and its
        error."""
        last = self.tracker.log[-1]
        estimate = last.estimate if len(self.tracker.log) > 1 else np.zeros(3)
        return {f"{column}_{a}": float(v)
                for column, values in (("drift_estimate", estimate), ("tracked", last.displacement),
                                       ("tracked_error", last.error))
                for a, v in zip(AXES, values, strict=True)}

    def __call__(self) -> None:
        """As a pre-acq hook: nothing to do, its columns come from getStepExtraInfo."""
