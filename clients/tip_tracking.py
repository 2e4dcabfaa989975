"""Tracking the sample's drift during an NV scan with the tip (env NanomriTrack): between lines,
every `every` s, the tip re-registered on the NV's field pattern (a small map of the NV's
locked resonance around its reference place, fitted with the tip's calibrated dipole and the
moment the finder measured), and the scan head's drift estimate set from the registrations
(`nanomri.drift_tracking`). The scan's coordinates so stay in the sample's frame; every point
of the file carries the estimate and the last registration's displacement.

The settings are what the experimenter measured before the scan (cli/nv_finder.track_settings
builds them from what it found): the NV's place under the tip (head frame), when (the head's
clock) and the head's drift compensation then, the surface's z over it, the tip's moment and
calibration, the NV axis, the bare resonance and bias field, the CW ODMR line, and the map.
"""

import time
from collections.abc import Mapping

import numpy as np

from nanomri.analysis import localize as lz
from nanomri.analysis import nv_position as nvp
from nanomri.drift_tracking import DriftTracker, Registration
from nanomri.frequency_lock import FrequencyLock, Line
from nanomri.magnetic_tip import dipole_field

from .nv_measurement import measurement, set_measurement
from .sequence_runner import device_proxy

TRACK_ENV = "NanomriTrack"
AXES = ("x", "y", "z")
TIP_MOTORS = ("tip_x", "tip_y", "tip_z")
REQUIRED = ("every", "nv", "error", "clock", "wall", "compensation", "surface", "moment",
            "tip_offset", "moment_direction", "nv_axis", "bare", "bias", "line")
DEFAULTS = {"lateral": [-8e-9, 0.0, 8e-9], "height": 40e-9, "repetitions": 5000, "steps": 3}
MISSES = 2  # registrations in a row beyond the map's reach that stop the macro
KEPT = 64  # registrations the environment keeps (its "log", replayed by the next tracker)
PROBE = "cwodmr"  # the lock's probe: CW ODMR counts ~8x the photons of pulsed per second


def _vector(settings: Mapping, key: str) -> np.ndarray:
    value = np.asarray(settings[key], dtype=float)
    if value.shape != (3,) or not np.all(np.isfinite(value)):
        raise ValueError(f"{TRACK_ENV}['{key}'] must be 3 finite numbers, got "
                         f"{settings[key]!r}")
    return value


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
        self.reference = _vector(settings, "nv")
        self.offset, self.axis = _vector(settings, "tip_offset"), _vector(settings, "nv_axis")
        self.direction = _vector(settings, "moment_direction")
        self.moment, self.surface = float(settings["moment"]), float(settings["surface"])
        self.bare, self.bias = float(settings["bare"]), float(settings["bias"])
        self.lateral = np.asarray(settings["lateral"], dtype=float)
        self.height = float(settings["height"])
        self.repetitions, steps = int(settings["repetitions"]), int(settings["steps"])
        if len(self.lateral) < 2 or not self.height > 0 or self.repetitions < 1 or steps < 1:
            raise ValueError(f"{TRACK_ENV}: the map needs 2 or more lateral pixels, a positive "
                             f"height, repetitions and steps; got {self.lateral.tolist()}, "
                             f"{self.height}, {self.repetitions}, {steps}")
        hwhm, depth, baseline = (float(v) for v in settings["line"])
        self.lock = FrequencyLock(Line(self.bare, hwhm, depth, baseline), max_steps=steps)
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
                                  _vector(settings, "compensation"), self.every)
        self.place = self.reference + self.tracker.log[-1].displacement
        self.last = (wall, clock)
        self.misses = 0

    def due(self) -> bool:
        """True once `every` s have passed since the last registration (or the scan's start)."""
        return time.time() - self.last[0] >= self.every

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
            grid = self._map(tips)
        finally:
            tips.move(where)
            runner.tune("mw", kept[0])
            laser.mode, laser.emission = kept[1], kept[2]
            set_measurement(macro, kept[3])
        found = nvp.nv_under_tip(grid, self.offset, self.direction, self.axis, self.place,
                                 moment=self.moment)
        moved = found.position - self.place
        reach = np.abs(self.lateral).max()
        if np.any(np.abs(moved) > reach) or np.any(found.error > reach / 4):
            self.misses += 1
            what = (f"a registration {np.round(moved * 1e9, 2)} nm from where the NV was "
                    f"(errors {np.round(found.error * 1e9, 2)} nm) is beyond the map's reach "
                    f"of {reach * 1e9:.3g} nm; the lock lost {np.isnan(grid.values).sum()} "
                    f"of its {grid.values.size} pixels, field "
                    f"{np.array2string(grid.values.ravel() * 1e3, precision=2)} mT")
            if self.misses >= MISSES:
                raise RuntimeError(f"tracking lost the NV: {what}, {self.misses} times in a "
                                   "row; find it again (cli/nv_finder) and set NanomriTrack")
            macro.warning(f"tracking: {what}: kept out, the drift estimate left as it was")
            return
        self.misses = 0
        wall = time.time()
        read = self.head.read_attributes(["clock", *(f"drift_compensation_{a}" for a in AXES)])
        clock, compensation = float(read[0].value), np.array([r.value for r in read[1:]])
        rate = (clock - self.last[1]) / (wall - self.last[0])  # the head's clock per second
        displacement = found.position - self.reference
        # until the next registration: `every` s, or as long as the last interval if longer
        horizon = max(self.every * rate, clock - self.last[1])
        estimate = self.tracker.register(clock, displacement, found.error, compensation, horizon)
        for a, v in zip(AXES, estimate, strict=True):
            self.head.write_attribute(f"drift_estimate_{a}", float(v))
        self.place, self.last = found.position, (wall, clock)
        macro.setEnv(TRACK_ENV, {**self.kept, "last": list(self.last),
                                 "log": [r.as_dict() for r in self.tracker.log[-KEPT:]]})
        macro.info("tracked: the NV " + ", ".join(
            f"{a} {d * 1e9:+.2f} ± {e * 1e9:.2f}" for a, d, e in
            zip(AXES, displacement, found.error, strict=True))
            + " nm from its reference; drift estimate "
            + ", ".join(f"{v * 1e12:+.2f}" for v in estimate) + " pm/s")

    def _map(self, tips) -> lz.Grid:
        """The tip's field on the NV axis (T) over the map's pixels around the NV's place,
        `height` over the surface as it moved with the NV, the tip moved by the motion
        `tips`."""
        xs, ys = self.place[0] + self.lateral, self.place[1] + self.lateral
        zs = np.array([self.surface + self.place[2] - self.reference[2] + self.height])
        values = np.full((len(xs), len(ys), 1), np.nan)
        for i, x in enumerate(xs):
            for j, y in (enumerate(ys) if i % 2 == 0 else reversed(list(enumerate(ys)))):
                tips.move([float(x), float(y), float(zs[0])])
                # the lock starts where the NV's last place puts the line: pixels 8 nm apart
                # differ by tens of MHz, the last place is good to some tenths of a nm
                self.lock.frequency = float(self._expected(np.array([x, y, zs[0]])))
                values[i, j, 0] = self.lock.follow(self._probe).frequency
        return lz.Grid((xs, ys, zs), lz.field_from_lock(values, self.bare, self.bias))

    def _expected(self, tip: np.ndarray) -> float:
        """The NV's resonance (Hz) with the apex at `tip`, the NV where it was last found."""
        field = dipole_field(self.place[None], (tip + self.offset)[None],
                             (self.moment * self.direction / np.linalg.norm(self.direction))[None])
        return float(lz.lock_from_field(field[0] @ (self.axis / np.linalg.norm(self.axis)),
                                        self.bare, self.bias))

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
