"""Pulse sequences as data: pulses on named channels, one repetition long, checked and serialised.

A sequence is what the PulseSequencer device loads (as JSON), what its simulator plays and what
every data file stores. Times are in seconds from the start of a repetition.
"""

import json
import math
from dataclasses import asdict, dataclass

import numpy as np

CHANNELS = ("laser", "mw", "rf", "gate", "camera", "spare")


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
        return json.dumps({"length": self.length, "pulses": [asdict(p) for p in self.pulses]})

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
        """(n, 2) start and end times of `channel`'s pulses, in time order."""
        spans = sorted((p.start, p.end) for p in self.pulses if p.channel == channel)
        return np.asarray(spans, dtype=float).reshape(-1, 2)


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


def check(seq: Sequence, sample_rate: float, granularity: int, max_samples: int,
          channels: tuple[str, ...] = CHANNELS) -> int:
    """Refuse what hardware cannot play; return the samples of one repetition.

    Every edge must fall on the grid of `granularity` samples, pulses on one channel must not
    overlap, all must fit in the repetition, and the repetition in `max_samples`.
    """
    step = granularity / sample_rate
    samples = _on_grid("length", seq.length, step) * granularity
    if samples <= 0:
        raise SequenceError(f"length must be positive, got {seq.length:g} s")
    if samples > max_samples:
        raise SequenceError(f"sequence of {samples} samples ({seq.length:g} s) exceeds the "
                            f"memory of {max_samples} samples ({max_samples / sample_rate:g} s)")
    for i, p in enumerate(seq.pulses):
        if p.channel not in channels:
            raise SequenceError(f"pulse {i}: unknown channel {p.channel!r}; channels: {channels}")
        if _on_grid(f"pulse {i} duration", p.duration, step) <= 0:
            raise SequenceError(f"pulse {i} on {p.channel}: duration must be at least "
                                f"{step:g} s, got {p.duration:g} s")
        start = _on_grid(f"pulse {i} start", p.start, step)
        if start < 0 or p.end > seq.length * (1 + 1e-12):
            raise SequenceError(f"pulse {i} on {p.channel} [{p.start:g}, {p.end:g}] s lies "
                                f"outside the repetition [0, {seq.length:g}] s")
    for channel in channels:
        w = seq.windows(channel)
        overlap = np.flatnonzero(w[1:, 0] < w[:-1, 1] - step / 2)
        if overlap.size:
            a, b = w[overlap[0]], w[overlap[0] + 1]
            raise SequenceError(f"pulses on {channel} overlap: [{a[0]:g}, {a[1]:g}] s and "
                                f"[{b[0]:g}, {b[1]:g}] s")
    return samples


def _on_grid(name: str, value: float, step: float) -> int:
    """`value` in grid steps; refuse a value off the grid by more than a part in 1e6 of a step."""
    if not math.isfinite(value / step):
        raise SequenceError(f"{name} = {value:g} s is beyond any sequencer's time grid")
    steps = round(value / step)
    if abs(value - steps * step) > 1e-6 * step:
        raise SequenceError(f"{name} = {value:g} s is not a multiple of the granularity "
                            f"{step:g} s")
    return steps
