"""Writing device settings only where they differ: a memorized Tango attribute's write goes to
the database too (~3 ms), its read does not (~0.2 ms), and controllers set the same modes at
every point of a scan, so the settings of one device are read in one call.

Shared by the Pool controllers and the macros' direct device calls.
"""

import time

import tango


def ensure(proxy: tango.DeviceProxy, **settings) -> None:
    """Each attribute of `proxy` named in `settings` at its value: all read in one call, those
    not already at their value written in one more."""
    names = list(settings)
    read = proxy.read_attributes(names)
    differing = [(name, settings[name]) for name, now in zip(names, read, strict=True)
                 if now.value != settings[name]]
    if differing:
        proxy.write_attributes(differing)


def wait_uploaded(sequencer: tango.DeviceProxy, timeout: float, poll: float = 0.002) -> None:
    """Until the pulse sequencer has taken the sequence it is uploading (MOVING while it does);
    TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while sequencer.state() == tango.DevState.MOVING:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sequencer.dev_name()} still uploading after {timeout} s")
        time.sleep(poll)
