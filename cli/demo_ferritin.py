"""The demo's ferritin image of seed 000, from the Door of a stack on the ferritin world.

Like the paper: a cell section on the AFM's tuning fork, approached onto the diamond over a
shallow NV in a nanopillar and scanned in leapfrog mode; at every pixel the NV's polarisation
after a dark time of 50 µs (1e5 repetitions) against the pumped reference. The T1 curve
without ferritin turns the image's darkest place into its T1 (~0.1 ms), hence the noise there
(0.01-0.02 mT^2), the distance of the shallowest core (~9 nm) and the point-spread function of
the image (~10 nm); the image's rows give the cluster's edges. Where to scan is the operator's
choice (the paper pre-located its clusters by TEM); what the image shows comes from the
simulated physics.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nanomri.analysis import ferritin_image as fi
from nanomri.analysis import fits
from nanomri.analysis.lines import Edge
from nanomri.analysis.spots import darkest
from nanomri.nexus import read_image
from nanomri.world import load_world

from .demo_tip import last_file, line_data, write_figure
from .stack import ROOT

WORLD = ROOT / "conf" / "worlds" / "ferritin.yaml"
LASER_POWER = 2e-3  # W, twice the NV's saturation power
TAU = 50e-6  # s of dark time (seed 000)
REPETITIONS = 100_000  # per pixel (seed 000)
PIXEL, COLUMNS, ROWS = 8.3e-9, 80, 24  # seed 000, Fig. 4
LEAPFROG = 20e-9  # m the tip hops between pixels
APPROACH_FROM = 50e-9  # m over the section's face, moved to before the approach
BACKGROUND_AT = -300e-9  # m along x from the NV: the section without ferritin over it
T1_WITHOUT = (1e-6, 10e-3, 11)  # s: dark times of the T1 curve without ferritin
SMOOTHING = 3  # pixels square averaged to find the darkest place and its ratio
PAPER = {"t1_without": 3.3e-3, "t1_with": 0.1e-3, "variance": 0.02e-6, "distance": 9e-9,
         "edge": 8.3e-9, "fwhm": (10e-9, 3e-9)}


@dataclass(frozen=True)
class Result:
    """What the demo measured and derived."""

    image: np.ndarray
    x: np.ndarray
    y: np.ndarray
    t1_without: fits.Fit
    darkest: tuple[float, float]  # m from the NV
    t1_with: float
    variance: float
    distance: float
    fwhm: float
    edges: list[Edge]


class FerritinDemo:
    """The demo's Door; `run(lines)` returns the messages of the macros; `world` is the
    stack's."""

    def __init__(self, run, world: Path = WORLD):
        self.run = run
        model = load_world(world)
        self.nv = np.asarray(model.sensor.nv_position)
        self.focus = model.sample.nv_centres[model.sensor.nv]
        self.surface_z = model.sample.surface.height

    def _tip(self, dx: float, dy: float) -> str:
        return f"mv tip_x {self.nv[0] + dx} tip_y {self.nv[1] + dy}"

    def approach(self) -> None:
        """Focus on the NV, laser on, the section onto the diamond beside the cluster in
        frequency-shift feedback, leapfrog on."""
        x, y, z = self.focus
        self.run([f"senv NanomriLeapfrog {LEAPFROG}", f"laser_on {LASER_POWER}",
                  f"mv x {x} y {y} z {z}", "retract", self._tip(BACKGROUND_AT, 0.0),
                  f"mv tip_z {self.surface_z + APPROACH_FROM}", "approach frequency_shift"])

    def t1(self, sweep: tuple[float, float, int]) -> fits.Fit:
        start, end, n = sweep
        out = self.run([f"t1 {start} {end} {n} {REPETITIONS}"])
        tau, ratio = line_data(last_file(out), "tau")
        return fits.decay(tau, ratio)

    def image(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The T1-contrast image centred on the NV: ratio, and the tip's x and y from it."""
        half_x, half_y = (COLUMNS - 1) / 2 * PIXEL, (ROWS - 1) / 2 * PIXEL
        nx, ny = self.nv[:2]
        out = self.run([f"nvraster tip_x {nx - half_x} {nx + half_x} {COLUMNS} "
                        f"tip_y {ny - half_y} {ny + half_y} {ROWS} t1 {TAU} {REPETITIONS}"])
        image, x, y = read_image(last_file(out))
        return image, x - nx, y - ny

    def measure(self) -> Result:
        self.approach()
        without = self.t1(T1_WITHOUT)
        image, x, y = self.image()
        (row, col), ratio = darkest(image, SMOOTHING)
        t1_with = fi.t1_at(ratio, TAU, without)
        variance = fi.noise_variance(t1_with, without["time"])
        distance = fi.core_distance(variance)
        return Result(image, x, y, without, (float(x[col]), float(y[row])), t1_with, variance,
                      distance, fi.psf_fwhm(distance, TAU, without["time"]),
                      fi.row_edges(image, x))


def report(r: Result) -> None:
    """The results next to seed 000's."""
    p = PAPER
    resolved = [e for e in r.edges if e.resolved]
    print("\nFerritin T1 imaging (seed 000): this simulation vs the paper")
    print(f"  image: {r.image.shape[1]} x {r.image.shape[0]} pixels of "
          f"{PIXEL * 1e9:.1f} nm   (paper 80 x 24 of 8.3 nm)")
    fit = r.t1_without
    print(f"  T1 without ferritin:            {fit['time'] * 1e3:.2f} ± "
          f"{fit.errors['time'] * 1e3:.2f} ms   (paper {p['t1_without'] * 1e3:.1f} ms)")
    print(f"  T1 at the image's darkest place ({r.darkest[0] * 1e9:.0f}, "
          f"{r.darkest[1] * 1e9:.0f}) nm: {r.t1_with * 1e3:.3f} ms   (paper, ferritin close by: "
          f"{p['t1_with'] * 1e3:.1f} ms)")
    print(f"  magnetic noise over the cluster: {r.variance * 1e6:.3f} mT^2   "
          f"(paper around {p['variance'] * 1e6:.2f} mT^2)")
    print(f"  shallowest core from the NV:    {r.distance * 1e9:.1f} nm   "
          f"(paper about {p['distance'] * 1e9:.0f} nm)")
    f, f_err = p["fwhm"]
    print(f"  resolution, PSF FWHM:           {r.fwhm * 1e9:.1f} nm   "
          f"(paper {f * 1e9:.0f} ± {f_err * 1e9:.0f} nm)")
    unresolved = len(r.edges) - len(resolved)
    print(f"  cluster edges fitted on the rows: {len(r.edges)}; {unresolved} rise within one "
          f"pixel (the fit resolves no blur: the sampling limit, as the paper's sharpest edge)")
    if resolved:
        rises = np.array([e.rise_10_90 for e in resolved])
        print(f"  the resolved ones, 10-90 % rise: {rises.min() * 1e9:.1f} to "
              f"{rises.max() * 1e9:.1f} nm   (paper: sharpest {p['edge'] * 1e9:.1f} nm, one pixel)")


def save_figure(path: Path, r: Result) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nm = 1e9
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8), gridspec_kw={"width_ratios": [2.4, 1, 1]})
    half = PIXEL / 2 * nm
    extent = (r.x[0] * nm - half, r.x[-1] * nm + half, r.y[0] * nm - half, r.y[-1] * nm + half)
    shown = axes[0].imshow(r.image, origin="lower", extent=extent, cmap="viridis")
    fig.colorbar(shown, ax=axes[0], label="signal / reference")
    axes[0].set(xlabel="x (nm)", ylabel="y (nm)", title="T1 contrast at 50 µs")
    middle = r.image[len(r.y) // 2]
    axes[1].plot(r.x * nm, middle, ".-")
    axes[1].set(xlabel="x (nm)", title=f"row y = {r.y[len(r.y) // 2] * nm:.0f} nm")
    x = np.linspace(-3 * r.fwhm, 3 * r.fwhm, 301)
    axes[2].plot(x * nm, fi.psf(x, r.distance, TAU, r.t1_without["time"]))
    axes[2].set(xlabel="x (nm)", title=f"PSF of a core at {r.distance * nm:.1f} nm: "
                                       f"FWHM {r.fwhm * nm:.1f} nm")
    write_figure(fig, path)


def ferritin_demo(run, out: Path) -> None:
    """Seed 000's image and its analysis; results printed, figure into `out`."""
    result = FerritinDemo(run).measure()
    report(result)
    save_figure(out / "ferritin.png", result)
