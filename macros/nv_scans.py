"""NV measurements over the positions of a scan head or stage: `nvline` and `nvraster`.

At every pixel the motors move and settle, then the mode's sequence (loaded once) plays
`repetitions` times, photons counted per gate; the pixel's value is the signal gate over the
pumped reference. Modes (`nanomri.sequences`): `t1` (dark time tau after pumping: ferritin's T1
contrast, seed 000), `ramsey` (tau between pi/2 pulses: the fringes of a magnetic tip, seed
001), `echo`, `deer` (echo with the RF pi pulse on the dark spins: the tip's resonant slice),
`cwesr` (laser and MW on for tau, then MW off: the CW resonant slice). One NeXus file per scan,
an image for `nvraster`; an abort leaves the instruments safe and the lines done readable.
"""

import numpy as np
from sardana.macroserver.macro import Macro, Type

from nanomri import sequences as sq
from nanomri.clients import snapshot
from nanomri.clients.macro_files import count_values, open_scan_file, pulses
from nanomri.clients.sequence_runner import SequenceRunner
from nanomri.nexus import MOTOR, Column, Raster

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


def positions(name: str, start: float, end: float, n: int) -> np.ndarray:
    if not (np.isfinite(start) and np.isfinite(end)) or n < 2 or end == start:
        raise ValueError(f"{name}: need finite, distinct start and end and n >= 2, got "
                         f"{start}, {end}, {n}")
    return np.linspace(start, end, n)


class _NVScan(Macro):
    """The pixel loop of `nvline` and `nvraster`."""

    env = (snapshot.INSTRUMENTS_ENV, "ScanDir")

    def _setup(self, motors, axes: list[np.ndarray], mode: str, tau: float, repetitions: int):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if not np.isfinite(tau) or tau <= 0:
            raise ValueError(f"tau must be a positive time, got {tau}")
        if repetitions < 1:
            raise ValueError(f"repetitions must be at least 1, got {repetitions}")
        names = [m.getName() for m in motors]
        if len(set(names)) != len(names):
            raise ValueError(f"the motors must differ, got {', '.join(names)}")
        self.motors, self.axes, self.repetitions = motors, axes, repetitions
        self.sequence = MODES[mode](tau, pulses(self))
        self.devices = dict(self.getEnv(snapshot.INSTRUMENTS_ENV))
        self.runner = SequenceRunner(self.devices, self.checkPoint)

    def _pixels(self) -> list[tuple[float, ...]]:
        """Motor positions of every pixel, the last axis fastest."""
        grids = np.meshgrid(*self.axes, indexing="ij")
        return list(zip(*(g.ravel() for g in grids), strict=True))

    def _scan(self, raster: Raster | None):
        pixels = self._pixels()
        columns = [Column(m.getName(), m.getName(), "", MOTOR) for m in self.motors]
        file = open_scan_file(self, self.devices, columns, len(pixels), raster)
        with self.runner.session(file):
            self.runner.load(self.sequence)
            line = len(self.axes[-1]) if raster else len(pixels)
            last = (None,) * len(self.motors)
            for i, where in enumerate(pixels):
                self.checkPoint()
                for motor, position, before in zip(self.motors, where, last, strict=True):
                    if position != before:  # a slow axis moves once a line
                        motor.move(position)
                last = where
                signal, reference = self.runner.run(self.repetitions)[:2]
                file.write_point(i, {"point_nb": i, **count_values(signal, reference),
                                     **{m.getName(): p for m, p in zip(self.motors, where,
                                                                       strict=True)}})
                if (i + 1) % line == 0:
                    self.output(f"line {(i + 1) // line} of {len(pixels) // line} done")
                yield 100.0 * (i + 1) / len(pixels)

class nvline(_NVScan):
    """A line of NV measurements along `motor` (e.g. the tip's x for Ramsey fringes)."""

    param_def = [["motor", Type.Moveable, None, "motor moved along the line"],
                 ["start", Type.Float, None, "first position"],
                 ["end", Type.Float, None, "last position"],
                 ["n", Type.Integer, None, "pixels"], *TAIL]

    def prepare(self, motor, start, end, n, mode, tau, repetitions):
        self._setup([motor], [positions("line", start, end, n)], mode, tau, repetitions)

    def run(self, *args):
        yield from self._scan(None)


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
        axes = [positions("slow axis", slow_start, slow_end, slow_n),
                positions("fast axis", fast_start, fast_end, fast_n)]
        self._setup([slow, fast], axes, mode, tau, repetitions)

    def run(self, *args):
        raster = Raster(self.motors[1].getName(), self.motors[0].getName(), self.axes[1],
                        self.axes[0])
        yield from self._scan(raster)
