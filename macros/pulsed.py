"""Point measurements on the sensor NV: odmr, rabi, ramsey, echo, t1, deer, deer_tau.

Each sweeps one thing — the MW or RF frequency, or a time of its sequence (`nanomri.sequences`)
— and at each point plays the sequence `repetitions` times on the sequencer, the laser gated
by it, the photon counter armed in SEQUENCE mode: gate 0 reads the spin the pulses left, gate 1
the pumped ms=0 reference, and their ratio is the signal. One NeXus file per sweep, written
point by point; the fit (`nanomri.analysis.fits`) is printed at the end. Pulse lengths come from
env `NanomriPulses` (pi, pi_half, rf_pi in s), the devices from env `NanomriInstruments`.
An abort leaves the instruments safe (macros/safety.py) and the file readable.
"""

import numpy as np
from sardana.macroserver.macro import Macro, Type

from nanomri import sequences as sq
from nanomri.analysis import fits
from nanomri.clients import snapshot
from nanomri.clients.macro_files import count_values, open_scan_file, pulses
from nanomri.clients.sequence_runner import SequenceRunner
from nanomri.nexus import MOTOR, Column


class _Sweep(Macro):
    """The point loop of every measurement here; a subclass says what one point plays."""

    env = (snapshot.INSTRUMENTS_ENV, "ScanDir")
    quantity, units = "x", ""

    def sequence(self, value: float):
        """The sequence of the point at `value` of the sweep (and settings it needs)."""
        raise NotImplementedError

    def fit(self, x: np.ndarray, y: np.ndarray) -> fits.Fit:
        """The fit of this measurement (`nanomri.analysis.fits.FOR_MACRO`)."""
        return fits.FOR_MACRO[self.getName()][0](x, y)

    # --- the loop ------------------------------------------------------------------------

    def prepare(self, start, end, n, repetitions):
        self._prepare_sweep(start, end, n, repetitions)

    def _prepare_sweep(self, start: float, end: float, n: int, repetitions: int) -> None:
        if not (np.isfinite(start) and np.isfinite(end)) or n < 2:
            raise ValueError(f"{self.quantity}: need finite start and end and n >= 2, got "
                             f"{start}, {end}, {n}")
        if repetitions < 1:
            raise ValueError(f"repetitions must be at least 1, got {repetitions}")
        self.values = np.linspace(start, end, n)
        self.repetitions = repetitions
        self.devices = dict(self.getEnv(snapshot.INSTRUMENTS_ENV))
        self.runner = SequenceRunner(self.devices, self.checkPoint)
        self.pulses = pulses(self)

    def run(self, *args):
        data = np.full((len(self.values), 2), np.nan)
        file = open_scan_file(self, self.devices,
                              [Column(self.quantity, self.quantity, self.units, MOTOR)],
                              len(self.values))
        with self.runner.session(file):
            for i, value in enumerate(self.values):
                self.checkPoint()
                data[i] = self.runner.play(self.sequence(value), self.repetitions)[:2]
                file.write_point(i, {"point_nb": i, self.quantity: value,
                                     **count_values(*data[i])})
                self.output(f"{i:4d}  {value:.6g} {self.units}  {data[i, 0]:.0f} / "
                            f"{data[i, 1]:.0f} = {data[i, 0] / data[i, 1]:.4f}")
                yield 100.0 * (i + 1) / len(self.values)
        self._report(data)

    def _report(self, data: np.ndarray) -> None:
        try:
            result = self.fit(self.values, data[:, 0] / data[:, 1])
        except (ValueError, RuntimeError) as exc:
            self.warning(f"no fit: {exc}")
            return
        self.output(f"fit: {result.describe(fits.FOR_MACRO[self.getName()][1])}")


SWEEP = [["start", Type.Float, None, "first value"], ["end", Type.Float, None, "last value"],
         ["n", Type.Integer, None, "points"],
         ["repetitions", Type.Integer, 100000, "repetitions of the sequence per point"]]


class odmr(_Sweep):
    """ODMR: the MW frequency swept (Hz) with a pi pulse per repetition (`pulsed`, default) or
    laser and MW on together (`cw`); a dip at the NV's resonance."""

    param_def = SWEEP + [["mode", Type.String, "pulsed", "pulsed or cw"]]
    quantity, units = "mw_frequency", "Hz"

    def prepare(self, start, end, n, repetitions, mode):
        if mode not in ("pulsed", "cw"):
            raise ValueError(f"mode must be pulsed or cw, got {mode!r}")
        self.mode = mode
        self._prepare_sweep(start, end, n, repetitions)

    def sequence(self, value):
        self.runner.tune("mw", value)
        if self.mode == "cw":
            return sq.cw_odmr(sq.CW_DWELL)
        return sq.pulsed_odmr(self.pulses["pi"])


class rabi(_Sweep):
    """Rabi: the MW pulse length swept (s) at the set frequency and power."""

    param_def = SWEEP
    quantity, units = "duration", "s"

    def sequence(self, value):
        return sq.rabi(value)

    def fit(self, x, y):
        result = super().fit(x, y)
        self.output(f"pi pulse {1 / (2 * result['frequency']):.4g} s")
        return result


class ramsey(_Sweep):
    """Ramsey: the free time between two pi/2 pulses swept (s): fringes at the detuning."""

    param_def = SWEEP
    quantity, units = "tau", "s"

    def sequence(self, value):
        return sq.ramsey(value, self.pulses["pi_half"])


class echo(_Sweep):
    """Hahn echo: tau swept (s, centre to centre); the coherence decays with T2."""

    param_def = SWEEP
    quantity, units = "tau", "s"

    def sequence(self, value):
        return sq.echo(value, self.pulses["pi_half"], self.pulses["pi"])


class t1(_Sweep):
    """T1: the dark time after pumping swept (s); the polarisation decays with T1."""

    param_def = SWEEP
    quantity, units = "tau", "s"

    def sequence(self, value):
        return sq.t1(value)


class deer(_Sweep):
    """DEER spectrum: the RF frequency swept (Hz) at a fixed echo tau; dark spins show as a
    dip where the RF flips them."""

    param_def = SWEEP[:3] + [["tau", Type.Float, None, "echo tau (s)"]] + SWEEP[3:]
    quantity, units = "rf_frequency", "Hz"

    def prepare(self, start, end, n, tau, repetitions):
        self.tau = tau
        self._prepare_sweep(start, end, n, repetitions)
        if "rf" not in self.runner.dev:
            raise ValueError(f"{snapshot.INSTRUMENTS_ENV} has no rf generator")

    def sequence(self, value):
        self.runner.tune("rf", value)
        p = self.pulses
        return sq.deer(self.tau, p["pi_half"], p["pi"], p["rf_pi"])


class deer_tau(_Sweep):
    """DEER in time: tau swept (s) with the RF pi pulse at the set RF frequency; a coherently
    coupled dark spin oscillates at its coupling."""

    param_def = SWEEP
    quantity, units = "tau", "s"

    def sequence(self, value):
        p = self.pulses
        return sq.deer(value, p["pi_half"], p["pi"], p["rf_pi"])

