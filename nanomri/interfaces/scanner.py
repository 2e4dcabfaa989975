"""Driver interface of a closed-loop xyz scanner (piezo stage or STM/AFM scan head)."""

from dataclasses import dataclass
from typing import Protocol

AXES = ("x", "y", "z")


@dataclass(frozen=True)
class ScannerConstraints:
    """Travel range, speed and settling of each axis, in SI units (m, m/s, m/s^2, s)."""

    position_min: dict[str, float]
    position_max: dict[str, float]
    max_velocity: dict[str, float]
    max_acceleration: dict[str, float]
    settle_time: float


class ScannerDriver(Protocol):
    """A scanner that moves each axis along a real trajectory in time."""

    constraints: ScannerConstraints

    def move_to(self, axis: str, position: float) -> None:
        """Start moving `axis` to `position` (m) and return at once."""

    def position(self, axis: str) -> float:
        """The actual position of `axis` now (m), also while it moves."""

    def target(self, axis: str) -> float:
        """The last commanded position of `axis` (m)."""

    def is_moving(self, axis: str) -> bool:
        """True until `axis` has arrived and settled."""

    def velocity(self, axis: str) -> float:
        """The cruise velocity of `axis` (m/s)."""

    def set_velocity(self, axis: str, velocity: float) -> None:
        """Set the cruise velocity of `axis` (m/s) for the next moves."""

    def stop(self) -> None:
        """Decelerate every axis to rest where it is now."""
