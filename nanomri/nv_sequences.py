"""The standard NV pulse sequences (ODMR, Rabi, Ramsey, echo, T1, DEER) as `Sequence` data.

Every repetition starts with the laser: its first `readout` seconds gate the photons that read
the spin the previous repetition prepared (gate 0), its last `readout` seconds the pumped ms=0
reference (gate 1); the rest of the pulse polarises the spin again. After a `settle` wait
(the metastable singlet empties) come the MW and RF pulses of the measurement. Times are
rounded to the sequencer's `grid`.
"""

from dataclasses import dataclass

import numpy as np

from .sequence import Pulse, Sequence

GATE = "gate"


@dataclass(frozen=True)
class Timing:
    """Laser and readout timing shared by every sequence (s)."""

    laser: float = 3.0e-6  # initialisation and readout pulse
    readout: float = 0.3e-6  # photons gated at the start (signal) and end (reference)
    settle: float = 1.0e-6  # after the laser, before the first MW pulse
    grid: float = 1.0e-9  # the sequencer's time step


def _on_grid(t: float, grid: float) -> float:
    return round(t / grid) * grid


def _build(timing: Timing, body: list[Pulse], body_length: float) -> Sequence:
    """Laser with its two gates, then `body` (times from the end of the settle wait)."""
    g = timing.grid
    t0 = _on_grid(timing.laser + timing.settle, g)
    pulses = [Pulse("laser", 0.0, _on_grid(timing.laser, g)),
              Pulse(GATE, 0.0, _on_grid(timing.readout, g)),
              Pulse(GATE, _on_grid(timing.laser - timing.readout, g), _on_grid(timing.readout, g))]
    pulses += [Pulse(p.channel, _on_grid(t0 + p.start, g), _on_grid(p.duration, g))
               for p in body if p.duration > 0]
    return Sequence(tuple(pulses), _on_grid(t0 + body_length + timing.settle, g))


def rabi(duration: float, timing: Timing = Timing()) -> Sequence:
    """One MW pulse of `duration`: Rabi oscillation of the readout as it grows."""
    return _build(timing, [Pulse("mw", 0.0, duration)], duration)


def pulsed_odmr(pi: float, timing: Timing = Timing()) -> Sequence:
    """One MW pi pulse, swept in frequency by the caller: a dip at the resonance."""
    return rabi(pi, timing)


def ramsey(tau: float, pi_half: float, timing: Timing = Timing()) -> Sequence:
    """pi/2 - tau - pi/2: fringes in tau at the MW detuning, decaying with T2*."""
    return _build(timing, [Pulse("mw", 0.0, pi_half), Pulse("mw", pi_half + tau, pi_half)],
                  2 * pi_half + tau)


def echo(tau: float, pi_half: float, pi: float, timing: Timing = Timing()) -> Sequence:
    """pi/2 - tau - pi - tau - pi/2 (Hahn echo, tau from pulse centre to centre): static fields
    refocus, the coherence decays with T2."""
    return deer(tau, pi_half, pi, rf_pi=0.0, timing=timing)


def deer(tau: float, pi_half: float, pi: float, rf_pi: float,
         timing: Timing = Timing()) -> Sequence:
    """Hahn echo with an RF pi pulse on the dark spins at the NV's pi pulse (seed 001, Fig. 1b):
    only dark spins the RF flips leave a phase on the NV. `rf_pi` 0 is the plain echo."""
    g = timing.grid
    a, p = _on_grid(pi_half, g), _on_grid(pi, g)
    start = _on_grid(a / 2 + tau - p / 2, g)  # the pi pulse, its centre tau after the first's
    last = 2 * start + p - a  # the last pulse as far after the pi pulse's centre: on the grid
    body = [Pulse("mw", 0.0, a), Pulse("mw", start, p), Pulse("mw", last, a)]
    if rf_pi > 0:
        body.append(Pulse("rf", start + p / 2 - rf_pi / 2, rf_pi))
    return _build(timing, body, last + a)


def t1(tau: float, pi: float = 0.0, timing: Timing = Timing()) -> Sequence:
    """Dark time `tau` after pumping (seed 000: 5 us laser, tau, readout); with a MW pi pulse
    first, ms=-1 relaxes instead, the reference that cancels the laser's drifts."""
    return _build(timing, [Pulse("mw", 0.0, pi)], pi + tau)


CW_DWELL = 10e-6  # s of MW on (and then off) in a CW-ODMR point's repetition


def cw_odmr(dwell: float, timing: Timing = Timing()) -> Sequence:
    """Laser on throughout, the MW on for the first `dwell` and off for the next: gate 0 counts
    the second half of the MW-on time (a CW-ESR dip), gate 1 the same of the MW-off time, the
    reference."""
    g = timing.grid
    d = _on_grid(dwell, g)
    half = _on_grid(dwell / 2, g)
    return Sequence((Pulse("laser", 0.0, 2 * d), Pulse("mw", 0.0, d),
                     Pulse(GATE, d - half, half), Pulse(GATE, 2 * d - half, half)), 2 * d)


@dataclass(frozen=True)
class Times:
    """The free times of an NV measurement (s): what its sequence-parameter motors set.

    `tau` is the measurement's own time (T1's dark time, Ramsey's free time, the echo's and
    DEER's tau, CW-ESR's dwell), `mw_pulse` Rabi's MW pulse, and `pi`, `pi_half`, `rf_pi` the
    calibrated MW and RF pulses the other measurements use.
    """

    tau: float = 1.0e-6
    mw_pulse: float = 50e-9
    pi: float = 50e-9
    pi_half: float = 25e-9
    rf_pi: float = 100e-9


MEASUREMENTS = {
    "odmr": lambda t: pulsed_odmr(t.pi),
    "cwodmr": lambda t: cw_odmr(CW_DWELL),
    "rabi": lambda t: rabi(t.mw_pulse),
    "ramsey": lambda t: ramsey(t.tau, t.pi_half),
    "echo": lambda t: echo(t.tau, t.pi_half, t.pi),
    "t1": lambda t: t1(t.tau),
    "deer": lambda t: deer(t.tau, t.pi_half, t.pi, t.rf_pi),
    "cwesr": lambda t: cw_odmr(t.tau),
}


def measurement(name: str, times: Times) -> Sequence:
    """The sequence of measurement `name` (one of `MEASUREMENTS`) at `times`."""
    if name not in MEASUREMENTS:
        raise ValueError(f"measurement must be one of {', '.join(MEASUREMENTS)}, got {name!r}")
    bad = {k: v for k, v in vars(times).items() if not (v >= 0 and v < float("inf"))}
    if bad:
        raise ValueError(f"times must be finite and >= 0 s, got {bad}")
    return MEASUREMENTS[name](times)


TRIGGER_PULSE = 1.0e-6  # s high on the trigger channel: a generator's trigger input takes >= 1 us


def sweep_point(measurement: Sequence, repetitions: int, settle: float, trigger: str,
                timing: Timing = Timing()) -> Sequence:
    """One point of a sweep stepped in hardware: `settle` s for the generator to settle on the
    point, `repetitions` of `measurement` back to back, then a pulse on `trigger` whose rising
    edge steps the generator to its next point (after the last, back to its first).

    Played once per point of the sweep, and the whole sweep as often as wanted, a counter that
    keeps a bin per sequencer repetition (a fast counter's histograms, stepped by the same
    sequence) holds the gates of every point apart: point j's gates are bin j.
    """
    if repetitions < 1:
        raise ValueError(f"a sweep point plays at least 1 repetition, got {repetitions}")
    if trigger in {p.channel for p in measurement.pulses}:
        raise ValueError(f"the trigger channel {trigger!r} is used by the measurement")
    g = timing.grid
    length = round(measurement.length / g)
    first = round(settle / g)
    if first < 0 or length <= 0:
        raise ValueError(f"a sweep point needs settle >= 0 s and a measurement that lasts, got "
                         f"settle {settle:g} s and length {measurement.length:g} s")
    offsets = first + length * np.arange(repetitions)
    pulses = [Pulse(p.channel, int(o + round(p.start / g)) * g, p.duration)
              for o in offsets.tolist() for p in measurement.pulses]
    end = first + length * repetitions + round(TRIGGER_PULSE / g)
    pulses.append(Pulse(trigger, (end - round(TRIGGER_PULSE / g)) * g, TRIGGER_PULSE))
    return Sequence(tuple(pulses), end * g)
