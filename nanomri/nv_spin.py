"""The NV centre's spin under the laser and MW pulses it is played: expected readout per pixel.

The state is kept in the ms=0 / ms=-1 pair the MW drives, as (x, y, z, w, 1): the Bloch
vector (x, y, z = p0 - p(-1)) and the population w = p0 + p(-1) (ms=+1 holds 1 - w), so that
every step — MW rotation, free precession, optical pumping, T1 and T2 relaxation — is an
affine map, a 5x5 matrix, batched over pixels. One repetition of a sequence is a product of
such matrices; the state the pulses meet after many repetitions is its fixed point, so 1e5
repetitions cost one repetition (their photon statistics are drawn by the caller).

Dephasing by static but random fields — the quasi-static spin bath (T2*) and dark spins that
an RF pulse may flip — is applied in the toggling frame of the MW pulses (filter-function
picture, pulses short against the dephasing): between the first and the last MW pulse of a
block without laser, the NV's coherence gains phase 2 pi delta Y, Y the free time counted
with the sign the intermediate (pi-like) pulses give it. The caller's `dephasing` turns the Y
of each block into the factor its coherence keeps.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .sequence import Sequence

ZERO_FIELD_SPLITTING = 2.87e9  # Hz, NV ground-state D
GAMMA_E = 28.0e9  # Hz/T, electron spin with g = 2
MIXED_W = 2.0 / 3.0  # p0 + p(-1) when the three levels are equally populated


@dataclass(frozen=True)
class SpinProperties:
    """One NV centre's spin: relaxation, optical pumping and readout contrast."""

    t1: float  # s, decay time of the ms=0 polarisation
    t2: float  # s, spin-echo coherence time
    t2_star: float  # s, free-induction (Ramsey) decay time of the quasi-static bath
    contrast: float  # fluorescence of ms=+-1 is (1 - contrast) times that of ms=0
    polarisation: float  # ms=0 population optical pumping reaches
    pumping_time: float  # s, 1/e time of optical pumping at saturation
    rabi_per_sqrt_watt: float  # Hz of Rabi frequency per sqrt(W) of MW power


def transition_frequency(b_parallel: np.ndarray | float) -> np.ndarray:
    """ms=0 <-> ms=-1 frequency |D - gamma_e B_par| (Hz): secular NV Hamiltonian, field on its
    axis (Doherty et al., Phys. Rep. 528, 1 (2013))."""
    return np.abs(ZERO_FIELD_SPLITTING - GAMMA_E * np.asarray(b_parallel, dtype=float))


def rabi_frequency(power: np.ndarray | float, spin: SpinProperties) -> np.ndarray:
    """Rabi frequency (Hz) of a resonant MW of `power` (W): the drive field goes as sqrt(P)."""
    return spin.rabi_per_sqrt_watt * np.sqrt(np.asarray(power, dtype=float))


def quasi_static_dephasing(y: np.ndarray, t2_star: float) -> np.ndarray:
    """Coherence kept after a toggled free time `y` in a Gaussian quasi-static field:
    <cos 2 pi delta y> = exp(-(y/T2*)^2), sigma_delta = 1/(sqrt(2) pi T2*)."""
    return np.exp(-((np.asarray(y) / t2_star) ** 2))


@dataclass(frozen=True)
class Segment:
    """An interval of one repetition during which no channel changes."""

    start: float
    end: float
    laser: bool
    mw: bool

    @property
    def duration(self) -> float:
        return self.end - self.start


def segments(sequence: Sequence, channels: tuple[str, ...] = ("laser", "mw")) -> list[Segment]:
    """Cut one repetition at every edge of the laser and MW channels."""
    windows = {c: sequence.windows(c) for c in channels}
    edges = np.unique(np.concatenate([[0.0, sequence.length],
                                      *(w.ravel() for w in windows.values())]))
    edges = edges[(edges >= 0.0) & (edges <= sequence.length)]
    mids = (edges[:-1] + edges[1:]) / 2
    on = {c: inside(mids, w) for c, w in windows.items()}
    return [Segment(float(a), float(b), bool(on["laser"][i]), bool(on["mw"][i]))
            for i, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True)) if b > a]


def inside(times: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """True where a time lies in one of the (possibly overlapping) [start, end) `windows`:
    more of them have started than ended by then."""
    started = np.searchsorted(np.sort(windows[:, 0]), times, side="right")
    ended = np.searchsorted(np.sort(windows[:, 1]), times, side="right")
    return started > ended


@dataclass(frozen=True)
class Block:
    """MW pulses between two laser pulses: where a coherence lives. `dephase_at` is the index
    (in the repetition's segments) of the last MW pulse, before which dephasing applies;
    `toggling` the (start, end, sign) pieces of the toggling function between the first pulse's
    end and the last pulse's start."""

    dephase_at: int
    toggling: "Pieces"

    @property
    def toggled(self) -> float:
        """Y: the free time counted with the toggling function's sign."""
        return sum(sign * (b - a) for a, b, sign in self.toggling)

    def toggled_before(self, t: float) -> float:
        """The part of Y before time `t` (e.g. an RF pulse's centre)."""
        return sum(sign * (min(b, t) - a) for a, b, sign in self.toggling if t > a)


def blocks(segs: list[Segment], rabi: float) -> list[Block]:
    """The coherent blocks of a repetition: two MW pulses or more between laser pulses."""
    found, pulses, indices = [], [], []
    for i, s in enumerate(segs + [Segment(np.inf, np.inf, True, False)]):
        if s.laser:
            if len(pulses) >= 2:
                found.append(Block(indices[-1], toggling(pulses, rabi)))
            pulses, indices = [], []
        elif s.mw:
            if pulses and pulses[-1][1] == s.start:
                pulses[-1] = (pulses[-1][0], s.end)
            else:
                pulses.append((s.start, s.end))
                indices.append(i)
    return found


Pieces = tuple[tuple[float, float, float], ...]


def toggling(pulses: list[tuple[float, float]], rabi: float) -> Pieces:
    """The toggling function from the end of the first pulse to the start of the last, as
    (start, end, sign) pieces: an intermediate pulse whose nominal angle passes pi/2 flips the
    sign at its centre, as an echo's pi pulse does."""
    pieces, sign, t = [], 1.0, pulses[0][1]
    for start, end in pulses[1:-1]:
        centre = (start + end) / 2
        pieces.append((t, centre, sign))
        if np.cos(2 * np.pi * rabi * (end - start)) < 0:
            sign = -sign
        t = centre
    pieces.append((t, pulses[-1][0], sign))
    return tuple(pieces)


def _eye(n: int) -> np.ndarray:
    return np.broadcast_to(np.eye(5), (n, 5, 5)).copy()


def rotation(rabi: np.ndarray, detuning: np.ndarray, duration: float) -> np.ndarray:
    """(n, 5, 5) MW rotation: dr/dt = omega x r, omega = 2 pi (rabi, 0, detuning)."""
    omega = 2 * np.pi * np.stack(np.broadcast_arrays(rabi, np.zeros_like(detuning), detuning),
                                 axis=-1)
    norm = np.linalg.norm(omega, axis=-1)
    axis = omega / np.where(norm > 0, norm, 1.0)[:, None]
    angle = norm * duration
    k = np.zeros(axis.shape[:-1] + (3, 3))
    k[:, 0, 1], k[:, 0, 2] = -axis[:, 2], axis[:, 1]
    k[:, 1, 0], k[:, 1, 2] = axis[:, 2], -axis[:, 0]
    k[:, 2, 0], k[:, 2, 1] = -axis[:, 1], axis[:, 0]
    s, c = np.sin(angle)[:, None, None], (1 - np.cos(angle))[:, None, None]
    m = _eye(len(axis))
    m[:, :3, :3] += s * k + c * (k @ k)  # Rodrigues
    return m


def relaxation(n: int, duration: float, spin: SpinProperties, pumping_rate: float) -> np.ndarray:
    """(n, 5, 5) T1, T2 and optical pumping over `duration` (affine: toward their equilibria)."""
    g1 = 1.0 / spin.t1 + pumping_rate
    z_eq = (pumping_rate * (1.5 * spin.polarisation - 0.5)) / g1
    w_eq = (MIXED_W / spin.t1 + pumping_rate * 0.5 * (1 + spin.polarisation)) / g1
    decay1 = np.exp(-g1 * duration)
    decay2 = np.exp(-(1.0 / spin.t2 + pumping_rate) * duration)
    m = _eye(n)
    m[:, 0, 0] = m[:, 1, 1] = decay2
    m[:, 2, 2] = m[:, 3, 3] = decay1
    m[:, 2, 4] = z_eq * (1 - decay1)
    m[:, 3, 4] = w_eq * (1 - decay1)
    return m


def precession(detuning: np.ndarray, duration: float) -> np.ndarray:
    """(n, 5, 5) free precession about z at `detuning` (Hz) in the MW's rotating frame."""
    phi = 2 * np.pi * detuning * duration
    m = _eye(len(detuning))
    m[:, 0, 0] = m[:, 1, 1] = np.cos(phi)
    m[:, 0, 1], m[:, 1, 0] = -np.sin(phi), np.sin(phi)
    return m


def dephasing_matrix(factor: np.ndarray) -> np.ndarray:
    m = _eye(len(factor))
    m[:, 0, 0] = m[:, 1, 1] = factor
    return m


@dataclass(frozen=True)
class Readout:
    """Per pixel and laser segment: ms=0 population at laser-on, the level pumping drives it to,
    and the rate (1/s) it goes there at."""

    segments: list[Segment]
    p0_start: np.ndarray  # (pixels, laser segments)
    p0_pumped: np.ndarray
    rate: np.ndarray  # (pixels, laser segments)


def _p0(state: np.ndarray) -> np.ndarray:
    return (state[..., 3] + state[..., 2]) / 2


def repetition_maps(sequence: Sequence, detuning: np.ndarray, rabi: float,
                    spin: SpinProperties, saturation: float,
                    dephasing: Callable[[Block], np.ndarray] | None = None,
                    ) -> tuple[list[Segment], list[np.ndarray]]:
    """The segments of one repetition and the (pixels, 5, 5) map of each, per pixel of MW
    `detuning` (Hz, the NV's transition minus the MW frequency). `saturation` is the laser's
    s/(1+s); `dephasing(block)` gives the coherence factor (pixels,) a block keeps, by default
    the quasi-static bath's."""
    segs = segments(sequence)
    return segs, segment_maps(segs, detuning, rabi, spin, saturation, dephasing)


def segment_maps(segs: list[Segment], detuning: np.ndarray, rabi: float, spin: SpinProperties,
                 saturation: float, dephasing: Callable[[Block], np.ndarray] | None = None,
                 ) -> list[np.ndarray]:
    """The (pixels, 5, 5) map of each of `segs`, as `repetition_maps` makes them."""
    n = len(detuning)
    pumping = saturation / spin.pumping_time
    at = {b.dephase_at: b for b in blocks(segs, float(np.max(rabi)))}
    maps = []
    for i, s in enumerate(segs):
        if s.mw and s.laser:
            m = _cw(detuning, rabi, s.duration, spin, pumping)
        else:
            m = relaxation(n, s.duration, spin, pumping if s.laser else 0.0)
            if s.mw:
                m = m @ rotation(np.full(n, rabi), detuning, s.duration)
            elif not s.laser:
                m = m @ precession(detuning, s.duration)
        if i in at:
            block = at[i]
            factor = (dephasing(block) if dephasing is not None
                      else quasi_static_dephasing(np.full(n, block.toggled), spin.t2_star))
            m = m @ dephasing_matrix(factor)
        maps.append(m)
    return maps


def steady_state(sequence: Sequence, detuning: np.ndarray, rabi: float, spin: SpinProperties,
                 saturation: float,
                 dephasing: Callable[[Block], np.ndarray] | None = None) -> Readout:
    """What the laser reads in a sequence repeated many times (see `repetition_maps`): the
    repetitions start from the state one repetition maps onto itself."""
    detuning = np.atleast_1d(np.asarray(detuning, dtype=float))
    segs, maps = repetition_maps(sequence, detuning, rabi, spin, saturation, dephasing)
    state = _fixed_point(maps, len(detuning))
    return laser_readout(segs, maps, state, spin, saturation / spin.pumping_time)


def _cw(detuning: np.ndarray, rabi: float, duration: float, spin: SpinProperties,
        pumping: float) -> np.ndarray:
    """(n, 5, 5) drive and optical pumping at once: exp(L t) of the Bloch equations' generator
    by scaling and squaring (Taylor to 8th order at a step where |L| dt < 1/2)."""
    n = len(detuning)
    g = np.zeros((n, 5, 5))
    rx, rz = 2 * np.pi * rabi, 2 * np.pi * detuning
    g[:, 0, 1], g[:, 1, 0] = -rz, rz  # omega x r, omega = (rx, 0, rz)
    g[:, 1, 2], g[:, 2, 1] = -rx, rx
    g1, g2 = 1.0 / spin.t1 + pumping, 1.0 / spin.t2 + pumping
    g[:, 0, 0] = g[:, 1, 1] = -g2
    g[:, 2, 2] = g[:, 3, 3] = -g1
    g[:, 2, 4] = pumping * (1.5 * spin.polarisation - 0.5)
    g[:, 3, 4] = MIXED_W / spin.t1 + pumping * 0.5 * (1 + spin.polarisation)
    norm = float(np.abs(g).sum(axis=2).max()) * duration
    squarings = max(0, int(np.ceil(np.log2(max(norm, 1e-300) / 0.5))))
    step = g * (duration / 2**squarings)
    m, term = _eye(n), _eye(n)
    for k in range(1, 9):
        term = term @ step / k
        m = m + term
    for _ in range(squarings):
        m = m @ m
    return m


def _fixed_point(maps: list[np.ndarray], n: int) -> np.ndarray:
    """State at the start of a repetition that one repetition maps onto itself."""
    total = _eye(n)
    for m in maps:
        total = m @ total
    a, b = total[:, :4, :4], total[:, :4, 4]
    lhs = np.eye(4) - a
    solvable = np.abs(np.linalg.det(lhs)) > 1e-12
    state = np.tile([0.0, 0.0, 0.0, MIXED_W, 1.0], (n, 1))  # no pumping, no T1: mixed
    if solvable.any():
        state[solvable, :4] = np.linalg.solve(lhs[solvable], b[solvable][..., None])[..., 0]
    return state


def laser_readout(segs: list[Segment], maps: list[np.ndarray], state: np.ndarray,
                  spin: SpinProperties, pumping: float) -> Readout:
    """What each laser segment reads, the repetition starting from `state` (pixels, 5)."""
    laser, starts, pumped, rates = [], [], [], []
    for s, m in zip(segs, maps, strict=True):
        after = np.einsum("nij,nj->ni", m, state)
        if s.laser:
            laser.append(s)
            starts.append(_p0(state))
            if s.mw:  # CW: the state the drive and pumping settle in, reached at once
                pumped.append(_p0(after))
                rates.append(np.full(len(state), np.inf))
            else:
                eq = relaxation(len(state), np.inf, spin, pumping)
                pumped.append(_p0(eq[:, :, 4]))
                rates.append(np.broadcast_to(pumping + 1.0 / spin.t1, (len(state),)))
        state = after
    empty = np.empty((len(state), 0))
    stack = [np.stack(v, axis=1) if v else empty for v in (starts, pumped, rates)]
    return Readout(laser, *stack)


def gate_brightness(readout: Readout, gates: np.ndarray, contrast: float) -> np.ndarray:
    """(pixels, gates) the NV's mean fluorescence, relative to a pumped ms=0, over the part of
    each gate the laser lights: 1 - C (1 - p0(t)), p0 relaxing exponentially from its value at
    laser-on to its pumped level (1 for a gate the laser never lights: it sees no NV)."""
    gates = np.asarray(gates, dtype=float).reshape(-1, 2)
    out = np.zeros((readout.p0_start.shape[0], len(gates)))
    lit = np.zeros(len(gates))
    for j, (g0, g1) in enumerate(gates):
        for k, s in enumerate(readout.segments):
            a, b = max(g0, s.start) - s.start, min(g1, s.end) - s.start
            if b > a:
                p0 = _mean_relaxing(readout.p0_start[:, k], readout.p0_pumped[:, k],
                                    readout.rate[:, k], a, b)
                out[:, j] += (b - a) * (1 - contrast * (1 - p0))
                lit[j] += b - a
    return np.where(lit > 0, out / np.where(lit > 0, lit, 1.0), 1.0)


def _mean_relaxing(p_start: np.ndarray, p_end: np.ndarray, rate: np.ndarray, a: float,
                   b: float) -> np.ndarray:
    """Mean over [a, b] of p_end + (p_start - p_end) exp(-rate t); p_end at once if rate is
    infinite."""
    finite = np.where(np.isfinite(rate), rate, 1.0)
    weight = (np.exp(-finite * a) - np.exp(-finite * b)) / (finite * (b - a))
    return p_end + (p_start - p_end) * np.where(np.isfinite(rate), weight, 0.0)


CONVERGED = 1e-12  # largest change of the state over a part taken as none: its fixed point


def brightness(sequence: Sequence, detuning: np.ndarray, rabi: float, spin: SpinProperties,
               saturation: float,
               dephasing: Callable[[Block], np.ndarray] | None = None) -> np.ndarray:
    """(pixels, gates) `gate_brightness` of the `steady_state` of `sequence`, at the cost of its
    distinct parts rather than of its length.

    A laser pulse starts each part. Parts alike (the same segments, gates and RF pulses from
    their start) map the state alike, so the repetition's map is a product of a few maps'
    powers; and along a run of alike parts the laser pumps the state to that part's own fixed
    point within a few parts (to `CONVERGED`), after which every part of the run reads the
    same. A sweep point's thousands of repetitions of a measurement cost a few of them.
    """
    detuning = np.atleast_1d(np.asarray(detuning, dtype=float))
    segs, gates, parts, gate_parts, keys = _structure(sequence)
    if gate_parts is None:  # a gate spans parts: the whole repetition at once
        readout = steady_state(sequence, detuning, rabi, spin, saturation, dephasing)
        return gate_brightness(readout, gates, spin.contrast)
    maps: dict[tuple, tuple[list[np.ndarray], np.ndarray]] = {}
    for (a, b), key in zip(parts, keys, strict=True):
        if key not in maps:
            ms = segment_maps(segs[a:b], detuning, rabi, spin, saturation, dephasing)
            maps[key] = (ms, _product(ms, len(detuning)))
    runs = _runs(keys)
    total = _eye(len(detuning))
    for first, count in runs:
        total = np.linalg.matrix_power(maps[keys[first]][1], count) @ total
    state = _fixed_point([total], len(detuning))
    out = np.empty((len(detuning), len(gates)))
    pumping = saturation / spin.pumping_time
    for first, count in runs:
        ms, product = maps[keys[first]]
        for i in range(first, first + count):
            (a, b), mine = parts[i], slice(gate_parts[i], gate_parts[i + 1])
            readout = laser_readout(segs[a:b], ms, state, spin, pumping)
            out[:, mine] = gate_brightness(readout, gates[mine], spin.contrast)
            after = np.einsum("nij,nj->ni", product, state)
            converged = np.max(np.abs(after - state), initial=0.0) <= CONVERGED
            state = after
            if converged:  # the rest of the run reads as this part
                rest = out[:, gate_parts[i + 1]:gate_parts[first + count]]
                if rest.size:
                    rest.reshape(len(out), -1, mine.stop - mine.start)[:] = out[:, None, mine]
                break
    return out


def _structure(sequence: Sequence) -> tuple:
    """Segments, gates, parts, the gates of each part and the parts' keys of `sequence`,
    worked out once per sequence object: a counter read during a run asks again at every
    read, and a sweep point's parts take a tenth of a second."""
    known = sequence.__dict__.get("_nv_spin_structure")  # as functools.cached_property keeps
    if known is None:
        segs, gates = segments(sequence), sequence.windows("gate")
        parts = _parts(segs)
        gate_parts = _split(gates, segs, parts)
        keys = (None if gate_parts is None
                else _part_keys(segs, parts, gates, gate_parts, sequence.windows("rf")))
        known = sequence.__dict__["_nv_spin_structure"] = (segs, gates, parts, gate_parts, keys)
    return known


def _parts(segs: list[Segment]) -> list[tuple[int, int]]:
    """(first, end) segment indices of the parts of a repetition: cut where a laser pulse
    starts."""
    cuts = [i for i, s in enumerate(segs) if s.laser and (i == 0 or not segs[i - 1].laser)]
    bounds = sorted({0, *cuts, len(segs)})
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _split(windows: np.ndarray, segs: list[Segment],
           parts: list[tuple[int, int]]) -> np.ndarray | None:
    """(parts + 1,) bounds of the (sorted) windows each part holds, None if one spans two."""
    starts = np.array([segs[a].start for a, _ in parts] + [segs[-1].end])
    lo = np.searchsorted(starts, windows[:, 0], side="right") - 1
    hi = np.searchsorted(starts, windows[:, 1], side="left") - 1
    if not ((lo == hi) | (windows[:, 1] <= windows[:, 0])).all() or np.any(np.diff(lo) < 0):
        return None
    return np.searchsorted(lo, np.arange(len(parts) + 1), side="left")


def _part_keys(segs: list[Segment], parts: list[tuple[int, int]], gates: np.ndarray,
               gate_parts: np.ndarray, rf: np.ndarray) -> list[tuple]:
    """What each part does from its start, in steps of 1 ps: alike parts have equal keys."""
    bounds = np.array([a for a, _ in parts] + [len(segs)])
    ends = np.array([s.end for s in segs])
    flags = np.array([(s.laser, s.mw) for s in segs], dtype=bool)
    origin = np.array([segs[a].start for a, _ in parts])
    of_seg = np.repeat(np.arange(len(parts)), np.diff(bounds))
    rel_ends = np.round((ends - origin[of_seg]) * 1e12).astype(np.int64)
    of_gate = np.repeat(np.arange(len(parts)), np.diff(gate_parts))
    rel_gates = np.round((gates - origin[of_gate, None]) * 1e12).astype(np.int64)
    rf_parts = _rf_parts(rf, origin, ends[-1])
    keys = []
    for i in range(len(parts)):
        a, b = bounds[i], bounds[i + 1]
        keys.append((flags[a:b].tobytes(), rel_ends[a:b].tobytes(),
                     rel_gates[gate_parts[i]:gate_parts[i + 1]].tobytes(), rf_parts[i]))
    return keys


def _rf_parts(rf: np.ndarray, origin: np.ndarray, end: float) -> list[bytes]:
    """Per part, the RF windows overlapping it from its start, in ps (few: DEER's)."""
    limits = np.append(origin, end)
    out = [b""] * len(origin)
    for i in np.unique(np.clip(np.searchsorted(limits, rf[:, 0], side="right") - 1, 0, None)):
        i = min(int(i), len(origin) - 1)
        inside = rf[(rf[:, 1] > limits[i]) & (rf[:, 0] < limits[i + 1])]
        out[i] = np.round((inside - origin[i]) * 1e12).astype(np.int64).tobytes()
    return out


def _product(maps: list[np.ndarray], n: int) -> np.ndarray:
    total = _eye(n)
    for m in maps:
        total = m @ total
    return total


def _runs(keys: list[tuple]) -> list[tuple[int, int]]:
    """(first index, length) of each run of equal consecutive keys."""
    runs: list[tuple[int, int]] = []
    for i, key in enumerate(keys):
        if runs and keys[runs[-1][0]] == key:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((i, 1))
    return runs
