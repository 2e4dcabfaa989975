"""The demo's 3D localisation of seed 001's dark spin, from the Door of a stack on the
dark-spins world.

Like the paper (Figs. 3 and 4): 0.12 T along the NV axis; the dark spins' line measured by a
DEER spectrum with the tip away, the spin's coupling by DEER in time (the DEER's tau); the
NV's resonance locked at every tip position of a volume around the NV (its shifts are the
tip's field there: the PSF of any dark spin); a coarse DEER plane to find the spin's spot (the
centre of its resonance ring), then DEER planes over it with the NV kept on resonance at every
pixel; the spin's offset from the NV fitted (`nanomri locate`). The NV's focus and its place
under the tip are measured first (`cli.nv_finder`); where to scan follows from the coarse plane;
the spin's place comes only from the simulated physics, and the world is read only to print
the truth next to it.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nanomri.analysis import fits
from nanomri.analysis import localize as lz
from nanomri.lab import Lab, lab_of
from nanomri.nexus import read_columns
from nanomri.nv_spin import GAMMA_E
from nanomri.world import load_world

from .demo_tip import last_file, line_data, write_figure
from .locate import locate_files
from .nv_finder import FIELD, Found, resonance, sensor_in_field
from .stack import ROOT

WORLD = ROOT / "conf" / "worlds" / "dark_spins.yaml"
NM = 1e-9
PULSES = "{'pi': 100e-9, 'pi_half': 50e-9, 'rf_pi': 100e-9}"  # 5 MHz of Rabi on NV and spins
MW_POWER, RF_POWER = 2.5e-3, 1e-2  # W
DEER_TAU = 9e-6  # s: the spin's ~50 kHz coupling turns the NV's phase by ~pi
COUPLING_SWEEP = (0.4e-6, 12e-6, 59, 1_000_000)  # s of tau, points, repetitions: deer_tau
ECHO_TIMES = (2e-6, 12e-6)  # s: the tau chosen from the coupling, within the NV's T2
SPECTRUM = (20e6, 41, 1_000_000)  # Hz each side of the g = 2 line, points, repetitions
RF_OFFSET = 250e6  # Hz of the RF above the spins' line: a slice ~40 nm over the NV
LOCK = "cw 100000 3"  # probes of the lock: CW, repetitions per flank, steps per pixel at most
DEER_REPETITIONS = 2_400_000  # per pixel of the coarse plane: the ratio to ~0.01
IMAGE_REPETITIONS = 10_000_000  # per pixel of the fine planes: to ~0.005 (a spin whose
# phase over-rotates dips 0.036, not 0.08: one located 0.7 nm off at 2.4e6)
MAP_XY = np.arange(-10, 10.01, 2.0) * NM  # tip from the NV, the field map's pixels
MAP_Z = np.arange(36, 46.01, 2.0) * NM  # apex heights over the NV
COARSE_XY = np.arange(-12, 12.01, 2.0) * NM  # the plane that finds the spin's spot, around the NV
COARSE_Z = 40 * NM
IMAGE_HALF = 8 * NM  # each side of the spot, pixels of 1 nm
IMAGE_Z = np.array([36.0, 40.0]) * NM
PAPER = {"offset": np.array([4.0, 5.1, -3.65]) * NM, "tolerance": 0.5 * NM}


@dataclass(frozen=True)
class Result:
    location: lz.Location
    spot: tuple[float, float]  # m, the centre of the coarse plane's dip, tip from the NV
    line: fits.Fit  # the dark spins' DEER line, tip away
    image: lz.Grid  # the DEER planes, tip from the NV
    tau: float  # s, the DEER's: pi of the spin's phase


def _axis(motor: str, values: np.ndarray, offset: float) -> str:
    return f"{motor} {offset + values[0]} {offset + values[-1]} {len(values)}"


class DeerDemo:
    """DEER under the tip from the demo's Door; `run(lines)` returns the messages of the
    macros; the sensor NV `found` by measurement on the set-up `lab`, `bare` its resonance."""

    def __init__(self, run, lab: Lab, found: Found, bare: float):
        self.run, self.bare = run, bare
        self.nv = np.asarray(found.place.position)
        self.retracted = lab.instruments.probe.position_max.z

    def setup(self) -> float:
        """Pulses, MW and RF on, tip away; the bare NV resonance (Hz)."""
        self.run([f"senv NanomriPulses \"{PULSES}\"", f"mv mw_power {MW_POWER} rf_power {RF_POWER}",
                  "write_ioreg mw_output 1", "write_ioreg rf_output 1",
                  f"mv tip_z {self.retracted}"])
        return self.bare

    def spectrum(self, bare: float, tau: float = DEER_TAU, reps: int = SPECTRUM[2]
                 ) -> tuple[fits.Fit, Path]:
        """The dark spins' line: DEER of `tau` with the RF swept, tip away, NV on its bare
        resonance."""
        half, n, _ = SPECTRUM
        centre = GAMMA_E * FIELD
        out = self.run([f"mv mw_frequency {bare}",
                        f"deer {centre - half} {centre + half} {n} {tau} {reps}"])
        path = last_file(out)
        f, ratio = line_data(path, "rf_frequency")
        return fits.odmr(f, ratio), path

    def _tip(self, dx: float, dy: float, height: float) -> str:
        return f"mv tip_x {self.nv[0] + dx} tip_y {self.nv[1] + dy} tip_z {self.nv[2] + height}"

    def resonance(self, dx: float, dy: float, height: float, bare: float) -> float:
        """The NV's resonance (Hz) with the tip at a place (`nv_finder.resonance`)."""
        self.run([self._tip(dx, dy, height)])
        return resonance(self.run, bare)

    def freqlock(self, mode: str, xs: np.ndarray, ys: np.ndarray, zs: np.ndarray,
                 bare: float, repetitions: int = DEER_REPETITIONS, tau: float = DEER_TAU
                 ) -> Path:
        """A freqlock scan over a box of tip places from the NV (z: apex over the NV),
        started from the resonance an ODMR sweep finds at its first pixel; `tau` the DEER's."""
        start = self.resonance(xs[0], ys[0], zs[0], bare)  # the tip at the first pixel:
        # the axes of one place stay there
        axes = [_axis(motor, values, offset) for motor, values, offset
                in zip(("tip_z", "tip_y", "tip_x"), (zs, ys, xs), self.nv[::-1], strict=True)
                if len(values) > 1]
        out = self.run([f"freqlock {start} 40e6 {LOCK} {mode} {tau} {repetitions} "
                        + " ".join(axes)])
        return last_file(out)


class LocateDemo(DeerDemo):
    """Seed 001's localisation."""

    def spot(self, path: Path) -> tuple[float, float]:
        """The centre of the coarse DEER plane's dip (tip from the NV): the mean place weighted
        by the squared dip under the plane's median. The dip is the spin's resonance ring
        around it, whose darkest side is a ring's radius off (seed 11 of
        tests/test_dark_spin_scan.py: darkest 3 x 3 at x = -12 nm for a spin at -4.7; this
        centre -4.65)."""
        _, columns = read_columns(path)
        ratio = columns["ratio"]
        seen = np.isfinite(ratio)
        weight = np.clip(np.median(ratio[seen]) - ratio[seen], 0, None) ** 2
        if not weight.sum() > 0:
            raise ValueError(f"{path}: the coarse DEER plane has no dip")
        return tuple(float(np.average(columns[m][seen], weights=weight)) - c
                     for m, c in (("tip_x", self.nv[0]), ("tip_y", self.nv[1])))

    def measure(self) -> Result:
        bare = self.setup()
        line, _ = self.spectrum(bare)
        tau = self.echo_time(line)
        line, spectrum = self.spectrum(bare, tau)  # the line where its dip is deepest
        self.run([f"mv rf_frequency {line['centre'] + RF_OFFSET}"])
        field_map = self.freqlock("lock", MAP_XY, MAP_XY, MAP_Z, bare)
        coarse = self.freqlock("deer", COARSE_XY, COARSE_XY, np.array([COARSE_Z]), bare,
                               tau=tau)
        sx, sy = self.spot(coarse)
        fine = np.arange(-IMAGE_HALF, IMAGE_HALF + 0.1 * NM, 1 * NM)
        image = self.freqlock("deer", sx + fine, sy + fine, IMAGE_Z, bare, IMAGE_REPETITIONS,
                              tau)
        self.run([f"mv tip_z {self.retracted}"])
        location = locate_files(image, spectrum, field_map=field_map)
        planes = lz.grid_from_columns(read_columns(image)[1], ("tip_x", "tip_y", "tip_z"), "ratio",
                                      missing_ok=True)
        from_nv = lz.Grid(tuple(a - c for a, c in zip(planes.axes, self.nv, strict=True)),
                          planes.values)
        return Result(location, (sx, sy), line, from_nv, tau)

    def echo_time(self, line: fits.Fit) -> float:
        """The DEER tau that turns the NV's phase by pi for the spin, 1/(2a): its coupling a
        from a DEER in time with the tip away, the RF on the spins' line (seed 001, Fig. 4a:
        the echo left is cos(2 pi a tau)). A spin of 135 kHz over-rotates at 9 us."""
        self.run([f"mv rf_frequency {line['centre']}"])
        out = self.run([f"deer_tau {COUPLING_SWEEP[0]} {COUPLING_SWEEP[1]} {COUPLING_SWEEP[2]} "
                        f"{COUPLING_SWEEP[3]}"])
        tau, ratio = line_data(last_file(out), "tau")
        coupling = abs(fits.deer_oscillation(tau, ratio)["frequency"])
        return float(np.clip(1 / (2 * coupling), *ECHO_TIMES))


def report(r: Result, truth: np.ndarray) -> None:
    """The spin found next to the world's (`truth`, m from the NV) and the paper's."""
    nm = 1e9
    print("\nDark-spin 3D localisation (seed 001): this simulation vs the paper")
    print(f"  dark spins' line, tip away: {r.line['centre'] / 1e9:.4f} GHz, FWHM "
          f"{r.line['fwhm'] / 1e6:.1f} MHz; DEER tau {r.tau * 1e6:.1f} µs (pi of the spin's "
          f"phase); coarse DEER spot at ({r.spot[0] * nm:.1f}, {r.spot[1] * nm:.1f}) nm")
    for axis, found, error, world, paper in zip("xyz", r.location.offset, r.location.error,
                                                truth, PAPER["offset"], strict=True):
        print(f"  {axis}: {found * nm:+6.2f} ± {error * nm:.2f} nm from the NV   (world "
              f"{world * nm:+.2f} nm; paper {paper * nm:+.2f} nm, within "
              f"{PAPER['tolerance'] * nm:.1f} nm)")


def tip_panel(ax, grid: lz.Grid, plane: int, label: str, title: str) -> None:
    """Plane `plane` of `grid` (tip from the NV) on `ax`, in nm, with its colour bar."""
    x, y = (a * 1e9 for a in grid.axes[:2])
    half = (x[1] - x[0]) / 2
    shown = ax.imshow(grid.values[:, :, plane].T, origin="lower", cmap="viridis",
                      extent=(x[0] - half, x[-1] + half, y[0] - half, y[-1] + half))
    ax.figure.colorbar(shown, ax=ax, label=label)
    ax.set(xlabel="tip x from the NV (nm)", ylabel="tip y from the NV (nm)", title=title)


def save_figure(path: Path, r: Result, truth: np.ndarray) -> None:
    """The DEER planes, the spin found and the world's (x, y), the planes' heights."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nm = 1e9
    z = r.image.axes[2] * nm
    fig, axes = plt.subplots(1, len(z), figsize=(5 * len(z), 4.2))
    for k, ax in enumerate(np.atleast_1d(axes)):
        tip_panel(ax, r.image, k, "DEER signal / reference",
                  f"apex {z[k]:.0f} nm over the NV")
        ax.plot(*(truth[:2] * nm), "w+", ms=14, label="world's spin")
        ax.plot(*(r.location.offset[:2] * nm), "rx", ms=10, label="located")
        ax.legend(loc="lower right", fontsize=8)
    write_figure(fig, path)


def locate_demo(run, tango_host: str, out: Path, world: Path = WORLD) -> Result:
    """Seed 001's 3D localisation on the stack of `world`: the sensor NV found, the spin
    located, then the world's spin printed next to it; figure into `out`."""
    lab = lab_of(world)
    found, bare = sensor_in_field(run, lab, tango_host)
    result = LocateDemo(run, lab, found, bare).measure()
    truth = np.asarray(load_world(world).sensor.dark_spins.coherent[0])
    report(result, truth)
    save_figure(out / "dark_spin.png", result, truth)
    return result
