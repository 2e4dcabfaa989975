"""What the simulated pulse sequencer actually played: the sequence, when, how many times."""

from dataclasses import dataclass

import numpy as np

from nanomri.sequence import Sequence


@dataclass(frozen=True)
class Playback:
    """`sequence` repeated `repetitions` times from `start` (world clock), cut at `stopped`."""

    sequence: Sequence
    start: float
    repetitions: int
    stopped: float = np.inf

    @property
    def end(self) -> float:
        """When the last repetition ends, or when the run was stopped if earlier."""
        return min(self.start + self.repetitions * self.sequence.length, self.stopped)

    def completed(self, t: float) -> int:
        """Repetitions fully played by time `t`; all of them once a run that was not stopped
        has ended, whatever the rounding of clock times of ~1e5 s."""
        finish = self.start + self.repetitions * self.sequence.length
        if t >= finish and self.stopped >= finish:
            return self.repetitions
        done = np.floor((min(t, self.end) - self.start) / self.sequence.length + 1e-9)
        return int(np.clip(done, 0, self.repetitions))

    def windows(self, channel: str, t: float) -> np.ndarray:
        """(n, 2) absolute windows of `channel` in the repetitions completed by time `t`."""
        reps = np.arange(self.completed(t)) * self.sequence.length + self.start
        w = self.sequence.windows(channel)
        return (reps[:, None, None] + w[None, :, :]).reshape(-1, 2)

    def closed_windows(self, channel: str, t: float) -> np.ndarray:
        """(n, 2) absolute windows of `channel` that have closed by time `t`, also those of the
        repetition still playing (a sequence played once may hold a whole image's gates)."""
        done = self.windows(channel, t)
        current = self.completed(t)
        if current >= self.repetitions:
            return done
        w = self.sequence.windows(channel) + self.start + current * self.sequence.length
        return np.concatenate([done, w[w[:, 1] <= min(t, self.end)]])

    def high(self, channel: str, times: np.ndarray) -> np.ndarray:
        """True where `channel` is high at each of `times`."""
        times = np.asarray(times, dtype=float)
        phase = np.mod(times - self.start, self.sequence.length)
        playing = (times >= self.start) & (times < self.end)
        w = self.sequence.windows(channel)
        inside = (phase[..., None] >= w[:, 0]) & (phase[..., None] < w[:, 1])
        return playing & inside.any(axis=-1)
