"""Driver interface of the pulse sequencer (AWG / pulse streamer) that times every experiment."""

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from nanomri.sequence import Sequence


class StartTrigger(IntEnum):
    """IMMEDIATE: a run starts on Run. STAGE_MOTION: Run arms it, and it starts when the
    scanner stage starts its next move (the stage controller's motion-start output wired to
    the sequencer's trigger input), so gates line up with the motion to the sample clock."""

    IMMEDIATE = 0
    STAGE_MOTION = 1


MAX_DELAY = 100.0  # s, longest hold between the start trigger and the first sample


@dataclass(frozen=True)
class PositionGates:
    """Gates in the position domain: the stage controller's position comparator, wired to the
    sequencer's gate channel, opens gate k when `axis` passes `windows[k][0]` heading for
    `windows[k][1]` and closes it when the axis next passes `windows[k][1]`, gate after gate,
    from the stage's next move on. Where the stage really is decides, whatever its speed, ramps
    and lag; passing an edge the other way (a flyback) opens nothing."""

    axis: str
    windows: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class SequencerConstraints:
    """Sample clock (Hz), edge grid (samples), memory (run-length-encoded steps of one
    repetition), repetitions and output channels."""

    sample_rate: float
    granularity: int
    max_steps: int
    max_repetitions: int
    channels: tuple[str, ...]

    @property
    def step(self) -> float:
        """The time grid every edge lies on (s)."""
        return self.granularity / self.sample_rate


class SequencerDriver(Protocol):
    """A sequencer that uploads one sequence to its memory and plays it a number of times.

    Refusals are `Refused`: SEQUENCE for a sequence the hardware cannot play, BUSY for a
    load, run or setting while an upload or a run is in progress, NO_SEQUENCE for a run with
    nothing loaded, OUT_OF_RANGE for repetitions outside [1, max_repetitions].
    """

    constraints: SequencerConstraints

    def load(self, sequence: Sequence) -> None:
        """Check `sequence` and start uploading it; return at once (see `is_uploading`)."""

    def sequence(self) -> Sequence | None:
        """The sequence loaded (or being uploaded); None before the first load."""

    def is_uploading(self) -> bool:
        """True until the loaded sequence is in the instrument's memory and can be run."""

    def upload_remaining(self) -> float:
        """Seconds until the upload in progress completes (0 when none is)."""

    def set_repetitions(self, repetitions: int) -> None:
        """How many times the next run plays the sequence."""

    def repetitions(self) -> int:
        """The repetitions setting for the next run."""

    def run(self) -> None:
        """Start playing the loaded sequence `repetitions` times; return at once."""

    def is_running(self) -> bool:
        """True from `run` until the last repetition has played or `stop`."""

    def progress(self) -> tuple[int, int]:
        """(repetitions completed, repetitions asked) of the current or last run; (0, 0) before."""

    def stop(self) -> None:
        """End the run now (or disarm it): every channel low."""

    def load_position_gates(self, gates: PositionGates) -> None:
        """Gate by the stage's position instead of a sequence (replacing it): `run` arms them
        for the stage's next move. Refused: SEQUENCE for a window the comparator cannot take
        or more windows than the memory, BUSY as for `load`."""

    def position_gates(self) -> PositionGates | None:
        """The position gates loaded; None when a sequence is loaded instead, or nothing."""

    def set_start(self, trigger: StartTrigger, delay: float) -> None:
        """What starts the next run, and how long after it the first sample plays (s)."""

    def start(self) -> tuple[StartTrigger, float]:
        """The start trigger and delay of the next run."""

    def trigger_lag(self) -> float | None:
        """Seconds from the start trigger of the last run a trigger started to its first sample,
        less the delay set, as the instrument timed its trigger input on its sample clock; None
        before such a run. Gates timed from a stage's motion-start output play that much later
        than the motion."""
