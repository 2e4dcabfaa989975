"""Driver interface of a photon counter (APD + counter card) gated for a dwell time."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PhotonCounterConstraints:
    """Dwell range (s) and the count rate (counts/s) above which the detector saturates."""

    min_dwell: float
    max_dwell: float
    max_count_rate: float


class PhotonCounterDriver(Protocol):
    """A counter that integrates detected photons over one gate of `dwell` seconds."""

    constraints: PhotonCounterConstraints

    def start(self, dwell: float) -> None:
        """Open a gate of `dwell` seconds now and return at once."""

    def is_counting(self) -> bool:
        """True until the gate has closed and its counts are read out."""

    def counts(self) -> int:
        """Counts of the last completed gate."""

    def stop(self) -> None:
        """Close the gate now; `counts` then holds what was counted so far."""
