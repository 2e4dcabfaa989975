"""World section of the STM tunnel-current preamplifier and its lock-in."""

from pydantic import Field

from .common import NonNegative, Positive, Strict


class TunnelCurrentSpec(Strict):
    """Bias and current ranges, noise and lock-in settings (data-sheet values)."""

    bias_max: Positive  # V, |bias| limit
    current_max: Positive  # A, preamplifier saturation
    current_noise: NonNegative  # A/sqrt(Hz), input-referred
    time_constants: list[Positive] = Field(min_length=1)  # s, lock-in choices
    initial_bias: float  # V
