"""Input checks shared by every nanomri device: one DevFailed per problem, reason NANOMRI_*."""

import math

import tango


def fail(reason: str, description: str, origin: str = "nanomri") -> None:
    """Raise a DevFailed whose reason is NANOMRI_<reason> and whose text names the problem."""
    tango.Except.throw_exception(f"NANOMRI_{reason}", description, origin)


def require_finite(name: str, value: float) -> float:
    """Refuse NaN and infinities, which Tango's own min/max checks let through."""
    if not math.isfinite(value):
        fail("NOT_FINITE", f"{name} must be a finite number, got {value}")
    return value


def require_within(name: str, value: float, low: float, high: float, unit: str) -> float:
    """Refuse a finite value outside [low, high], naming the limit."""
    require_finite(name, value)
    if value < low or value > high:
        fail(
            "OUT_OF_RANGE",
            f"{name} = {value:g} {unit} is outside the limits [{low:g}, {high:g}] {unit}",
        )
    return value
