"""World sections of an STM/AFM scan head (`ProbeSpec`) and of the sample surface under its tip.

Positions of surface features are in the scan head's frame (its x, y, z), not the confocal
stage's.
"""

from pydantic import Field, model_validator

from .common import Finite, PerAxis, Positive, Strict
from .scanner import ScannerSpec


class Slope(Strict):
    """Tilt of the sample plane: dz/dx and dz/dy (dimensionless)."""

    x: Finite
    y: Finite


class Bump(Strict):
    """A Gaussian hill (or pit, height < 0) on the surface: an adatom, a protein, a particle."""

    x: Finite  # m, centre
    y: Finite  # m
    height: Finite  # m
    fwhm: Positive  # m, full width at half maximum


class Step(Strict):
    """A straight terrace edge through (x, y); the upper terrace lies towards `angle`."""

    x: Finite  # m, a point of the edge
    y: Finite  # m
    angle: Finite  # rad, direction (from +x) of the normal pointing to the upper terrace
    height: Finite  # m
    width: Positive  # m, tanh length of the edge


class SurfaceSpec(Strict):
    """Sample surface under a scanning tip: tilted plane, bumps, steps, drift, tunnel barrier."""

    height: Finite  # m, z of the plane at x = y = 0
    slope: Slope
    bumps: list[Bump] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    drift: PerAxis  # m/s, velocity of the sample relative to the scan head
    tunnel_decay: Positive  # 1/m, kappa = sqrt(2 m phi)/hbar (about 1e10 for phi = 4 eV)
    contact_conductance: Positive  # S, G0: conductance at point contact (gap 0)


class ForkSpec(Strict):
    """Tuning-fork (qPlus) force sensor: its signals against the tip-surface gap."""

    free_amplitude: Positive  # m, oscillation amplitude far from the surface
    frequency_shift_contact: Positive  # Hz, |frequency shift| at contact (gap 0)
    decay_length: Positive  # m, decay of the short-range force gradient
    frequency_shift_setpoint_range: tuple[Finite, Finite]  # Hz, both negative (attractive)
    amplitude_setpoint_range: tuple[Positive, Positive]  # m, below free_amplitude

    @model_validator(mode="after")
    def _ranges(self) -> "ForkSpec":
        low, high = self.frequency_shift_setpoint_range
        if not -self.frequency_shift_contact < low < high < 0:
            raise ValueError("frequency_shift_setpoint_range must satisfy "
                             "-frequency_shift_contact < min < max < 0 Hz")
        low, high = self.amplitude_setpoint_range
        if not low < high < self.free_amplitude:
            raise ValueError("amplitude_setpoint_range must satisfy min < max < free_amplitude")
        return self


class ProbeSpec(ScannerSpec):
    """STM/AFM scan head: a scanner with a tip, its feedback loop and its approach."""

    feedback_time_constant: Positive  # s, the z loop's first-order time constant
    approach_velocity: Positive  # m/s, z speed of Approach and of leapfrog landings
    max_leapfrog_height: Positive  # m
    current_setpoint_range: tuple[Positive, Positive] | None = None  # A; None: no STM
    fork: ForkSpec | None = None  # None: no AFM sensor

    @model_validator(mode="after")
    def _tip(self) -> "ProbeSpec":
        if self.current_setpoint_range is None and self.fork is None:
            raise ValueError("a probe needs current_setpoint_range (STM) or fork (AFM) or both")
        if self.current_setpoint_range is not None:
            low, high = self.current_setpoint_range
            if not low < high:
                raise ValueError("current_setpoint_range must be [min, max] with min < max")
        if self.approach_velocity > self.max_velocity.z:
            raise ValueError("approach_velocity exceeds max_velocity.z")
        if self.max_leapfrog_height > self.position_max.z - self.position_min.z:
            raise ValueError("max_leapfrog_height exceeds the z travel")
        return self

    @property
    def feedback_modes(self) -> tuple[str, ...]:
        """The feedback modes this head offers, in FEEDBACK_MODES order."""
        stm = ("current",) if self.current_setpoint_range is not None else ()
        afm = ("frequency_shift", "amplitude") if self.fork is not None else ()
        return stm + afm

    def setpoint_range(self, mode: str) -> tuple[float, float]:
        """[min, max] setpoint of a feedback mode (A, Hz or m)."""
        if mode == "current" and self.current_setpoint_range is not None:
            return self.current_setpoint_range
        if mode == "frequency_shift" and self.fork is not None:
            return self.fork.frequency_shift_setpoint_range
        if mode == "amplitude" and self.fork is not None:
            return self.fork.amplitude_setpoint_range
        raise ValueError(f"this probe has no {mode!r} feedback; it has {self.feedback_modes}")
