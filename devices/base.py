"""The part every nanomri device shares: the `Driver` property and FAULT on a broken driver."""

from typing import Any

from tango import DevState
from tango.server import Device, command, device_property

from .registry import open_driver
from .validation import fail


class InstrumentDevice(Device):
    """A Tango device whose hardware is reached through one driver from the registry."""

    INSTRUMENT = ""  # entry-point prefix of this instrument's drivers, e.g. "scanner"

    Driver = device_property(
        dtype=str,
        mandatory=True,
        doc="Driver to open: sim:<world file> or e.g. visa:<VISA resource>",
    )

    def init_device(self) -> None:
        super().init_device()
        self._driver: Any = None
        try:
            self._driver = open_driver(self.INSTRUMENT, self.Driver)
        except Exception as exc:  # any failure to reach the hardware is a FAULT, not a crash
            self.set_state(DevState.FAULT)
            self.set_status(f"cannot open driver {self.Driver!r}: {exc}")
            return
        self.set_state(DevState.ON)
        self.set_status(f"driver {self.Driver} open")
        self.init_instrument()

    def init_instrument(self) -> None:
        """Apply the driver's constraints to the attributes; called once the driver is open."""

    @command(doc_in="Put the instrument in its safe state (beam blanked, outputs off, "
                    "tip retracted, sequences stopped, field held)")
    def SafeState(self) -> None:
        self.safe_state()

    def safe_state(self) -> None:
        """What SafeState does on this instrument; every device defines it."""
        raise NotImplementedError(f"{type(self).__name__} defines no safe state")

    @property
    def driver(self) -> Any:
        """The open driver; a DevFailed naming the fault if it could not be opened."""
        if self._driver is None:
            fail("NO_DRIVER", self.get_status())
        return self._driver

    def set_write_limits(self, name: str, low: float, high: float) -> None:
        """Declare min/max of a writable attribute, so Tango and every client see the limit."""
        attr = self.get_device_attr().get_w_attr_by_name(name)
        attr.set_min_value(low)
        attr.set_max_value(high)
