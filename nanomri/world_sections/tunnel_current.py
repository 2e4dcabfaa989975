"""World section of the STM tunnel-current preamplifier and its lock-in."""

import math

from pydantic import Field, model_validator

from .common import Finite, NonNegative, Positive, Strict


class TunnelCurrentSpec(Strict):
    """Bias and current ranges, noise and lock-in settings (data-sheet values).

    The junction itself (decay constant, contact conductance) is the sample's:
    `sample.surface.tunnel_decay` and `sample.surface.contact_conductance`.
    """

    bias_max: Positive  # V, |bias| limit
    current_max: Positive  # A, preamplifier saturation
    current_noise: NonNegative  # A/sqrt(Hz), input-referred
    bandwidth: Positive  # Hz, preamplifier bandwidth: the DC current's noise bandwidth
    time_constants: list[Positive] = Field(min_length=1)  # s, lock-in choices
    reference_frequency_min: Positive  # Hz, lock-in / RF-chopping reference
    reference_frequency_max: Positive  # Hz
    initial_bias: Finite  # V
    initial_time_constant: Positive  # s, one of time_constants
    initial_reference_frequency: Positive  # Hz
    safe_bias: NonNegative  # V, |bias| the safe state leaves at most (sign kept)

    @model_validator(mode="after")
    def _consistent(self) -> "TunnelCurrentSpec":
        if abs(self.initial_bias) > self.bias_max:
            raise ValueError("initial_bias is outside [-bias_max, bias_max]")
        if self.safe_bias > self.bias_max:
            raise ValueError("safe_bias exceeds bias_max")
        if not any(math.isclose(self.initial_time_constant, tc) for tc in self.time_constants):
            raise ValueError("initial_time_constant is not one of time_constants")
        low, high = self.reference_frequency_min, self.reference_frequency_max
        if not low < high:
            raise ValueError("reference_frequency_min must be below reference_frequency_max")
        if not low <= self.initial_reference_frequency <= high:
            raise ValueError("initial_reference_frequency is outside the reference range")
        return self
