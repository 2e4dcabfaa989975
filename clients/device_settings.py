"""Writing a device setting only when it differs: a memorized Tango attribute's write goes to
the database too (~3 ms), its read does not (~0.2 ms), and controllers set the same modes at
every point of a scan.

Shared by the Pool controllers and the macros' direct device calls.
"""

import time

import tango


def ensure(proxy: tango.DeviceProxy, attribute: str, value) -> None:
    """`attribute` of `proxy` at `value`, written only if it is not already."""
    if proxy.read_attribute(attribute).value != value:
        proxy.write_attribute(attribute, value)


def wait_uploaded(sequencer: tango.DeviceProxy, timeout: float, poll: float = 0.002) -> None:
    """Until the pulse sequencer has taken the sequence it is uploading (MOVING while it does);
    TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while sequencer.state() == tango.DevState.MOVING:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sequencer.dev_name()} still uploading after {timeout} s")
        time.sleep(poll)
