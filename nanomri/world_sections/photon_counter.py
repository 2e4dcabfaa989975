"""World section of the APD and its counter card."""

from pydantic import Field

from .common import NonNegative, Positive, Strict


class PhotonCounterSpec(Strict):
    """Counter card gating the APD."""

    min_dwell: NonNegative  # s
    max_dwell: Positive  # s
    readout_time: NonNegative  # s, from gate end to counts available
    max_count_rate: Positive  # counts/s above which the APD is called saturated
    max_gates: int = Field(default=4096, ge=1)  # gate windows per repetition it can bin
