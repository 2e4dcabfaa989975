"""Driver interface of a closed-loop xyz scanner (piezo stage or STM/AFM scan head with a tip)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

AXES = ("x", "y", "z")
MAX_PATH_MOVES = 1_000_000  # moves one motion program may hold
FEEDBACK_MODES = ("current", "frequency_shift", "amplitude")  # STM, FM-AFM, AM-AFM
FEEDBACK_UNITS = {"current": "A", "frequency_shift": "Hz", "amplitude": "m"}


@dataclass(frozen=True)
class ScannerConstraints:
    """Travel range, speed and settling of each axis, in SI units (m, m/s, m/s^2, s), and what
    the tip supports: no feedback modes means no tip (a confocal stage)."""

    position_min: dict[str, float]
    position_max: dict[str, float]
    max_velocity: dict[str, float]
    max_acceleration: dict[str, float]
    settle_time: float
    feedback_modes: tuple[str, ...] = ()
    setpoint_range: dict[str, tuple[float, float]] = field(default_factory=dict)  # per mode
    max_leapfrog_height: float = 0.0  # m
    approach_velocity: float = 0.0  # m/s
    feedback_time_constant: float = 0.0  # s

    @property
    def has_tip(self) -> bool:
        return bool(self.feedback_modes)


@dataclass(frozen=True)
class PathMove:
    """One move of a motion program: `axis` to `target` (m) at cruise `velocity` (m/s),
    starting `start` s after the program starts, from rest, at the axis's acceleration."""

    axis: str
    start: float
    target: float
    velocity: float


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

    def acceleration(self, axis: str) -> float:
        """The acceleration (and deceleration) of `axis`'s moves (m/s²)."""

    def set_acceleration(self, axis: str, acceleration: float) -> None:
        """Set the acceleration of `axis` (m/s²) for the next moves, up to its maximum."""

    def stop(self) -> None:
        """Decelerate every axis to rest where it is now (a feedback loop stays on)."""

    def load_path(self, moves: Sequence["PathMove"]) -> None:
        """Check and keep a motion program: timed moves, played by `run_path`."""

    def run_path(self) -> float:
        """Play the loaded program from now, each axis from where it rests, firing the
        motion-start output at its start; return its duration until every axis has settled."""

    def drift_estimate(self, axis: str) -> float:
        """Estimated drift velocity of the sample along `axis` (m/s)."""

    def set_drift_estimate(self, axis: str, velocity: float) -> None:
        """Set the drift estimate (m/s). A scan head with a tip applies it to its piezos from
        now on (drift compensation, as Nanonis does): the tip follows the sample, so the
        positions it takes and reports stay in the sample's frame, and the sample moves under
        it at its drift less the estimate. Nothing jumps when the estimate changes. A stage
        without a tip keeps the estimate and compensates nothing."""

    def drift_compensation(self, axis: str) -> float:
        """Offset the drift compensation has added to `axis`'s piezo so far (m): the estimate
        integrated over time, on top of `position`. It counts against the travel: a move whose
        target plus this offset leaves it is refused. Always 0 on a stage without a tip."""

    def clock(self) -> float:
        """The controller's clock (s): the time its drift estimate's velocities are per, which
        a tracker that measures the drift must time its measurements by."""


class ProbeDriver(ScannerDriver, Protocol):
    """A scan head with a tip: feedback on a junction signal, approach, retract, leapfrog.

    Every method that can refuse raises `Refused`: CRASH when the tip would go below the
    surface, FEEDBACK_ON when z is held by the loop, BUSY while an approach or hop runs.
    """

    def retract(self) -> None:
        """Feedback off, lateral axes stopped, tip to the top of z travel (in real time)."""

    def approach(self) -> None:
        """Move z down until the feedback signal reaches its setpoint, then feedback on."""

    def is_approaching(self) -> bool:
        """True while an approach or a leapfrog landing heads for the setpoint."""

    def feedback(self) -> bool:
        """True while the loop holds z."""

    def set_feedback(self, on: bool) -> None:
        """Engage the loop where the tip is, or hold z where it is."""

    def feedback_mode(self) -> str:
        """One of `constraints.feedback_modes`."""

    def set_feedback_mode(self, mode: str) -> None:
        """Choose the signal the loop holds (refused while the loop is on)."""

    def setpoint(self, mode: str) -> float:
        """Setpoint of `mode` in FEEDBACK_UNITS[mode]; |current| for STM."""

    def set_setpoint(self, mode: str, value: float) -> None:
        """Set the setpoint of `mode`; an active loop moves to it."""

    def leapfrog_height(self) -> float:
        """Lift before each lateral move (m); 0 drags the tip."""

    def set_leapfrog_height(self, height: float) -> None:
        """Set the lift of the next lateral moves (m)."""

    def topography(self) -> float:
        """Surface height under the tip measured by the loop (m); NaN while it is off."""

    def feedback_saturated(self) -> bool:
        """True while the loop is on but its target lies beyond the z travel."""

    def tip_status(self) -> str:
        """One sentence on the tip: retracted, approaching, in feedback, hopping, ..."""
