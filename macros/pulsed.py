"""Point measurements on the sensor NV as Sardana step scans: nvmode, and odmr, rabi, ramsey,
echo, t1, deer, deer_tau over it.

`nvmode <measurement>` chooses what the NV counter (`signal`, `reference`, pseudo counter
`ratio`; measurement group `mg_nv`) plays: the controller attribute `measurement` of the
sequence-parameter controller, whose motors are the sequence's free times (`tau`, `mw_pulse`)
and pulse lengths (`mw_pi`, `mw_pi_half`, `rf_pi`, from env `NanomriPulses`). Then any stock
scan is an NV measurement, e.g. `ascan tau 0 2e-6 40 -100000` (a negative integration time is
that many repetitions). Each macro here is that: nvmode, a step scan of its motor on `mg_nv`
(hooks, pause, showscan, the recorders), and its fit (`nanomri.analysis.fits`) printed at the
end.
"""

from dataclasses import replace

import numpy as np
from sardana.macroserver.macro import Macro, Type

from nanomri import nv_sequences as sq
from nanomri.analysis import fits
from nanomri.clients.nv_measurement import TIME_MOTORS, mntgrp, select
from nanomri.clients.nv_scan import NVScan

CONTINUOUS = "--continuous"


class nvmode(Macro):
    """Choose the NV measurement that mg_nv's counter plays: its sequence is uploaded now and
    again whenever a time (tau, mw_pulse, mw_pi, mw_pi_half, rf_pi) moves."""

    param_def = [["measurement", Type.String, None, f"one of {', '.join(sq.MEASUREMENTS)}"]]

    def run(self, measurement):
        select(self, measurement)
        group = mntgrp(self)
        self.output(f"NV measurement {measurement}: count with {group} (e.g. `senv ActiveMntGrp "
                    f"{group}`; a negative integration time is a number of repetitions)")


class _NVSweep(NVScan):
    """A step scan of one motor measuring `measurement`, its fit at the end."""

    measurement = ""  # what nvmode would choose
    motor = ""  # the motor swept

    param_def = [["start", Type.Float, None, "first value"],
                 ["end", Type.Float, None, "last value"],
                 ["n", Type.Integer, None, "points"],
                 ["repetitions", Type.Integer, 100000, "repetitions of the sequence per point"]]

    def prepare(self, start, end, n, repetitions, **opts):
        self._sweep(start, end, n, repetitions, {})

    def _sweep(self, start: float, end: float, n: int, repetitions: int,
               moves: dict[str, float], hardware: str = "") -> None:
        """The scan; with `hardware`, the role of the generator whose sweep the sequencer
        steps instead."""
        self.setup_axes([[self.getMoveable(self.motor), start, end, n]], repetitions)
        select(self, self.measurement, {**moves, self.motor: start})
        if hardware:
            self.make_sweep(hardware)
        else:
            self.make_scan()

    def getTimeEstimation(self) -> float:
        """The time the sequences play (repetitions x length at each point), without moves."""
        times = sq.Times(**{f: self.getMoveable(m).getPosition()
                            for f, m in TIME_MOTORS.items()})
        field = {m: f for f, m in TIME_MOTORS.items()}.get(self.motor)
        lengths = [sq.measurement(self.measurement, replace(times, **{field: v}) if field
                                  else times).length for v in self.axes[0]]
        return -self.integ_time * float(np.sum(lengths))

    def run(self, *args):
        yield from super().run(*args)
        self._report()

    def column(self, label: str) -> np.ndarray:
        """A column of the scan's records by its label (motor or channel alias)."""
        names = {d.label: d.name for d in self.gscan.data.getEnviron()["datadesc"]}
        return np.array([r.data.get(names[label], np.nan) for r in self.gscan.data.records],
                        dtype=float)

    def _report(self) -> None:
        name = self.getName()
        try:
            result = fits.FOR_MACRO[name][0](self.column(self.motor), self.column("ratio"))
        except (ValueError, RuntimeError) as exc:
            self.warning(f"no fit: {exc}")
            return
        self.output(f"fit: {result.describe(fits.FOR_MACRO[name][1])}")
        self.fitted(result)

    def fitted(self, result: fits.Fit) -> None:
        """What a measurement says of its fit beyond it."""


class odmr(_NVSweep):
    """ODMR: the MW frequency swept (Hz) with a pi pulse per repetition (`pulsed`, default) or
    laser and MW on together (`cw`); a dip at the NV's resonance. `--continuous` sweeps the MW
    generator in hardware, stepped by the sequencer after each point's repetitions (the whole
    sweep played in passes, the counter binning the points): no software cost per point, and
    no per-point hooks."""

    param_def = _NVSweep.param_def + [
        ["mode", Type.String, "pulsed", "pulsed or cw"],
        ["timing", Type.String, "step", "step, or --continuous: swept in hardware"]]
    motor = "mw_frequency"

    def prepare(self, start, end, n, repetitions, mode, timing, **opts):
        if mode == CONTINUOUS:  # `odmr ... 100000 --continuous`
            mode, timing = "pulsed", CONTINUOUS
        if mode not in ("pulsed", "cw"):
            raise ValueError(f"mode must be pulsed or cw, got {mode!r}")
        if timing not in ("step", CONTINUOUS):
            raise ValueError(f"timing must be step or {CONTINUOUS}, got {timing!r}")
        self.measurement = "odmr" if mode == "pulsed" else "cwodmr"
        self._sweep(start, end, n, repetitions, {}, hardware="mw" if timing != "step" else "")


class rabi(_NVSweep):
    """Rabi: the MW pulse length swept (s, motor mw_pulse) at the set frequency and power."""

    measurement, motor = "rabi", "mw_pulse"

    def fitted(self, result):
        self.output(f"pi pulse {1 / (2 * result['frequency']):.4g} s")


class ramsey(_NVSweep):
    """Ramsey: the free time between two pi/2 pulses swept (s): fringes at the detuning."""

    measurement, motor = "ramsey", "tau"


class echo(_NVSweep):
    """Hahn echo: tau swept (s, centre to centre); the coherence decays with T2."""

    measurement, motor = "echo", "tau"


class t1(_NVSweep):
    """T1: the dark time after pumping swept (s, motor tau); the polarisation decays with T1."""

    measurement, motor = "t1", "tau"


class deer(_NVSweep):
    """DEER spectrum: the RF frequency swept (Hz) at a fixed echo tau; dark spins show as a
    dip where the RF flips them."""

    param_def = (_NVSweep.param_def[:3] + [["tau", Type.Float, None, "echo tau (s)"]]
                 + _NVSweep.param_def[3:])
    measurement, motor = "deer", "rf_frequency"

    def prepare(self, start, end, n, tau, repetitions, **opts):
        self._sweep(start, end, n, repetitions, {"tau": tau})


class deer_tau(_NVSweep):
    """DEER in time: tau swept (s) with the RF pi pulse at the set RF frequency; a coherently
    coupled dark spin oscillates at its coupling."""

    measurement, motor = "deer", "tau"
