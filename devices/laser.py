"""Tango device of the 532 nm NV excitation laser: blanking, power, safe state."""

from tango import AttrWriteType, DevState
from tango.server import attribute, command

from .base import InstrumentDevice
from .validation import require_finite


class NVLaser(InstrumentDevice):
    """The excitation laser; ON while it emits, OFF while blanked (its safe state)."""

    INSTRUMENT = "laser"

    def init_instrument(self) -> None:
        self.set_write_limits("power", 0.0, self.driver.constraints.max_power)
        self.driver.set_emission(False)

    @attribute(
        dtype=bool,
        access=AttrWriteType.READ_WRITE,
        doc="True unblanks the beam onto the sample, False blanks it",
    )
    def emission(self) -> bool:
        return self.driver.emission()

    @emission.write
    def emission(self, on: bool) -> None:
        self.driver.set_emission(bool(on))

    @attribute(
        dtype=float,
        access=AttrWriteType.READ_WRITE,
        unit="W",
        format="%.3e",
        memorized=True,
        hw_memorized=True,
        doc="output power at the objective",
    )
    def power(self) -> float:
        return self.driver.power()

    @power.write
    def power(self, value: float) -> None:
        self.driver.set_power(require_finite("power", value))

    def dev_state(self) -> DevState:
        if self._driver is None:
            return DevState.FAULT
        return DevState.ON if self._driver.emission() else DevState.OFF

    def dev_status(self) -> str:
        if self._driver is None:
            return self.get_status()
        if self._driver.emission():
            return f"emitting {self._driver.power():.3g} W"
        return "blanked"

    @command(doc_in="Blank the beam (safe state)")
    def Stop(self) -> None:
        self.safe_state()

    def safe_state(self) -> None:
        self.driver.set_emission(False)
