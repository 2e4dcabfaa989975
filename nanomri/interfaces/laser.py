"""Driver interface of the NV excitation laser (532 nm) with its blanking."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class LaserConstraints:
    """Power range (W) and the time the beam takes to switch on or off (s)."""

    max_power: float
    switch_time: float


class LaserDriver(Protocol):
    """A laser whose emission can be blanked and whose power can be set."""

    constraints: LaserConstraints

    def set_emission(self, on: bool) -> None:
        """Unblank (True) or blank (False) the beam."""

    def emission(self) -> bool:
        """True while the beam reaches the sample."""

    def set_power(self, power: float) -> None:
        """Set the output power (W)."""

    def power(self) -> float:
        """The output power setting (W)."""
