"""Pulse sequences as data: pulses on named channels, one repetition long, checked and serialised.

A sequence is what the PulseSequencer device loads (as JSON), what its simulator plays and what
every data file stores. Times are in seconds from the start of a repetition.
"""

import json
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

CHANNELS = ("laser", "mw", "rf", "gate", "camera", "spare")
MAX_GRID = 2**47  # grid steps (39 h at 1 ns): beyond, float times lose the grid (see Grid)


class SequenceError(ValueError):
    """A sequence that cannot be played, with the reason in one line."""


@dataclass(frozen=True)
class Pulse:
    """Channel `channel` high from `start` for `duration` seconds."""

    channel: str
    start: float
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class Sequence:
    """One repetition of `length` seconds; channels not pulsed stay low."""

    pulses: tuple[Pulse, ...]
    length: float

    def to_json(self) -> str:
        pulses = [{"channel": p.channel, "start": p.start, "duration": p.duration}
                  for p in self.pulses]  # as dataclasses.asdict, 10 times faster
        return json.dumps({"length": self.length, "pulses": pulses})

    @classmethod
    def from_json(cls, text: str) -> "Sequence":
        """Parse `{"length": s, "pulses": [{"channel", "start", "duration"}, ...]}`."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError, RecursionError) as exc:  # ValueError: JSONDecodeError,
            # integers of more than 4300 digits; RecursionError: nesting deeper than Python's
            raise SequenceError(f"sequence is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or set(data) != {"length", "pulses"}:
            raise SequenceError('a sequence is a JSON object with exactly "length" and "pulses"')
        if not isinstance(data["pulses"], list):
            raise SequenceError('"pulses" must be a list')
        pulses = tuple(_pulse(i, p) for i, p in enumerate(data["pulses"]))
        return cls(pulses, _number("length", data["length"]))

    def windows(self, channel: str) -> np.ndarray:
        """(n, 2) start and end times of `channel`'s pulses, in time order (a copy)."""
        return self._windows.get(channel, np.empty((0, 2))).copy()

    @cached_property
    def _windows(self) -> dict[str, np.ndarray]:
        """Every channel's windows, sorted once: simulated instruments ask for them at every
        read, and a raster's sequence holds a gate per pixel."""
        spans: dict[str, list[tuple[float, float]]] = {}
        for p in self.pulses:
            spans.setdefault(p.channel, []).append((p.start, p.end))
        return {c: np.asarray(sorted(w), dtype=float).reshape(-1, 2) for c, w in spans.items()}


def _number(name: str, value: object) -> float:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 1e300:
        value = float(value)  # an integer too large for a float is no number of seconds
    if not isinstance(value, float) or not math.isfinite(value):
        raise SequenceError(f"{name} must be a finite number of seconds, got {value!r:.40}")
    return value


def _pulse(index: int, item: object) -> Pulse:
    if not isinstance(item, dict) or set(item) != {"channel", "start", "duration"}:
        raise SequenceError(f'pulse {index} must have exactly "channel", "start", "duration"')
    return Pulse(str(item["channel"]), _number(f"pulse {index} start", item["start"]),
                 _number(f"pulse {index} duration", item["duration"]))


def check(seq: Sequence, sample_rate: float, granularity: int, max_steps: int,
          channels: tuple[str, ...] = CHANNELS) -> int:
    """Refuse what hardware cannot play; return the RLE steps of one repetition.

    Every edge must fall on the grid of `granularity` samples, pulses on one channel must not
    overlap and all must fit in the repetition. The instrument stores a repetition run-length
    encoded, as (duration, levels of every channel) steps: one step per segment between edge
    times of any channel (distinct edge times strictly inside the repetition, plus one; an
    end and a start that touch count as an edge, an upper bound). The steps must fit in
    `max_steps`, whatever the length.
    """
    grid = Grid(granularity / sample_rate, seq.length)
    length = grid.steps("length", seq.length)
    if length <= 0:
        raise SequenceError(f"length must be positive, got {seq.length:g} s")
    starts, ends, codes = _grid_pulses(seq, grid, length, channels)
    _check_overlaps(seq, starts, ends, codes, channels)
    edges = np.concatenate((starts, ends))
    steps = np.unique(edges[(edges > 0) & (edges < length)]).size + 1
    if steps > max_steps:
        raise SequenceError(f"sequence of {steps} steps exceeds the memory of {max_steps} "
                            f"steps (run-length encoded, of one {seq.length:g} s repetition)")
    return steps


@dataclass(frozen=True)
class Grid:
    """The time grid of `step` seconds, for the times of a repetition of `length` seconds.

    A time is on the grid within a part in 1e6 of a step, or within the float rounding of
    times as long as the repetition (8 units in the last place of `length`: 1.4e-14 s at
    10 s), whichever is larger; `MAX_GRID` keeps that under a quarter of a step.
    """

    step: float
    length: float

    @property
    def slack(self) -> float:
        ulp = math.ulp(self.length) if math.isfinite(self.length) else 0.0
        return max(1e-6 * self.step, 8 * ulp)

    def steps(self, name: str, value: float) -> int:
        """`value` in grid steps; refuse a value off the grid or beyond it."""
        if not math.isfinite(value / self.step) or abs(value / self.step) >= MAX_GRID:
            raise SequenceError(f"{name} = {value:g} s is beyond any sequencer's time grid")
        steps = round(value / self.step)
        if abs(value - steps * self.step) > self.slack:
            raise SequenceError(f"{name} = {value:g} s is not a multiple of the granularity "
                                f"{self.step:g} s")
        return steps

    def fits(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`steps` over an array: (True where it accepts the value, the value in steps)."""
        with np.errstate(all="ignore"):  # inf, nan and overflow are refused, not warned about
            q = values / self.step
            g = np.round(q)
            ok = (np.isfinite(q) & (np.abs(q) < MAX_GRID)
                  & (np.abs(values - g * self.step) <= self.slack))
        return ok, np.where(ok, g, 0).astype(np.int64)


def _grid_pulses(seq: Sequence, grid: Grid, length: int,
                 channels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start and end of every pulse in grid steps and its channel's index in `channels`;
    the first pulse that cannot be played is refused with `_check_pulse`'s message."""
    n = len(seq.pulses)
    index = {c: i for i, c in enumerate(channels)}
    codes = np.fromiter((index.get(p.channel, -1) for p in seq.pulses), np.int64, n)
    start_ok, starts = grid.fits(np.fromiter((p.start for p in seq.pulses), float, n))
    duration_ok, durations = grid.fits(np.fromiter((p.duration for p in seq.pulses), float, n))
    ends = starts + durations
    bad = ((codes < 0) | ~start_ok | ~duration_ok | (durations <= 0) | (starts < 0)
           | (ends > length))
    if bad.any():
        first = int(np.argmax(bad))
        _check_pulse(first, seq.pulses[first], grid, length, channels)
        raise SequenceError(f"pulse {first} cannot be played")  # _check_pulse said why
    return starts, ends, codes


def _check_pulse(i: int, p: Pulse, grid: Grid, length: int, channels: tuple[str, ...]) -> None:
    """Refuse pulse `i` naming its first problem (channel, duration, start, outside)."""
    if p.channel not in channels:
        raise SequenceError(f"pulse {i}: unknown channel {p.channel!r}; channels: {channels}")
    duration = grid.steps(f"pulse {i} duration", p.duration)
    if duration <= 0:
        raise SequenceError(f"pulse {i} on {p.channel}: duration must be at least "
                            f"{grid.step:g} s, got {p.duration:g} s")
    start = grid.steps(f"pulse {i} start", p.start)
    if start < 0 or start + duration > length:
        raise SequenceError(f"pulse {i} on {p.channel} [{p.start:g}, {p.end:g}] s lies "
                            f"outside the repetition [0, {grid.length:g}] s")


def _check_overlaps(seq: Sequence, starts: np.ndarray, ends: np.ndarray, codes: np.ndarray,
                    channels: tuple[str, ...]) -> None:
    """Refuse two pulses on one channel that overlap: the first pair in time order of the
    first channel (in `channels` order) that has one."""
    order = np.lexsort((ends, starts, codes))
    s, e, c = starts[order], ends[order], codes[order]
    overlap = np.flatnonzero((c[1:] == c[:-1]) & (s[1:] < e[:-1]))
    if overlap.size:
        k = overlap[0]
        a, b = seq.pulses[order[k]], seq.pulses[order[k + 1]]
        raise SequenceError(f"pulses on {channels[c[k]]} overlap: [{a.start:g}, {a.end:g}] s "
                            f"and [{b.start:g}, {b.end:g}] s")
