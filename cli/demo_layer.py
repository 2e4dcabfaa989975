"""The demo's surface layer of dark spins (seed 001, Fig. 3), from the Door of a stack on the
surface-spins world.

Like the paper: 0.12 T along the NV axis; the dark spins' line by a DEER spectrum with the tip
away; the NV's resonance locked at every tip place of a volume where the tip's field is gentle
(its shifts are the PSF of a spin at the NV); then one DEER plane over the NV. A spin higher
up sees the tip closer: the layer's image is a ring of resonance like the PSF's, but the
PSF's of a lower plane. `nanomri locate --layer` finds by how much (the layer's height over
the NV) with a mean-field model of a Poisson layer (`nanomri.analysis.layer`). Only the
simulated physics knows where the spins are.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nanomri.analysis import fits
from nanomri.analysis import localize as lz
from nanomri.analysis.layer import LayerFit
from nanomri.lab import lab_of
from nanomri.world import load_world

from .demo_locate import DeerDemo, tip_panel
from .demo_tip import write_figure
from .locate import deer_files, layer_in
from .nv_finder import sensor_in_field
from .stack import ROOT

WORLD = ROOT / "conf" / "worlds" / "surface_spins.yaml"
NM = 1e-9
RF_OFFSET = 100e6  # Hz of the RF above the spins' line: the slice ~66 nm over a spin
# s of the echoes. The layer couples to the NV with ~550 kHz rms (0.5 spins/nm^2 at 10 nm):
# its spins all flipped (the spectrum, tip away) leave exp(-2 (pi b tau)^2) of the echo. At
# 0.5 us that is 0.24, and the spectrum's line is one spin's; longer, the line saturates and
# widens. The image flips a ring of them: 2 us.
SPECTRUM_TAU, TAU = 0.5e-6, 2e-6
MAP_XY = np.arange(-28, 28.01, 7.0) * NM  # tip from the NV, the field map's pixels
MAP_Z = np.arange(54, 66.01, 4.0) * NM  # apex over the NV: a gentle field (seed 001: 60-100 nm)
IMAGE_XY = np.arange(-28, 28.01, 4.0) * NM  # the DEER plane's pixels, tip from the NV
IMAGE_Z = np.array([70.0]) * NM  # its apex over the NV: the layer's ring ~20 nm across
REPETITIONS = 10_000_000  # per DEER pixel, and of the spectrum: the ratio to ~0.004 of a
# ~0.08 contrast
PAPER = {"height": 10 * NM, "density": 0.5e18}  # over the NV; spins per m^2


@dataclass(frozen=True)
class Result:
    layer: LayerFit
    line: fits.Fit  # the dark spins' DEER line, tip away
    image: lz.Grid  # the DEER plane, tip from the NV
    psf: lz.Grid  # the PSF of a spin at the NV with the apex `layer.height` under the image


class LayerDemo(DeerDemo):
    """Seed 001's surface layer."""

    def measure(self) -> Result:
        bare = self.setup()
        line, spectrum = self.spectrum(bare, SPECTRUM_TAU, REPETITIONS)
        self.run([f"mv rf_frequency {line['centre'] + RF_OFFSET}"])
        field_map = self.freqlock("lock", MAP_XY, MAP_XY, MAP_Z, bare)
        image = self.freqlock("deer", IMAGE_XY, IMAGE_XY, IMAGE_Z, bare, REPETITIONS, TAU)
        self.run([f"mv tip_z {self.retracted}"])
        plane, field, rf_offset, shape = deer_files(image, spectrum, field_map)
        found = layer_in(plane, field, rf_offset, shape, TAU)
        lower = lz.Grid((*plane.axes[:2], plane.axes[2] - found.height), plane.values)
        psf = lz.psf(field, lower.points(), rf_offset, shape).reshape(plane.values.shape)
        return Result(found, line, self._from_nv(plane), self._from_nv(
            lz.Grid(lower.axes, psf)))

    def _from_nv(self, grid: lz.Grid) -> lz.Grid:
        return lz.Grid(tuple(a - c for a, c in zip(grid.axes, self.nv, strict=True)),
                       grid.values)


def report(r: Result, truth: tuple[float, float]) -> None:
    """The layer found next to the world's (`truth`: height (m), density (per m^2)) and the
    paper's."""
    nm = 1e9
    print("\nSurface dark-spin layer (seed 001, Fig. 3): this simulation vs the paper")
    print(f"  dark spins' line, tip away: {r.line['centre'] / 1e9:.4f} GHz, FWHM "
          f"{r.line['fwhm'] / 1e6:.1f} MHz")
    print(f"  layer {r.layer.height * nm:.1f} ± {r.layer.height_error * nm:.2f} nm above the NV"
          f"   (world {truth[0] * nm:.1f} nm; paper {PAPER['height'] * nm:.0f} nm: the "
          f"surface over an NV implanted 10 ± 3 nm deep)")
    print(f"  density {r.layer.density * NM**2:.2f} spins/nm^2, mean field: an order of "
          f"magnitude   (world {truth[1] * NM**2:.2f}; paper "
          f"{PAPER['density'] * NM**2:.1f})")


def save_figure(path: Path, r: Result, truth: tuple[float, float]) -> None:
    """The DEER plane next to the PSF of a spin at the NV, the apex lowered by the layer's
    height: the paper's Fig. 3b."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nm = 1e9
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    tip_panel(axes[0], r.image, 0, "DEER signal / reference",
              f"dark spins, apex {r.image.axes[2][0] * nm:.0f} nm over the NV")
    tip_panel(axes[1], r.psf, 0, "PSF (flip probability)",
              f"PSF of a spin at the NV, apex {r.psf.axes[2][0] * nm:.1f} nm")
    fig.suptitle(f"layer {r.layer.height * nm:.1f} nm above the NV (world "
                 f"{truth[0] * nm:.1f} nm)")
    write_figure(fig, path)


def layer_demo(run, tango_host: str, out: Path, world: Path = WORLD) -> Result:
    """Seed 001's surface layer on the stack of `world`: the sensor NV found, the layer
    measured, then the world's layer printed next to it; figure into `out`."""
    lab = lab_of(world)
    found, bare = sensor_in_field(run, lab, tango_host)
    result = LayerDemo(run, lab, found, bare).measure()
    layer = load_world(world).sensor.dark_spins.layer
    truth = (layer.height, layer.density)
    report(result, truth)
    save_figure(out / "dark_spin_layer.png", result, truth)
    return result
