"""Synthetic dark-spin measurements (seed 001) for the analysis tests, made with the shipped
world's tip and dark-spin physics and noise: the tip's field on a grid of tip places, the RF's
spin flips, the spins' DEER line with the tip away, and a surface layer's DEER image and lock
map in the layer demo's geometry. The analyses under test see only these, never the spins."""

import numpy as np

from nanomri import dark_spins, magnetic_tip
from nanomri.analysis import fits
from nanomri.analysis import localize as lz
from nanomri.cli import demo_layer
from nanomri.nv_spin import GAMMA_E
from nanomri.world import load_world

from .conftest import ROOT

SENSOR = load_world(ROOT / "conf" / "worlds" / "confocal.yaml").sensor
DIPOLES = np.array([d.offset for d in SENSOR.tip]), np.array([d.moment for d in SENSOR.tip])
BIAS = 0.12  # T along the NV axis (z), seed 001
RF_RABI, RF_PI = 5e6, 100e-9  # Hz, s: the world's RF pi pulse at 10 mW
T2_STAR = SENSOR.dark_spins.t2_star
RF_OFFSET = 250e6  # Hz above the dark spins' tip-away line, of the localisation's images
LOCK_NOISE = 1e6  # Hz, one sigma of a locked NV frequency (freqlock, CW, 1e4 repetitions)
CONTRAST, NOISE = 0.2, 0.03  # DEER dip of a flipped spin, one sigma of a ratio (1e5 reps)
DENSITY = 0.5e18  # spins per m^2 of a surface layer (seed 001)
RADIUS = 30e-9  # m of the simulated layer
LAYER_NOISE = 0.01  # of a pixel's ratio in a layer's DEER image


def tip_field(at: np.ndarray, tips: np.ndarray) -> np.ndarray:
    """Field (T) at `at` (3,) from the NV with the tip's apex at `tips` (n, 3)."""
    return magnetic_tip.dipole_field(at - tips, *DIPOLES)


def grid(x, y, z, values=None) -> lz.Grid:
    """A grid over the tip places x, y, z: zeros, or `values` in its shape."""
    shape = (len(x), len(y), len(z))
    return lz.Grid((x, y, z), np.zeros(shape) if values is None else values.reshape(shape))


def flips(resonances: np.ndarray, rf: float) -> np.ndarray:
    """Probability that an RF pi pulse at `rf` (Hz) flips spins of `resonances` (Hz)."""
    return dark_spins.flip_probability(resonances - rf, RF_RABI, RF_PI, T2_STAR)


def dark_spin_line(rng) -> tuple[float, lz.Line]:
    """The DEER spectrum with the tip away: the line's centre (Hz) and its fitted shape."""
    f = GAMMA_E * BIAS + np.linspace(-20e6, 20e6, 81)
    spectrum = 1 - CONTRAST * flips(GAMMA_E * BIAS, f) + rng.normal(0, NOISE / 2, f.size)
    fit = fits.odmr(f, spectrum)
    return fit["centre"], lz.lorentzian_line(fit["fwhm"])


def layer_lock_map(rng) -> lz.FieldMap:
    """The NV's locked frequency over the volume the layer's PSFs sample, as field on its
    axis: the image's tips less every place of the layer."""
    tips = grid(demo_layer.MAP_XY, demo_layer.MAP_XY, demo_layer.MAP_Z).points()
    far = abs(2.87e9 - dark_spins.GAMMA_E * BIAS)
    field = BIAS + tip_field(np.zeros(3), tips)[:, 2]
    locked = abs(2.87e9 - dark_spins.GAMMA_E * field) + rng.normal(0, LOCK_NOISE, len(tips))
    return lz.FieldMap(grid(demo_layer.MAP_XY, demo_layer.MAP_XY, demo_layer.MAP_Z,
                            lz.field_from_lock(locked, far, BIAS)))


def layer_image(rng, height: float) -> lz.Grid:
    """DEER ratios over the image plane from a Poisson layer at `height`."""
    return spins_image(rng, dark_spins.surface_layer(DENSITY, height, RADIUS, rng))


def spins_image(rng, spins: np.ndarray) -> lz.Grid:
    """DEER ratios over the image plane from `spins` (n, 3) from the NV: each spin flipped by
    the RF in the whole field (bias and tip) and leaving the echo cos(2 pi a tau)."""
    a = dark_spins.coupling(spins, np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, 1.0]))
    image = grid(demo_layer.IMAGE_XY, demo_layer.IMAGE_XY, demo_layer.IMAGE_Z)
    rf = dark_spins.GAMMA_E * BIAS + demo_layer.RF_OFFSET
    echo = np.ones(len(image.points()))
    for spin, coupling in zip(spins, a, strict=True):
        field = tip_field(spin, image.points()) + [0.0, 0.0, BIAS]
        p = flips(dark_spins.resonance(field), rf)
        echo *= 1 - p * (1 - np.cos(2 * np.pi * coupling * demo_layer.TAU))
    values = 0.8 + 0.2 * echo + rng.normal(0, LAYER_NOISE, echo.size)
    return grid(*image.axes, values)


def measured_lab(seed: int) -> tuple[lz.FieldMap, float, lz.Line]:
    """The lock map, f_RF - f_dark and the spins' line, as the layer demo measures them."""
    rng = np.random.default_rng(seed)
    centre, line = dark_spin_line(rng)
    return layer_lock_map(rng), dark_spins.GAMMA_E * BIAS + demo_layer.RF_OFFSET - centre, line
