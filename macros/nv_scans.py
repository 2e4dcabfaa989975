"""NV measurements over the positions of a scan head or stage, as Sardana step scans on the NV
measurement group (mg_nv): `nvline`, `nvraster`, `xyz` (lines, planes and stacks of any motors)
and `freqlock` (the MW locked to the NV at every pixel).

At every pixel the motors move and settle, then the NV counter plays the mode's sequence
`repetitions` times (nvmode's measurements, `nanomri.nv_sequences.MEASUREMENTS`): `t1` (dark
time tau after pumping: ferritin's T1 contrast, seed 000), `ramsey` (tau between pi/2 pulses:
the fringes of a magnetic tip, seed 001), `echo`, `deer` (echo with the RF pi pulse on the dark
spins: the tip's resonant slice), `cwesr` (laser and MW on for tau, then MW off: the CW
resonant slice); the pixel's value is `ratio`, the signal gate over the pumped reference. The
scan framework gives hooks, pause and resume, the Door's records and both recorders (an image
for a plane). With env `NanomriRefocus` set (s) a post-step hook refocuses the confocal spot on
the NV between lines at most that often, against the sample's drift (macros/focus.py). With env
`NanomriLeapfrog` set (m) the scan head hops between pixels: it lifts the tip by that height,
moves and lands again on the feedback's setpoint (seed 000: the section is not dragged over the
diamond); the probe's own leapfrog height is restored at the end.
"""

import numpy as np
from sardana.macroserver.macro import Type

from nanomri.clients.nv_measurement import select, set_measurement
from nanomri.clients.nv_scan import NVScan
from nanomri.frequency_lock import FrequencyLock, Line

MODES = ("t1", "ramsey", "echo", "deer", "cwesr")
TAIL = [["mode", Type.String, None, f"measurement: {', '.join(MODES)}"],
        ["tau", Type.Float, None, "the mode's time (s): dark time, free time, echo tau, CW dwell"],
        ["repetitions", Type.Integer, 20000, "repetitions of the sequence per pixel"]]
LOCK_ONLY = "lock"  # freqlock's mode that measures nothing more (Sardana reads "none" as unset)
LOCK_SWEEP_POINTS = 61  # of freqlock's first ODMR sweep


def measure(macro: NVScan, axes: list[list], mode: str, tau: float, repetitions: int) -> None:
    """Prepare `macro`'s scan of `axes` measuring `mode` at `tau`."""
    check_mode(mode, tau)
    macro.setup_axes(axes, repetitions)
    select(macro, mode, {"tau": tau})
    macro.make_scan()


def check_mode(mode: str, tau: float) -> None:
    """Refuse a mode the NV scans do not play, or a time that is not a positive one."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not np.isfinite(tau) or tau <= 0:
        raise ValueError(f"tau must be a positive time, got {tau}")


AXIS = [["motor", Type.Moveable, None, "motor of this axis"],
        ["start", Type.Float, None, "first position"],
        ["end", Type.Float, None, "last position"],
        ["n", Type.Integer, None, "pixels"]]
AXES = ["axes", AXIS, None, "1 to 3 axes, slowest first (a stack: the plane's axis first)",
        {"min": 1, "max": 3}]


class nvline(NVScan):
    """A line of NV measurements along `motor` (e.g. the tip's x for Ramsey fringes)."""

    param_def = [*AXIS, *TAIL]

    def prepare(self, motor, start, end, n, mode, tau, repetitions, **opts):
        measure(self, [[motor, start, end, n]], mode, tau, repetitions)


class nvraster(NVScan):
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
                mode, tau, repetitions, **opts):
        measure(self, [[slow, slow_start, slow_end, slow_n], [fast, fast_start, fast_end, fast_n]],
                mode, tau, repetitions)


class xyz(NVScan):
    """NV measurements over a line, a plane (xy, xz, yz) or a stack of planes of any motors,
    e.g. `xyz deer 2e-6 20000 tip_z 30e-9 40e-9 6 tip_y ... tip_x ...`."""

    param_def = [*TAIL, AXES]

    def prepare(self, mode, tau, repetitions, axes, **opts):
        measure(self, axes, mode, tau, repetitions)


class freqlock(NVScan):
    """The MW frequency locked to the NV's resonance at every pixel (seed 001): the tip's
    field on the NV as a map of the locked frequency (column mw_frequency, NaN where the dip
    was lost), and, with the NV kept on resonance, a measurement `mode` at each pixel (e.g.
    deer: the dark-spin image and its PSF map in one scan; `lock`: the ODMR ratio on the
    locked line, `repetitions` of it). An ODMR sweep of `span` around `frequency` at the first
    pixel finds the line; each pixel then probes its two flanks `steps` times at most
    (`nanomri.frequency_lock`, a pre-acq hook; one step is a lock-in's tracking: the flanks
    give the offset). CW ODMR (laser and MW on for `CW_DWELL`, then off) counts ~8x the
    photons of pulsed ODMR per second; pulsed gives the narrower line."""

    param_def = [["frequency", Type.Float, None, "MW frequency (Hz) near the NV's resonance"],
                 ["span", Type.Float, None, "Hz of the first pixel's ODMR sweep"],
                 ["odmr", Type.String, None, "cw or pulsed"],
                 ["repetitions", Type.Integer, None, "repetitions per probe"],
                 ["steps", Type.Integer, None, "probes of both flanks per pixel, at most"],
                 ["mode", Type.String, None,
                  f"measured once locked: {LOCK_ONLY} (nothing more), {', '.join(MODES)}"],
                 ["tau", Type.Float, None, "the mode's time (s)"],
                 ["mode_repetitions", Type.Integer, None, "repetitions of the mode"], AXES]

    def prepare(self, frequency, span, odmr, repetitions, steps, mode, tau, mode_repetitions,
                axes, **opts):
        if not (np.isfinite(frequency) and np.isfinite(span) and span > 0):
            raise ValueError(f"need a finite frequency and a positive span, got {frequency}, "
                             f"{span}")
        if odmr not in ("cw", "pulsed"):
            raise ValueError(f"odmr must be cw or pulsed, got {odmr!r}")
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        locked_only = mode == LOCK_ONLY
        if not locked_only:
            check_mode(mode, tau)
            if mode_repetitions < 1:
                raise ValueError(f"mode_repetitions must be at least 1, got {mode_repetitions}")
        self.setup_axes(axes, repetitions)
        probe = "cwodmr" if odmr == "cw" else "odmr"
        measured = probe if locked_only else mode
        select(self, measured, {} if locked_only else {"tau": tau})
        if not locked_only:
            self.integ_time = -mode_repetitions
        sweep = frequency + np.linspace(-span / 2, span / 2, LOCK_SWEEP_POINTS)
        self.appendHook((LockHook(self, probe, measured, sweep, repetitions, steps),
                         ["pre-acq"]))
        self.make_scan(LockHook.COLUMNS)


class LockHook:
    """Pre-acq hook of freqlock: the NV's line found at the first pixel, then followed at
    every pixel, the MW left on it; the sequence of the pixel's measurement is loaded again
    after the probes. Its columns are the scan's extra ones; where the lock is lost it records
    the pixel's counts as NaN too: the measurement off resonance means nothing."""

    COLUMNS = ("mw_frequency", "lock_steps", "lock_searched")
    COUNTS = ("ratio", "signal", "reference")

    def __init__(self, macro: freqlock, probe: str, measured: str, sweep: np.ndarray,
                 repetitions: int, steps: int):
        self.macro, self.probe_measurement, self.measured = macro, probe, measured
        self.sweep, self.repetitions, self.steps = sweep, repetitions, steps
        self.lock: FrequencyLock | None = None
        self.found: dict[str, float] = {}

    def probe(self, frequency: float) -> float:
        """The signal/reference ratio with the MW at `frequency`."""
        runner = self.macro.runner
        self.macro.checkPoint()
        runner.tune("mw", frequency)
        signal, reference = runner.run(self.repetitions)[:2]
        return signal / reference

    def __call__(self) -> None:
        macro, runner = self.macro, self.macro.runner
        set_measurement(macro, self.probe_measurement)
        if self.lock is None:
            runner.gate_laser(True)
            ratios = np.array([self.probe(f) for f in self.sweep])
            line = Line.fitted(self.sweep, ratios)
            macro.output(f"NV line at {line.centre:.6g} Hz, FWHM {2 * line.hwhm:.3g} Hz, "
                         f"depth {line.depth:.3f}: locking")
            self.lock = FrequencyLock(line, max_steps=self.steps)
        result = self.lock.follow(self.probe)
        if np.isfinite(result.frequency):  # the NV on resonance: the mode means something
            runner.tune("mw", result.frequency)
        set_measurement(macro, self.measured)
        self.found = {"mw_frequency": result.frequency, "lock_steps": float(result.steps),
                      "lock_searched": float(result.searched)}
        if not np.isfinite(result.frequency):
            self.found |= dict.fromkeys(self._count_columns(), np.nan)

    def _count_columns(self) -> list[str]:
        """The record keys of the NV counts (channels are recorded by their full names)."""
        descs = self.macro.gscan.data.getEnviron()["datadesc"]
        return [d.name for d in descs if d.label in self.COUNTS]

    def getStepExtraInfo(self) -> dict[str, float]:
        return self.found

