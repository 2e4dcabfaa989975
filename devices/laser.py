"""Tango device of the 532 nm NV excitation laser: blanking, power, gating, interlock."""

from tango import AttrWriteType, DevState
from tango.server import attribute, command

from nanomri.interfaces.laser import LaserMode

from .base import InstrumentDevice
from .validation import refusals, require_finite


class NVLaser(InstrumentDevice):
    """The excitation laser: ON while it emits, OFF while blanked (its safe state), ALARM while
    its interlock is open (emission refused)."""

    INSTRUMENT = "laser"

    def init_instrument(self) -> None:
        self.set_write_limits("power", 0.0, self.driver.constraints.max_power)
        self.driver.set_emission(False)

    @attribute(
        dtype=bool,
        access=AttrWriteType.READ_WRITE,
        doc="True unblanks the beam onto the sample, False blanks it; refused while the "
            "interlock is open",
    )
    def emission(self) -> bool:
        return self.driver.emission()

    @emission.write
    def emission(self, on: bool) -> None:
        with refusals():
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
        with refusals():
            self.driver.set_power(require_finite("power", value))

    @attribute(
        dtype=LaserMode,
        access=AttrWriteType.READ_WRITE,
        memorized=True,
        hw_memorized=True,
        doc="CW: on while unblanked; GATED: on only while the sequencer's laser channel is high",
    )
    def mode(self) -> LaserMode:
        return self.driver.mode()

    @mode.write
    def mode(self, value: int) -> None:
        with refusals():
            self.driver.set_mode(LaserMode(value))

    @attribute(dtype=bool, polling_period=500,
               doc="True while the safety interlock is open: no emission possible (it opens on "
                   "its own: change events)")
    def interlock_open(self) -> bool:
        return self.driver.interlock_open()

    def dev_state(self) -> DevState:
        if self._driver is None:
            return DevState.FAULT
        if self._driver.interlock_open():
            return DevState.ALARM
        return DevState.ON if self._driver.emission() else DevState.OFF

    def dev_status(self) -> str:
        if self._driver is None:
            return self.get_status()
        if self._driver.interlock_open():
            return "interlock open: emission refused until it is closed"
        if self._driver.emission():
            mode = "gated by the sequencer" if self._driver.mode() == LaserMode.GATED else "cw"
            return f"emitting {self._driver.power():.3g} W, {mode}"
        return "blanked"

    @command(doc_in="Blank the beam (safe state)")
    def Stop(self) -> None:
        self.safe_state()

    def safe_state(self) -> None:
        self.driver.set_emission(False)
