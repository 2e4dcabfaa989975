"""Driver interface of the NV excitation laser (532 nm): blanking, power, gating, interlock."""

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol


class LaserMode(IntEnum):
    """CW: the beam is on while unblanked. GATED: it follows the sequencer's laser channel."""

    CW = 0
    GATED = 1


@dataclass(frozen=True)
class LaserConstraints:
    """Highest output power the laser accepts (W)."""

    max_power: float


class LaserDriver(Protocol):
    """A laser whose emission can be blanked, whose power can be set, behind a safety interlock."""

    constraints: LaserConstraints

    def set_emission(self, on: bool) -> None:
        """Unblank (True) or blank (False) the beam; refuses (INTERLOCK) to unblank while the
        interlock is open."""

    def emission(self) -> bool:
        """True while the beam is unblanked."""

    def set_power(self, power: float) -> None:
        """Set the output power (W)."""

    def power(self) -> float:
        """The output power setting (W)."""

    def set_mode(self, mode: LaserMode) -> None:
        """Run continuous or gated by the pulse sequencer."""

    def mode(self) -> LaserMode:
        """The modulation mode."""

    def interlock_open(self) -> bool:
        """True while the safety interlock loop is open: no emission is possible."""
