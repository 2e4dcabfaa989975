"""Input checks shared by every nanomri device: one DevFailed per problem, reason NANOMRI_*."""

import math

import tango


def fail(reason: str, description: str, origin: str = "nanomri") -> None:
    """Raise a DevFailed whose reason is NANOMRI_<reason> and whose text names the problem."""
    tango.Except.throw_exception(f"NANOMRI_{reason}", description, origin)


def require_finite(name: str, value: float) -> float:
    """Refuse NaN and infinities; Tango itself does so only where min/max are declared."""
    if not math.isfinite(value):
        fail("NOT_FINITE", f"{name} must be a finite number, got {value}")
    return value

