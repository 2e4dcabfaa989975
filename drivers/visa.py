"""Opening a VISA resource from a `visa:` driver address, on real hardware or on pyvisa-sim.

The address is `<resource>` (e.g. `TCPIP0::10.0.0.5::inst0::INSTR`, `ASRL/dev/ttyUSB0::INSTR`)
or `<resource>|<visa library>` to pick a backend, e.g. `ASRL1::INSTR|tests/visa/laser.yaml@sim`
for pyvisa-sim or `...|@py` for pyvisa-py.
"""

import pyvisa


class InstrumentError(RuntimeError):
    """The instrument reported an error or answered something a driver cannot understand."""


def open_resource(address: str, *, read_termination: str = "\n", write_termination: str = "\n",
                  timeout: float = 2.0, **options) -> pyvisa.resources.MessageBasedResource:
    """Open the message-based resource named by `address`; `timeout` in seconds."""
    resource, _, library = address.partition("|")
    if not resource:
        raise ValueError(f"visa driver address {address!r} names no resource")
    manager = pyvisa.ResourceManager(library) if library else pyvisa.ResourceManager()
    inst = manager.open_resource(resource, read_termination=read_termination,
                                 write_termination=write_termination,
                                 timeout=int(timeout * 1000), **options)
    return inst
