"""The demo's scanning-gradient measurements of seed 001 on the sensor NV, from the Door:
Ramsey fringes of the magnetic tip (period, gradient) and a CW-ESR resonant slice (FWHM).

Like the paper: 0.12 T along the NV axis; a Ramsey line at tau = 450 ns with the tip's apex
30 nm over the surface, the MW tuned by a pulsed ODMR with the tip there; the CW-ESR linewidth
measured with the tip retracted, then a line with the apex 10 nm over the surface across one
resonant slice, its place found by a coarse line and zoomed into. Where to put the lines is
the operator's choice (here: around the steepest lateral gradient); what the fringes and the
slice look like comes from the simulated physics. The NV's place under the tip and the surface
over it are measured first (`cli.nv_finder`); the world is read only to print the truth.
"""

from pathlib import Path

import numpy as np
import tango

from nanomri import nv_spin
from nanomri.analysis import fits, lines
from nanomri.nexus import read_columns

RAMSEY_TAU = 450e-9  # s
PI_HALF = 10e-9  # s: 25 MHz of Rabi at 60 mW
PULSES = f"{{'pi': {2 * PI_HALF}, 'pi_half': {PI_HALF}, 'rf_pi': 100e-9}}"
RAMSEY_MW_POWER = 0.06  # W
CW_MW_POWER = 1.5e-3  # W: power broadening to the paper's ~120 ns inverse linewidth
LINEWIDTH_SWEEP = "41 100000 cw"  # points, repetitions: the FWHM to ~7 %
RAMSEY_HEIGHT, SLICE_HEIGHT = 30e-9, 10e-9  # m of the apex over the surface
RAMSEY_LINE = (20.5e-9, 25.5e-9, 101)  # y from the NV (m), pixels: 0.5 Å
RAMSEY_DETUNING_AT = 23e-9  # m: the MW on the NV's resonance with the tip here
ODMR_SPAN = 400e6  # Hz above the bare resonance searched for the NV with the tip over it
SLICE_SHIFT = 653.6e6  # Hz above the bare resonance: a slice near the steepest gradient
COARSE_SLICE = (12e-9, 19e-9, 36)  # y from the NV (m), pixels: 2 Å
ZOOM_HALF = 0.8e-9  # m each side of the coarse slice
ZOOM_PIXELS, ZOOM_REPETITIONS = 33, 60_000  # pixels of 0.5 Å; a line of ~50 s
PAPER = {"period": (3.3e-10, 0.3e-10), "gradient": 2.4e5, "fwhm": (2.5e-10, 0.5e-10),
         "slice_gradient": 1.2e6}


def last_file(out: str) -> Path:
    line = next(s for s in reversed(out) if "nanomri NeXus file:" in s)
    return Path(line.split("nanomri NeXus file:")[1].strip())


def line_data(path: Path, motor: str) -> tuple[np.ndarray, np.ndarray]:
    columns = read_columns(path)[1]
    return columns[motor], columns["ratio"]


class TipDemo:
    """The demo's Door and devices; `run(lines)` returns the messages of the macros; `nv` is
    the NV's place under the tip and `surface_z` the surface over it, as measured. `tracked`:
    the tip registered on the NV before every line (`tiptrack`, env NanomriTrack set), so the
    head's drift compensation holds the NV where it was found."""

    def __init__(self, run, nv: np.ndarray, surface_z: float, tango_host: str,
                 tracked: bool = False):
        self.run, self.nv, self.surface_z = run, np.asarray(nv), surface_z
        self.tracked = tracked
        self.probe = tango.DeviceProxy(f"tango://{tango_host}/nanomri/confocal/probe")

    def register_surface(self) -> None:
        """The surface over the NV where the AFM finds it now (approach, then retract): the
        sample drifts by ~1 pm/s in z, and the slice's gradient goes as the distance^-4."""
        nx, ny, _ = self.nv
        self.run([f"mv tip_x {nx} tip_y {ny}", "approach"])
        self.surface_z = float(self.probe.topography)
        self.run(["retract"])

    def _tip(self, dy: float, height: float) -> str:
        nx, ny, _ = self.nv
        return f"mv tip_x {nx} tip_y {ny + dy} tip_z {self.surface_z + height}"

    def _line(self, start: float, end: float, n: int, mode: str, tau: float,
              repetitions: int) -> tuple[np.ndarray, np.ndarray]:
        ny = self.nv[1]
        out = self.run(["tiptrack"] * self.tracked
                       + [f"nvline tip_y {ny + start} {ny + end} {n} {mode} {tau} {repetitions}"])
        y, ratio = line_data(last_file(out), "tip_y")
        return y - ny, ratio

    def ramsey(self, bare: float) -> dict:
        """Fringes along y: their period and the gradient it means (seed 001, Fig. 2a). The MW
        goes where a pulsed ODMR with the tip in place finds the NV's resonance."""
        self.run([f"mv mw_power {RAMSEY_MW_POWER}", self._tip(RAMSEY_DETUNING_AT, RAMSEY_HEIGHT)])
        out = self.run([f"odmr {bare} {bare + ODMR_SPAN} 81 20000 pulsed"])
        f, ratio = line_data(last_file(out), "mw_frequency")
        self.run([f"mv mw_frequency {fits.odmr(f, ratio)['centre']}"])
        y, ratio = self._line(*RAMSEY_LINE, "ramsey", RAMSEY_TAU, 100_000)
        period = lines.fringe_period(y, ratio)
        gradient = lines.tip_gradient(period, RAMSEY_TAU, pi_half=PI_HALF)
        return {"y": y, "ratio": ratio, "period": period.value, "period_err": period.error,
                "gradient": gradient.value, "gradient_err": gradient.error}

    def linewidth(self, bare: float) -> dict:
        """CW-ODMR of the NV with the tip retracted: its FWHM, the slice's frequency width."""
        self.run(["retract", f"mv mw_power {CW_MW_POWER}"])  # the top of z the compensation leaves
        out = self.run([f"odmr {bare - 20e6} {bare + 20e6} {LINEWIDTH_SWEEP}"])
        f, ratio = line_data(last_file(out), "mw_frequency")
        fit = fits.odmr(f, ratio)
        return {"f": f, "ratio": ratio, "fwhm_hz": fit["fwhm"], "centre": fit["centre"]}

    def slice(self, centre: float) -> dict:
        """A CW-ESR line across one resonant slice, found coarse then zoomed (Fig. 2b)."""
        self.run([f"mv mw_frequency {centre + SLICE_SHIFT}", self._tip(COARSE_SLICE[0],
                                                                       SLICE_HEIGHT)])
        y, ratio = self._line(*COARSE_SLICE, "cwesr", 10e-6, 20_000)
        # the slice is about one 2 Å pixel wide: a fit of the noisy coarse line can settle on a
        # noise dip; the darkest place of its 3-pixel running mean is the zoom's centre
        found = float(y[np.argmin(np.convolve(ratio, np.ones(3) / 3, mode="same")[1:-1]) + 1])
        # trace and retrace: the sample's drift (a few pm/s) over a line of a minute narrows the
        # slice one way and widens it the other (the tip crosses it at v + d, then v - d): the
        # harmonic mean of the two widths is the still slice's
        widths = []
        for start, end in ((found - ZOOM_HALF, found + ZOOM_HALF),
                           (found + ZOOM_HALF, found - ZOOM_HALF)):
            self.run([self._tip(start, SLICE_HEIGHT)])
            y, ratio = self._line(start, end, ZOOM_PIXELS, "cwesr", 10e-6, ZOOM_REPETITIONS)
            widths.append(lines.slice_fwhm(y, ratio))
        (w1, e1), (w2, e2) = ((w.value, w.error) for w in widths)
        return {"y": y, "ratio": ratio, "fwhm": 2 * w1 * w2 / (w1 + w2),
                "fwhm_err": 2 * np.hypot(w2**2 * e1, w1**2 * e2) / (w1 + w2) ** 2,
                "each": [w1, w2]}


def report(ramsey: dict, width: dict, cut: dict) -> None:
    """The results next to seed 001's."""
    p, p_err = PAPER["period"]
    grad_slice = width["fwhm_hz"] / (nv_spin.GAMMA_E * cut["fwhm"])
    print("\nScanning-gradient MRI (seed 001): this simulation vs the paper")
    print(f"  Ramsey fringe period at 450 ns: {ramsey['period'] * 1e10:.2f} ± "
          f"{ramsey['period_err'] * 1e10:.2f} Å   (paper {p * 1e10:.1f} ± {p_err * 1e10:.1f} Å)")
    print(f"  tip gradient from the fringes:  {ramsey['gradient'] / 1e5:.2f} ± "
          f"{ramsey['gradient_err'] / 1e5:.2f} G/nm   (paper {PAPER['gradient'] / 1e5:.1f} G/nm, "
          f"from 450 ns without the pi/2 pulses' {4 * PI_HALF / np.pi * 1e9:.1f} ns)")
    print(f"  CW-ESR linewidth (tip away):    {width['fwhm_hz'] / 1e6:.2f} MHz = inverse "
          f"{1e9 / width['fwhm_hz']:.0f} ns   (paper 120 ns)")
    f, f_err = PAPER["fwhm"]
    trace, retrace = (w * 1e10 for w in cut["each"])
    print(f"  resonant slice FWHM:            {cut['fwhm'] * 1e10:.2f} ± "
          f"{cut['fwhm_err'] * 1e10:.2f} Å   (paper {f * 1e10:.1f} ± {f_err * 1e10:.1f} Å; "
          f"trace {trace:.2f}, retrace {retrace:.2f})")
    print(f"  gradient from the slice:        {grad_slice / 1e5:.1f} G/nm   "
          f"(paper {PAPER['slice_gradient'] / 1e5:.0f} G/nm)")


def save_figure(path: Path, ramsey: dict, width: dict, cut: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].plot(ramsey["y"] * 1e9, ramsey["ratio"], ".-")
    axes[0].set(xlabel="tip y from the NV (nm)", ylabel="signal / reference",
                title=f"Ramsey 450 ns: period {ramsey['period'] * 1e10:.2f} Å")
    axes[1].plot((width["f"] - width["centre"]) / 1e6, width["ratio"], ".-")
    axes[1].set(xlabel="MW detuning (MHz)", title=f"CW ODMR: {width['fwhm_hz'] / 1e6:.1f} MHz")
    axes[2].plot(cut["y"] * 1e9, cut["ratio"], ".-")
    axes[2].set(xlabel="tip y from the NV (nm)", title=f"slice FWHM {cut['fwhm'] * 1e10:.2f} Å")
    write_figure(fig, path)


def tip_demo(run, nv: np.ndarray, surface_z: float, bare: float, tango_host: str,
             out: Path, tracked: bool = False) -> None:
    """Seed 001's gradient measurements over the NV found at `nv` (scan head frame) under the
    surface at `surface_z`, the field on (`bare`: the NV's resonance, tip far), the drift
    `tracked` or not (TipDemo); results printed, figure into `out`."""
    demo = TipDemo(run, nv, surface_z, tango_host, tracked)
    run([f"senv NanomriPulses \"{PULSES}\""])
    ramsey = demo.ramsey(bare)
    width = demo.linewidth(bare)
    demo.register_surface()
    cut = demo.slice(width["centre"])
    report(ramsey, width, cut)
    save_figure(out / "tip_gradient.png", ramsey, width, cut)


def write_figure(fig, path: Path) -> None:
    """Lay out a demo's figure, write it to `path` and close it; say where it went."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"figure: {path}")
