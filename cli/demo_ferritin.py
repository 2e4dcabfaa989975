"""The demo's ferritin image of seed 000, from the Door of a stack on the ferritin world.

Like the paper: a cell section on the AFM's tuning fork, approached onto the diamond over a
shallow NV in a nanopillar and scanned in leapfrog mode; at every pixel the NV's polarisation
after a dark time of 50 µs (1e5 repetitions) against the pumped reference. The T1 curve
without ferritin turns the image's darkest place into its T1 (~0.1 ms), hence the noise there
(0.01-0.02 mT^2), the distance of the shallowest core (~9 nm) and the point-spread function of
the image (~10 nm); the mean of the rows that cross the cluster gives its edges. Where to scan
is the operator's choice (the paper pre-located its clusters by TEM); what the image shows
comes from the simulated physics.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nanomri.analysis import ferritin_image as fi
from nanomri.analysis import fits
from nanomri.analysis.lines import Edge
from nanomri.analysis.spots import darkest
from nanomri.lab import Lab, lab_of
from nanomri.nexus import read_image

from .demo_tip import last_file, line_data, write_figure
from .nv_finder import field_on, sensor_focus, spots_in
from .stack import ROOT

WORLD = ROOT / "conf" / "worlds" / "ferritin.yaml"
LASER_POWER = 2e-3  # W, twice the NV's saturation power
TAU = 50e-6  # s of dark time (seed 000)
REPETITIONS = 100_000  # per pixel (seed 000)
PIXEL, COLUMNS, ROWS = 8.3e-9, 80, 24  # seed 000, Fig. 4
LEAPFROG = 20e-9  # m the tip hops between pixels
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
    darkest: tuple[float, float]  # m from the image's centre
    t1_with: float
    variance: float
    distance: float
    fwhm: float
    profile: fi.ClusterProfile  # the rows crossing the cluster, their mean, its plateau fit
    edge_rise: float  # m: 10-90 % rise of a straight edge of cores at `distance` through the PSF


class FerritinDemo:
    """The demo's Door; `run(lines)` returns the messages of the macros. Places are from the
    tip's start on the set-up `lab`: the optics aligned the section over the NV there (the
    paper pre-located its clusters by TEM)."""

    def __init__(self, run, lab: Lab):
        self.run = run
        self.centre = lab.tip_start[:2]

    def _tip(self, dx: float, dy: float) -> str:
        return f"mv tip_x {self.centre[0] + dx} tip_y {self.centre[1] + dy}"

    def approach(self) -> None:
        """Laser on, the section onto the diamond beside the cluster in frequency-shift
        feedback (from the top of the z travel: where the face is, the AFM finds), leapfrog
        on."""
        self.run([f"senv NanomriLeapfrog {LEAPFROG}", f"laser_on {LASER_POWER}", "retract",
                  self._tip(BACKGROUND_AT, 0.0), "approach frequency_shift"])

    def t1(self, sweep: tuple[float, float, int]) -> fits.Fit:
        start, end, n = sweep
        out = self.run([f"t1 {start} {end} {n} {REPETITIONS}"])
        tau, ratio = line_data(last_file(out), "tau")
        return fits.decay(tau, ratio)

    def image(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The T1-contrast image centred on the tip's start: ratio, and the tip's x and y from
        it."""
        half_x, half_y = (COLUMNS - 1) / 2 * PIXEL, (ROWS - 1) / 2 * PIXEL
        nx, ny = self.centre
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
                      fi.cluster_profile(image, x), fi.edge_rise(distance, TAU, without["time"]))


def edge_text(e: Edge) -> str:
    """An edge's 10-90 % rise: a value with its error, or the upper bound the noise allows."""
    if e.resolved:
        return (f"{e.rise_10_90 * 1e9:.1f} ± "
                f"{e.psf_fwhm_err * e.rise_10_90 / e.psf_fwhm * 1e9:.1f} nm")
    return f"< {e.rise_10_90 * 1e9:.0f} nm (width not resolved)"


def report(r: Result) -> None:
    """The results next to seed 000's."""
    p = PAPER
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
    rows, fit = r.profile.rows, r.profile.fit
    print(f"  cluster edges on the mean of rows {rows[0]}-{rows[-1]}, 10-90 % rise: left "
          f"{edge_text(fit.left)}, right {edge_text(fit.right)}   (paper: sharpest "
          f"{p['edge'] * 1e9:.1f} nm, one pixel)")
    print(f"  a straight edge of cores at {r.distance * 1e9:.1f} nm through the PSF rises over "
          f"{r.edge_rise * 1e9:.1f} nm ({r.edge_rise / PIXEL:.1f} pixels); the mean's rise is an "
          f"upper bound on it (the cluster's edge wanders from row to row)")


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
    axes[1].plot(r.x * nm, r.profile.profile, ".-")
    axes[1].set(xlabel="x (nm)", title=f"mean of rows {r.profile.rows[0]}-{r.profile.rows[-1]}")
    x = np.linspace(-3 * r.fwhm, 3 * r.fwhm, 301)
    axes[2].plot(x * nm, fi.psf(x, r.distance, TAU, r.t1_without["time"]))
    axes[2].set(xlabel="x (nm)", title=f"PSF of a core at {r.distance * nm:.1f} nm: "
                                       f"FWHM {r.fwhm * nm:.1f} nm")
    write_figure(fig, path)


def ferritin_demo(run, tango_host: str, out: Path, world: Path = WORLD) -> None:
    """Seed 000's image and its analysis on the stack of `world`, the confocal focus on the NV
    found in a raster of the field (no bias field: its line at D); results printed, figure
    into `out`."""
    bare = field_on(run, tango_host, 0.0)
    sensor_focus(run, spots_in(run), bare, tango_host)
    result = FerritinDemo(run, lab_of(world)).measure()
    report(result)
    save_figure(out / "ferritin.png", result)
