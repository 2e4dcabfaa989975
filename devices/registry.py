"""Driver registry: turns a device's `Driver` property into a driver object, by entry point.

A device never imports a simulator or a vendor library; it names its driver as
`<scheme>:<address>` (`sim:/path/world.yaml`, `visa:TCPIP0::10.0.0.5::INSTR`) and the
`nanomri.drivers` entry point `<instrument>.<scheme>` opens it.
"""

from importlib.metadata import entry_points
from typing import Any

GROUP = "nanomri.drivers"


class DriverSpecError(ValueError):
    """A `Driver` property that names no known driver."""


def parse_spec(spec: str) -> tuple[str, str]:
    """Split `scheme:address`; both parts must be present."""
    scheme, sep, address = spec.partition(":")
    if not sep or not scheme or not address:
        raise DriverSpecError(f"Driver property {spec!r} is not of the form <scheme>:<address>")
    return scheme, address


def open_driver(instrument: str, spec: str) -> Any:
    """Open the driver of `instrument` (e.g. 'scanner') named by `spec`."""
    scheme, address = parse_spec(spec)
    name = f"{instrument}.{scheme}"
    found = entry_points(group=GROUP, name=name)
    if not found:
        known = sorted(ep.name for ep in entry_points(group=GROUP))
        raise DriverSpecError(f"no driver {name!r} for Driver={spec!r}; known drivers: {known}")
    (ep,) = found
    return ep.load()(address)
