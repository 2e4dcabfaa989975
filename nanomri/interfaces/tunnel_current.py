"""Driver interface of the STM tunnel-current readout: bias, preamplifier, lock-in on dI."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TunnelCurrentConstraints:
    """Bias limit (V), preamplifier saturation (A), lock-in time constants (s) and reference
    range (Hz), and the |bias| (V) the safe state leaves at most."""

    bias_max: float
    current_max: float
    time_constants: tuple[float, ...]
    reference_frequency_min: float
    reference_frequency_max: float
    safe_bias: float


class TunnelCurrentDriver(Protocol):
    """A tunnel junction's bias source and current preamplifier with a lock-in amplifier."""

    constraints: TunnelCurrentConstraints

    def current(self) -> float:
        """Tunnel current now (A), clipped at the preamplifier's saturation."""

    def saturated(self) -> bool:
        """True while |current| reaches the preamplifier's full scale."""

    def bias(self) -> float:
        """Sample bias (V)."""

    def set_bias(self, bias: float) -> None:
        """Set the sample bias (V)."""

    def lockin(self) -> tuple[float, float]:
        """Lock-in output now: amplitude (A) and phase (rad) of the current at the reference."""

    def time_constant(self) -> float:
        """Lock-in time constant (s)."""

    def set_time_constant(self, time_constant: float) -> None:
        """Set the lock-in time constant to one of `constraints.time_constants` (s)."""

    def reference_frequency(self) -> float:
        """Lock-in / RF-chopping reference frequency (Hz)."""

    def set_reference_frequency(self, frequency: float) -> None:
        """Set the reference frequency (Hz)."""
