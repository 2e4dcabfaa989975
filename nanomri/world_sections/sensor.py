"""World section of the NV under study (`sensor`): its spin, and what the scan head carries over
it — a magnetic tip (seed 001) or a cell section with ferritin (seed 000) — and its dark spins.

Positions are in the scan head's frame (the probe's x, y, z): the NV sits still at
`nv_position`, under the sample surface; tip dipoles and ferritin move with the tip's apex.
"""

from pydantic import Field

from .common import Finite, NonNegative, Positive, Strict

Vector = tuple[Finite, Finite, Finite]


class SpinSpec(Strict):
    """The NV's spin: relaxation, optical pumping, readout contrast, MW coupling."""

    t1: Positive  # s, decay of the ms=0 polarisation without sample (3.3 ms, seed 000)
    t2: Positive  # s, Hahn-echo coherence time
    t2_star: Positive  # s, Ramsey decay time
    contrast: float = Field(gt=0, lt=1)  # fluorescence of ms=+-1 below ms=0 (~0.3)
    polarisation: float = Field(gt=1 / 3, le=1)  # ms=0 population the laser pumps to
    pumping_time: Positive  # s, 1/e time of optical pumping at saturation
    rabi_per_sqrt_watt: Positive  # Hz of Rabi frequency per sqrt(W) of MW generator power


class Dipole(Strict):
    """A point dipole of the tip: `offset` from the apex (m), `moment` (A m^2)."""

    offset: Vector
    moment: Vector


class LayerSpec(Strict):
    """A layer of dark spins `height` above the NV (seed 001: the diamond surface, 10 nm)."""

    density: Positive  # spins per m^2 (0.5 per nm^2, seed 001)
    height: Finite  # m above the NV
    radius: Positive  # m, lateral extent simulated around the NV


class DarkSpinsSpec(Strict):
    """g = 2 dark electron spins near the NV, unpolarised, driven by the RF generator."""

    t2_star: Positive  # s, their inhomogeneous line (~150 ns, seed 001)
    rf_rabi_per_sqrt_watt: Positive  # Hz of their Rabi frequency per sqrt(W) of RF power
    coherent: list[Vector] = Field(default_factory=list)  # m from the NV, single spins
    layer: LayerSpec | None = None


class ClusterSpec(Strict):
    """Ferritin cores in an ellipse of the section, `depth` below its surface (m)."""

    centre: tuple[Finite, Finite]  # m from the apex, in the section's plane
    size: tuple[Positive, Positive]  # m, full axes of the ellipse
    cores: int = Field(ge=1)
    depth: tuple[NonNegative, NonNegative]


class FerritinSpec(Strict):
    """A cell section with ferritin on the scan head (seed 000)."""

    spins: Positive  # Fe3+ per core (~4000)
    diameter: Positive  # m, of the iron core (8 nm)
    variance_fraction: float = Field(gt=0, le=1)  # of the paramagnetic spin variance kept
    correlation_time: Positive  # s, of the cores' spin noise
    clusters: list[ClusterSpec] = Field(min_length=1)


class SensorSpec(Strict):
    """The NV whose spin the instruments drive, and what is around it."""

    nv: int = Field(ge=0)  # which of sample.nv_centres is the sensor (the confocal spot)
    nv_position: Vector  # m, in the scan head's frame
    nv_axis: tuple[Finite, Finite]  # (theta, phi) rad of its axis in the lab frame
    spin: SpinSpec
    tip: list[Dipole] = Field(default_factory=list)
    dark_spins: DarkSpinsSpec | None = None
    ferritin: FerritinSpec | None = None
