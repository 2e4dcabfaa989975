"""Input checks shared by every nanomri device: one DevFailed per problem, reason NANOMRI_*."""

import math
from collections.abc import Iterator
from contextlib import contextmanager

import tango

from nanomri.interfaces.errors import Refused


def fail(reason: str, description: str, origin: str = "nanomri") -> None:
    """Raise a DevFailed whose reason is NANOMRI_<reason> and whose text names the problem."""
    tango.Except.throw_exception(f"NANOMRI_{reason}", description, origin)


def require_finite(name: str, value: float) -> float:
    """Refuse NaN and infinities; Tango itself does so only where min/max are declared."""
    if not math.isfinite(value):
        fail("NOT_FINITE", f"{name} must be a finite number, got {value}")
    return value



@contextmanager
def refusals() -> Iterator[None]:
    """Turn a driver's `Refused` into DevFailed NANOMRI_<reason> with the driver's message."""
    try:
        yield
    except Refused as exc:
        fail(exc.reason, str(exc))
