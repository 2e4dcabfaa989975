"""The NV under study as the simulated instruments drive it: how bright it is in each gate.

Everything comes from what the instruments were told at the time: the sequence the sequencer
plays and whether the laser follows it, the MW and RF generators' output, frequency and power,
the magnet's field, and the scan head's tip — whose dipoles shift the NV's resonance and bring
dark spins into resonance, or whose ferritin shortens its T1. Nothing is told which experiment
runs: a DEER without its RF pulse sees no dark spins, a detuned MW no Rabi oscillation.
"""

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from nanomri import dark_spins, ferritin, nv_spin
from nanomri.confocal import saturation
from nanomri.magnetic_tip import dipole_field, unit_vector
from nanomri.sequence import Pulse, Sequence
from nanomri.world_sections.sensor import SensorSpec

from .sim_world import SimWorld

if TYPE_CHECKING:  # a type only: the NV's physics imports no driver
    from .drivers.signal_generator import SimSignalGenerator

NO_FIELD = np.zeros(3)
STILL_POSITION = 1e-11  # m: NV and tip moving less over a read's sampled repetitions (a
# hundredth of the finest pixel; the drift of a few seconds) are taken as still
STILL_FIELD = 1e-9  # T: so is a magnet field changing less
RELAXATION_STILL = 1e-10  # m: ferritin's T1 over a pixel moving less is its middle's


class SimSensor:
    """The sensor NV of a world: per repetition start, its brightness in each gate."""

    def __init__(self, world: SimWorld, spec: SensorSpec):
        self.world, self.spec = world, spec
        self.spin = nv_spin.SpinProperties(**spec.spin.model_dump())
        self.axis = unit_vector(*spec.nv_axis)
        self.tip_offsets = np.array([d.offset for d in spec.tip]).reshape(-1, 3)
        self.tip_moments = np.array([d.moment for d in spec.tip]).reshape(-1, 3)
        rng = world.rng("sensor")
        self.dark = _dark_spin_positions(spec, rng)
        self.cores = _ferritin_cores(spec, rng)

    # --- where things are ----------------------------------------------------------------

    def nv_position(self, times: np.ndarray) -> np.ndarray:
        """(n, 3) the NV in the scan head's commanded frame: it moves with the sample (its
        drift, less what the head's drift compensation follows)."""
        times = np.atleast_1d(np.asarray(times, dtype=float))
        return np.asarray(self.spec.nv_position) + self.world.sample_displacement(times)

    def apex(self, times: np.ndarray) -> np.ndarray | None:
        """(n, 3) the tip's apex, or None without a scan head."""
        probe = self.world.links.probe
        return None if probe is None else probe.tip(times)

    def _field(self, points: np.ndarray, times: np.ndarray, apex: np.ndarray | None) -> np.ndarray:
        """(n, ..., 3) magnet plus tip field at `points` (n, ..., 3)."""
        magnet = self.world.links.magnet
        b0 = np.array([magnet.field_at(t) if magnet else NO_FIELD for t in times])
        field = np.broadcast_to(b0.reshape(len(times), *(1,) * (points.ndim - 2), 3),
                                points.shape).copy()
        if apex is not None and len(self.tip_moments):
            for i in range(len(times)):
                field[i] += dipole_field(points[i], apex[i] + self.tip_offsets, self.tip_moments)
        return field

    # --- what the NV shows -----------------------------------------------------------------

    def brightness_now(self, t: float) -> float:
        """Mean brightness at world time `t` over a repetition of the sequence playing then,
        as a gate that counts throughout sees it; 1 (pumped ms=0) when none plays, since the
        sequencer's idle outputs keep the MW and RF switches open."""
        playback = self.world.playback()
        if playback is None or not playback.start <= t < playback.end:
            return 1.0
        seq = playback.sequence
        whole = Sequence(tuple(p for p in seq.pulses if p.channel != "gate")
                         + (Pulse("gate", 0.0, seq.length),), seq.length)
        return float(self.brightness(whole, np.array([t]))[0, 0])

    def brightness(self, sequence: Sequence, starts: np.ndarray) -> np.ndarray:
        """(len(starts), gates) relative brightness in each gate of repetitions of `sequence`
        starting at `starts` (world times). The MW drives the NV as the generator puts it out
        at the repetition's first MW pulse: a sweep point's generator steps on the edge ending
        the point before and settles during its settle wait, before that pulse."""
        starts = np.atleast_1d(np.asarray(starts, dtype=float))
        seq = self._as_lit(sequence, starts[0])
        nv_at, apex = self.nv_position(starts), self.apex(starts)
        mw = seq.windows("mw")
        detuning, rabi = self._drive(nv_at, starts + (mw[0, 0] if len(mw) else 0.0), apex)
        spin = self._spin(nv_at, apex)
        sat = float(np.mean(saturation(self.world.laser.at(starts),
                                       self.world.model.optics.nv_saturation_power)))
        dephasing = self._dephasing(seq, nv_at, starts, apex, spin)
        return nv_spin.brightness(seq, detuning, rabi, spin, max(sat, 1e-12), dephasing)

    def _as_lit(self, sequence: Sequence, t: float) -> Sequence:
        """The sequence as the NV sees it: the laser follows its channel only in gated mode."""
        if self.world.laser.gated_at(np.array([t]))[0]:
            return sequence
        pulses = tuple(p for p in sequence.pulses if p.channel != "laser")
        return Sequence((Pulse("laser", 0.0, sequence.length), *pulses), sequence.length)

    def _drive(self, nv_at: np.ndarray, times: np.ndarray,
               apex: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Detuning of the MW from the nearer NV transition (ms=0 <-> -1 or +1), and Rabi."""
        b = self._field(nv_at[:, None, :], times, apex)[:, 0] @ self.axis
        on, frequency, power = _output(self.world.links.mw, times)
        lower = nv_spin.transition_frequency(b)
        upper = nv_spin.ZERO_FIELD_SPLITTING + nv_spin.GAMMA_E * b
        nearer = np.where(np.abs(lower - frequency) <= np.abs(upper - frequency), lower, upper)
        rabi = np.where(on, nv_spin.rabi_frequency(power, self.spin), 0.0)
        return nearer - frequency, rabi

    def _spin(self, nv_at: np.ndarray, apex: np.ndarray | None) -> nv_spin.SpinProperties:
        """The spin with the T1 the ferritin under the NV leaves it."""
        f = self.spec.ferritin
        if f is None or apex is None:
            return self.spin
        if _spread(nv_at) < RELAXATION_STILL and _spread(apex) < RELAXATION_STILL:
            middle = slice(len(apex) // 2, len(apex) // 2 + 1)  # a drift's mean, to 2nd order
            nv_at, apex = nv_at[middle], apex[middle]
        relative = apex[:, None, :] + self.cores - nv_at[:, None, :]
        variance = ferritin.transverse_variance(relative, self.axis, f.spins, f.diameter,
                                                f.variance_fraction)
        rate = 1 / self.spin.t1 + ferritin.relaxation_rate(variance, f.correlation_time)
        return dataclasses.replace(self.spin, t1=1 / rate)

    def _still(self, nv_at: np.ndarray, apex: np.ndarray | None, times: np.ndarray,
               rf: tuple[np.ndarray, ...]) -> bool:
        """Whether NV, tip, magnet field and RF output are the same at all `times`, to
        `STILL_POSITION` and `STILL_FIELD`."""
        magnet = self.world.links.magnet
        b0 = np.array([magnet.field_at(t) for t in times]) if magnet else np.zeros((1, 3))
        return (_spread(nv_at) < STILL_POSITION and _spread(b0) < STILL_FIELD
                and (apex is None or _spread(apex) < STILL_POSITION)
                and all(_spread(np.asarray(a, dtype=float)) == 0 for a in rf))

    def _dark_spins(self, nv_at: np.ndarray, times: np.ndarray, apex: np.ndarray | None,
                    rf: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(times, spins) couplings to the NV and offsets from the RF (Hz), (times,) the RF's
        Rabi frequency on them."""
        fields = self._field(nv_at[:, None, :] + self.dark, times, apex)
        norm = np.linalg.norm(fields, axis=-1, keepdims=True)
        axes = np.where(norm > 0, fields / np.where(norm > 0, norm, 1.0), self.axis)  # no
        # field at all (no magnet, no tip): quantised along the NV's axis, as good as any
        couplings = dark_spins.coupling(self.dark[None], self.axis, axes)
        on, frequency, power = rf
        rabi = np.where(on, self.spec.dark_spins.rf_rabi_per_sqrt_watt * np.sqrt(power), 0.0)
        return couplings, dark_spins.resonance(fields) - frequency[:, None], rabi

    def _dephasing(self, seq: Sequence, nv_at: np.ndarray, times: np.ndarray,
                   apex: np.ndarray | None, spin: nv_spin.SpinProperties):
        """The coherence factor of a block: quasi-static bath times the dark spins'."""
        n, rf_windows = len(times), seq.windows("rf")
        if self.spec.dark_spins is None or not len(self.dark):
            return None
        rf = _output(self.world.links.rf, times)
        # the sampled repetitions of a pixel usually see one geometry (the tip at rest, the
        # drift a few pm): the dark spins' couplings and resonances once, at the middle one
        at = slice(n // 2, n // 2 + 1) if self._still(nv_at, apex, times, rf) else slice(None)
        couplings, offset, rabi = self._dark_spins(nv_at[at], times[at],
                                                   None if apex is None else apex[at],
                                                   [a[at] for a in rf])

        def factor(block: nv_spin.Block) -> np.ndarray:
            lo, hi = block.toggling[0][0], block.toggling[-1][1]
            flips = [((a + b) / 2, _flip(offset, rabi, b - a, self.spec.dark_spins.t2_star))
                     for a, b in rf_windows if lo <= (a + b) / 2 <= hi]
            bath = nv_spin.quasi_static_dephasing(np.full(n, block.toggled), spin.t2_star)
            return bath * np.broadcast_to(dark_spins.coherence_left(block, flips, couplings),
                                          (n,))

        return factor


def _spread(values: np.ndarray) -> float:
    return float(np.ptp(values, axis=0).max()) if len(values) else 0.0


def _flip(offset: np.ndarray, rabi: np.ndarray, duration: float, t2_star: float) -> np.ndarray:
    """(n, spins) flip probabilities of one RF pulse, per repetition's Rabi frequency."""
    return np.stack([dark_spins.flip_probability(o, r, duration, t2_star)
                     for o, r in zip(offset, rabi, strict=True)])


def _output(generator: "SimSignalGenerator | None", times: np.ndarray):
    """(on, frequency, power) of a generator at `times`; off if the world has none."""
    if generator is None:
        return np.zeros(len(times), bool), np.zeros(len(times)), np.zeros(len(times))
    return generator.output_at(times)


def _dark_spin_positions(spec: SensorSpec, rng: np.random.Generator) -> np.ndarray:
    dark = spec.dark_spins
    if dark is None:
        return np.empty((0, 3))
    parts = [np.array(dark.coherent).reshape(-1, 3)]
    if dark.layer is not None:
        layer = dark.layer
        parts.append(dark_spins.surface_layer(layer.density, layer.height, layer.radius, rng))
    return np.concatenate(parts)


def _ferritin_cores(spec: SensorSpec, rng: np.random.Generator) -> np.ndarray:
    """(k, 3) core centres from the apex; the section's surface is at the apex, the cores
    above it (into the section)."""
    if spec.ferritin is None:
        return np.empty((0, 3))
    return np.concatenate([ferritin.cluster(c.centre, c.size, c.cores, c.depth, rng)
                           for c in spec.ferritin.clusters])
