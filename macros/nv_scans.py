"""NV measurements over the positions of a scan head or stage: `nvline`, `nvraster`, `xyz`
(lines, planes and stacks of any motors) and `freqlock` (the MW locked to the NV).

At every pixel the motors move and settle, then the mode's sequence (loaded once) plays
`repetitions` times, photons counted per gate; the pixel's value is the signal gate over the
pumped reference. Modes (`nanomri.sequences`): `t1` (dark time tau after pumping: ferritin's T1
contrast, seed 000), `ramsey` (tau between pi/2 pulses: the fringes of a magnetic tip, seed
001), `echo`, `deer` (echo with the RF pi pulse on the dark spins: the tip's resonant slice),
`cwesr` (laser and MW on for tau, then MW off: the CW resonant slice). One NeXus file per scan,
an image for a plane; an abort leaves the instruments safe and the lines done readable. With
env `NanomriRefocus` set (s), the confocal spot is refocused on the NV between lines at most
that often, against the sample's drift (macros/focus.py). With env `NanomriLeapfrog` set (m),
the scan head hops between pixels: it lifts the tip by that height, moves and lands again on
the feedback's setpoint (seed 000: the section is not dragged over the diamond); the probe's
own leapfrog height is restored at the end.
"""

import time
from contextlib import contextmanager
from datetime import timedelta

import numpy as np
from sardana.macroserver.macro import Macro, Type

from nanomri import sequences as sq
from nanomri.clients import snapshot
from nanomri.clients.focus import refocus_with
from nanomri.clients.macro_files import count_values, env_or, open_scan_file, pulses
from nanomri.clients.sequence_runner import SequenceRunner, device_proxy
from nanomri.frequency_lock import FrequencyLock, Line
from nanomri.nexus import COUNTER, MOTOR, Column, Raster
from nanomri.sequence import Sequence

MODES = {
    "t1": lambda tau, p: sq.t1(tau),
    "ramsey": lambda tau, p: sq.ramsey(tau, p["pi_half"]),
    "echo": lambda tau, p: sq.echo(tau, p["pi_half"], p["pi"]),
    "deer": lambda tau, p: sq.deer(tau, p["pi_half"], p["pi"], p["rf_pi"]),
    "cwesr": lambda tau, p: sq.cw_odmr(tau),
}
TAIL = [["mode", Type.String, None, f"measurement: {', '.join(MODES)}"],
        ["tau", Type.Float, None, "the mode's time (s): dark time, free time, echo tau, CW dwell"],
        ["repetitions", Type.Integer, 20000, "repetitions of the sequence per pixel"]]
REFOCUS_ENV = "NanomriRefocus"  # s between refocusings on the NV during a scan; 0 or unset: never
LEAPFROG_ENV = "NanomriLeapfrog"  # m the scan head lifts the tip between pixels; 0 or unset: none
LOCK_ONLY = "lock"  # freqlock's mode that measures nothing more (Sardana reads "none" as unset)
LOCK_SWEEP_POINTS = 61  # of freqlock's first ODMR sweep


def positions(name: str, start: float, end: float, n: int) -> np.ndarray:
    if not (np.isfinite(start) and np.isfinite(end)) or n < 2 or end == start:
        raise ValueError(f"{name}: need finite, distinct start and end and n >= 2, got "
                         f"{start}, {end}, {n}")
    return np.linspace(start, end, n)


class _NVScan(Macro):
    """The pixel loop of the NV scans: motors moved to each pixel (the last axis fastest),
    `measure` taken there, one file row per pixel."""

    env = (snapshot.INSTRUMENTS_ENV, "ScanDir")
    extra_columns: list[Column] = []

    def _setup_axes(self, axes: list[list], repetitions: int) -> None:
        """`axes`: [motor, start, end, n] per axis, slowest first."""
        if not 1 <= len(axes) <= 3:
            raise ValueError(f"give 1 to 3 axes, got {len(axes)}")
        if repetitions < 1:
            raise ValueError(f"repetitions must be at least 1, got {repetitions}")
        motors = [a[0] for a in axes]
        names = [m.getName() for m in motors]
        if len(set(names)) != len(names):
            raise ValueError(f"the motors must differ, got {', '.join(names)}")
        self.motors, self.repetitions = motors, repetitions
        self.axes = [positions(f"axis {name}", *a[1:]) for name, a in zip(names, axes,
                                                                           strict=True)]
        self.devices = dict(self.getEnv(snapshot.INSTRUMENTS_ENV))
        self.runner = SequenceRunner(self.devices, self.checkPoint)

    def _mode_sequence(self, mode: str, tau: float) -> Sequence:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if not np.isfinite(tau) or tau <= 0:
            raise ValueError(f"tau must be a positive time, got {tau}")
        return MODES[mode](tau, pulses(self))

    def _setup(self, axes: list[list], mode: str, tau: float, repetitions: int) -> None:
        self.sequence = self._mode_sequence(mode, tau)
        self._setup_axes(axes, repetitions)

    def _pixels(self) -> list[tuple[float, ...]]:
        """Motor positions of every pixel, the last axis fastest."""
        grids = np.meshgrid(*self.axes, indexing="ij")
        return list(zip(*(g.ravel() for g in grids), strict=True))

    def _raster(self) -> Raster | None:
        if len(self.axes) != 2:
            return None
        return Raster(self.motors[1].getName(), self.motors[0].getName(), self.axes[1],
                      self.axes[0])

    @contextmanager
    def _leapfrog(self):
        """The scan head hopping between pixels for the scan, if env NanomriLeapfrog asks."""
        height = float(env_or(self, LEAPFROG_ENV, 0.0))
        if not height:
            yield
            return
        if "probe" not in self.devices:
            raise ValueError(f"{LEAPFROG_ENV} is set but {snapshot.INSTRUMENTS_ENV} has no probe")
        probe = device_proxy(self.devices["probe"])
        before = probe.leapfrog_height
        probe.leapfrog_height = height  # the device refuses a height beyond its range
        self.output(f"leapfrog: the tip hops {height * 1e9:.3g} nm between pixels")
        try:
            yield
        finally:
            probe.leapfrog_height = before

    def measure(self) -> dict[str, float]:
        """The pixel's values: the mode's sequence played, its gates counted."""
        signal, reference = self.runner.run(self.repetitions)[:2]
        return count_values(signal, reference)

    def run(self, *args):
        with self._leapfrog():  # refused before a file exists
            yield from self._scan()

    def _scan(self):
        pixels = self._pixels()
        columns = [Column(m.getName(), m.getName(), "", MOTOR) for m in self.motors]
        file = open_scan_file(self, self.devices, columns + self.extra_columns, len(pixels),
                              self._raster())
        with self.runner.session(file):
            self.runner.load(self.sequence)
            line = len(self.axes[-1])
            last = (None,) * len(self.motors)
            started = focused = time.monotonic()
            every = float(env_or(self, REFOCUS_ENV, 0.0))
            for i, where in enumerate(pixels):
                self.checkPoint()
                for motor, position, before in zip(self.motors, where, last, strict=True):
                    if position != before:  # a slow axis moves once a line
                        motor.move(position)
                last = where
                file.write_point(i, {"point_nb": i, **self.measure(),
                                     **{m.getName(): p for m, p in zip(self.motors, where,
                                                                       strict=True)}})
                if (i + 1) % line == 0:
                    left = (time.monotonic() - started) * (len(pixels) / (i + 1) - 1)
                    self.output(f"line {(i + 1) // line} of {len(pixels) // line} done, "
                                f"{timedelta(seconds=round(left))} left")
                    if every and time.monotonic() - focused >= every and i + 1 < len(pixels):
                        refocus_with(self, self.runner)  # against drift, between lines
                        focused = time.monotonic()
                yield 100.0 * (i + 1) / len(pixels)


AXIS = [["motor", Type.Moveable, None, "motor of this axis"],
        ["start", Type.Float, None, "first position"],
        ["end", Type.Float, None, "last position"],
        ["n", Type.Integer, None, "pixels"]]
AXES = ["axes", AXIS, None, "1 to 3 axes, slowest first (a stack: the plane's axis first)",
        {"min": 1, "max": 3}]


class nvline(_NVScan):
    """A line of NV measurements along `motor` (e.g. the tip's x for Ramsey fringes)."""

    param_def = [*AXIS, *TAIL]

    def prepare(self, motor, start, end, n, mode, tau, repetitions):
        self._setup([[motor, start, end, n]], mode, tau, repetitions)


class nvraster(_NVScan):
    """An image of NV measurements: `fast` along each line, `slow` between lines."""

    param_def = [["fast", Type.Moveable, None, "motor along each line"],
                 ["fast_start", Type.Float, None, "first pixel of a line"],
                 ["fast_end", Type.Float, None, "last pixel of a line"],
                 ["fast_n", Type.Integer, None, "pixels per line"],
                 ["slow", Type.Moveable, None, "motor between lines"],
                 ["slow_start", Type.Float, None, "first line"],
                 ["slow_end", Type.Float, None, "last line"],
                 ["slow_n", Type.Integer, None, "lines"], *TAIL]

    def prepare(self, fast, fast_start, fast_end, fast_n, slow, slow_start, slow_end, slow_n,
                mode, tau, repetitions):
        self._setup([[slow, slow_start, slow_end, slow_n], [fast, fast_start, fast_end, fast_n]],
                    mode, tau, repetitions)


class xyz(_NVScan):
    """NV measurements over a line, a plane (xy, xz, yz) or a stack of planes of any motors,
    e.g. `xyz deer 2e-6 20000 tip_z 30e-9 40e-9 6 tip_y ... tip_x ...`."""

    param_def = [*TAIL, AXES]

    def prepare(self, mode, tau, repetitions, axes):
        self._setup(axes, mode, tau, repetitions)


class freqlock(_NVScan):
    """The MW frequency locked to the NV's resonance at every pixel (seed 001): the tip's
    field on the NV as a map of the locked frequency (column mw_frequency, NaN where the dip
    was lost), and, with the NV kept on resonance, a measurement `mode` at each pixel (e.g.
    deer: the dark-spin image and its PSF map in one scan; `lock` records the lock's last
    probe). An ODMR sweep of `span` around `frequency` at the first pixel finds the line;
    each pixel then probes its two flanks `steps` times at most (`nanomri.frequency_lock`;
    one step is a lock-in's tracking: the flanks give the offset). CW ODMR (laser and MW on
    for `CW_DWELL`, then off) counts ~8x the photons of pulsed ODMR per second; pulsed gives
    the narrower line."""

    param_def = [["frequency", Type.Float, None, "MW frequency (Hz) near the NV's resonance"],
                 ["span", Type.Float, None, "Hz of the first pixel's ODMR sweep"],
                 ["odmr", Type.String, None, "cw or pulsed"],
                 ["repetitions", Type.Integer, None, "repetitions per probe"],
                 ["steps", Type.Integer, None, "probes of both flanks per pixel, at most"],
                 ["mode", Type.String, None,
                  f"measured once locked: {LOCK_ONLY} (nothing more), {', '.join(MODES)}"],
                 ["tau", Type.Float, None, "the mode's time (s)"],
                 ["mode_repetitions", Type.Integer, None, "repetitions of the mode"], AXES]
    extra_columns = [Column("mw_frequency", "mw_frequency", "Hz", COUNTER),
                     Column("lock_steps", "lock_steps", "", COUNTER),
                     Column("lock_searched", "lock_searched", "", COUNTER)]

    def prepare(self, frequency, span, odmr, repetitions, steps, mode, tau, mode_repetitions,
                axes):
        if not (np.isfinite(frequency) and np.isfinite(span) and span > 0):
            raise ValueError(f"need a finite frequency and a positive span, got {frequency}, "
                             f"{span}")
        if odmr not in ("cw", "pulsed"):
            raise ValueError(f"odmr must be cw or pulsed, got {odmr!r}")
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        if mode != LOCK_ONLY and mode_repetitions < 1:
            raise ValueError(f"mode_repetitions must be at least 1, got {mode_repetitions}")
        self.mode_sequence = None if mode == LOCK_ONLY else self._mode_sequence(mode, tau)
        self.mode_repetitions = mode_repetitions
        self._setup_axes(axes, repetitions)
        self.sequence = (sq.cw_odmr(sq.CW_DWELL) if odmr == "cw"
                         else sq.pulsed_odmr(pulses(self)["pi"]))
        self.first_sweep = frequency + np.linspace(-span / 2, span / 2, LOCK_SWEEP_POINTS)
        self.steps, self.lock = steps, None
        self.probed = (np.nan, np.nan)

    def probe(self, frequency: float) -> float:
        """The signal/reference ratio with the MW at `frequency`."""
        self.checkPoint()
        self.runner.tune("mw", frequency)
        self.probed = tuple(self.runner.run(self.repetitions)[:2])
        return self.probed[0] / self.probed[1]

    def measure(self) -> dict[str, float]:
        if self.lock is None:
            ratios = np.array([self.probe(f) for f in self.first_sweep])
            line = Line.fitted(self.first_sweep, ratios)
            self.output(f"NV line at {line.centre:.6g} Hz, FWHM {2 * line.hwhm:.3g} Hz, "
                        f"depth {line.depth:.3f}: locking")
            self.lock = FrequencyLock(line, max_steps=self.steps)
        result = self.lock.follow(self.probe)
        counts = self.probed
        if self.mode_sequence is not None:
            counts = (np.nan, np.nan)
            if np.isfinite(result.frequency):  # the NV on resonance: the mode means something
                self.runner.tune("mw", result.frequency)
                self.runner.load(self.mode_sequence)
                counts = tuple(self.runner.run(self.mode_repetitions)[:2])
                self.runner.load(self.sequence)
        return {"mw_frequency": result.frequency, "lock_steps": result.steps,
                "lock_searched": float(result.searched), **count_values(*counts)}
