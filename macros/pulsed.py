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

import numpy as np
from sardana.macroserver.macro import Macro, Type
from sardana.macroserver.macros.scan import aNscan

from nanomri.analysis import fits
from nanomri.clients.nv_measurement import TIME_MOTORS, mntgrp, select
from nanomri.scan_axes import positions
from nanomri.sequences import MEASUREMENTS, Times, measurement


class nvmode(Macro):
    """Choose the NV measurement that mg_nv's counter plays: its sequence is uploaded now and
    again whenever a time (tau, mw_pulse, mw_pi, mw_pi_half, rf_pi) moves."""

    param_def = [["measurement", Type.String, None, f"one of {', '.join(MEASUREMENTS)}"]]

    def run(self, measurement):
        select(self, measurement)
        group = mntgrp(self)
        self.output(f"NV measurement {measurement}: count with {group} (e.g. `senv ActiveMntGrp "
                    f"{group}`; a negative integration time is a number of repetitions)")


class _NVSweep(aNscan, Macro):
    """A step scan of one motor on the NV measurement group, its fit at the end."""

    env = ("ActiveMntGrp",)
    measurement = ""  # what nvmode would choose
    motor = ""  # the motor swept

    param_def = [["start", Type.Float, None, "first value"],
                 ["end", Type.Float, None, "last value"],
                 ["n", Type.Integer, None, "points"],
                 ["repetitions", Type.Integer, 100000, "repetitions of the sequence per point"]]

    def prepare(self, start, end, n, repetitions, **opts):
        self._sweep(start, end, n, repetitions, {}, **opts)

    def _sweep(self, start: float, end: float, n: int, repetitions: int,
               moves: dict[str, float], **opts) -> None:
        positions(self.motor, start, end, n)
        if repetitions < 1:
            raise ValueError(f"repetitions must be at least 1, got {repetitions}")
        select(self, self.measurement, {**moves, self.motor: start})
        self._prepare([self.getMoveable(self.motor)], [start], [end], n - 1, -repetitions,
                      **opts)

    def getEnv(self, key=None, macro_name=None, door_name=None):
        """The scan counts with the NV measurement group (env NanomriNVMntGrp, else mg_nv)."""
        if key == "ActiveMntGrp":
            return mntgrp(self)
        return super().getEnv(key, macro_name, door_name)

    def getTimeEstimation(self) -> float:
        """The time the sequences play (repetitions x length at each point), without moves."""
        times = Times(**{f: self.getMoveable(m).getPosition() for f, m in TIME_MOTORS.items()})
        field = {m: f for f, m in TIME_MOTORS.items()}.get(self.motor)
        values = np.linspace(self.starts[0], self.finals[0], self.nb_points)
        lengths = [measurement(self.measurement, Times(**{**vars(times), field: v})).length
                   if field else measurement(self.measurement, times).length for v in values]
        return -self.integ_time * float(np.sum(lengths))

    def run(self, *args):
        yield from self._gScan.step_scan()
        self._report()

    def column(self, label: str) -> np.ndarray:
        """A column of the scan's records by its label (motor or channel alias)."""
        names = {d.label: d.name for d in self._gScan.data.getEnviron()["datadesc"]}
        return np.array([r.data.get(names[label], np.nan) for r in self._gScan.data.records],
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
    laser and MW on together (`cw`); a dip at the NV's resonance."""

    param_def = _NVSweep.param_def + [["mode", Type.String, "pulsed", "pulsed or cw"]]
    motor = "mw_frequency"

    def prepare(self, start, end, n, repetitions, mode, **opts):
        if mode not in ("pulsed", "cw"):
            raise ValueError(f"mode must be pulsed or cw, got {mode!r}")
        self.measurement = "odmr" if mode == "pulsed" else "cwodmr"
        self._sweep(start, end, n, repetitions, {}, **opts)


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
        self._sweep(start, end, n, repetitions, {"tau": tau}, **opts)


class deer_tau(_NVSweep):
    """DEER in time: tau swept (s) with the RF pi pulse at the set RF frequency; a coherently
    coupled dark spin oscillates at its coupling."""

    measurement, motor = "deer", "tau"
