"""World section of the pulse sequencer (AWG / pulse streamer) that times every experiment."""

from pydantic import Field

from .common import NonNegative, Positive, Strict


class SequencerSpec(Strict):
    """Sample clock, memory and the time uploads and starts take (data-sheet values)."""

    sample_rate: Positive  # Hz, sample clock of the digital outputs
    granularity: int = Field(ge=1)  # samples: every edge lies on a multiple of it
    max_steps: int = Field(ge=1)  # memory: run-length-encoded steps of one repetition
    max_repetitions: int = Field(ge=1)  # most repetitions one Run plays
    upload_rate: Positive  # steps/s transferred to the instrument's memory
    upload_latency: NonNegative  # s, fixed cost of every upload
    start_latency: NonNegative  # s, from Run to the first sample out
