"""Driver interface of a photon counter (APD + counter card): timed gates or sequencer gates."""

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

import numpy as np


class CountingMode(IntEnum):
    """TIMED: one gate of `dwell` per start. SEQUENCE: count in every window of the sequencer's
    gate channel, summed per gate of the repetition, and per bin: sequencer repetition r goes
    to bin r mod `bins` (a fast counter's histograms stepped by the sequence; with a
    hardware-stepped sweep, bin j holds sweep point j). GATES: one value per gate window, in
    time order (a hardware-gated scan: a pixel per gate)."""

    TIMED = 0
    SEQUENCE = 1
    GATES = 2


@dataclass(frozen=True)
class PhotonCounterConstraints:
    """Dwell range (s), the count rate (counts/s) above which the detector saturates, and how
    many gate sums the counter can hold in SEQUENCE mode: bins times gates per repetition."""

    min_dwell: float
    max_dwell: float
    max_count_rate: float
    max_gates: int


class PhotonCounterDriver(Protocol):
    """A counter that integrates detected photons over a gate of `dwell` seconds, or over the
    gate windows a pulse sequencer plays."""

    constraints: PhotonCounterConstraints

    def start(self, dwell: float) -> None:
        """Open a gate of `dwell` seconds now and return at once."""

    def arm(self, mode: CountingMode = CountingMode.SEQUENCE) -> None:
        """Count from now on in the sequencer's gate windows, until `stop` or the run ends:
        summed per gate of the repetition (SEQUENCE) or one value per window (GATES)."""

    def is_counting(self) -> bool:
        """True until the gate has closed and its counts are read out, or while armed."""

    def counts(self) -> int:
        """Counts of the last completed timed gate."""

    def set_bins(self, bins: int) -> None:
        """Keep `bins` sets of gate sums in SEQUENCE mode: the gates of sequencer repetition r
        are summed into bin r mod `bins` (1: every repetition in one set). Refused (`Refused`
        OUT_OF_RANGE) below 1 or when bins times the gates of a repetition exceeds
        `constraints.max_gates`, naming both; BUSY while counting."""

    def bins(self) -> int:
        """Sets of gate sums SEQUENCE mode keeps, one per sequencer repetition modulo it."""

    def gate_counts(self) -> np.ndarray:
        """SEQUENCE: counts per gate of the repetition, summed over the repetitions counted
        since `arm` into their bin: bins x gates values, bin-major (bin 0's gates first).
        GATES: the counts of every gate window since `arm`, in time order."""

    def repetitions_counted(self) -> int:
        """Repetitions of the sequence whose gates are in `gate_counts`, over every bin."""

    def stop(self) -> None:
        """Close the gate or disarm now; counts then hold what was counted so far."""
