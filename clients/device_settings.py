"""Writing a device setting only when it differs: a memorized Tango attribute's write goes to
the database too (~3 ms), its read does not (~0.2 ms), and controllers set the same modes at
every point of a scan.

Shared by the Pool controllers and the macros' direct device calls.
"""

import tango


def ensure(proxy: tango.DeviceProxy, attribute: str, value) -> None:
    """`attribute` of `proxy` at `value`, written only if it is not already."""
    if proxy.read_attribute(attribute).value != value:
        proxy.write_attribute(attribute, value)
