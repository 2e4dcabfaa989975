"""Tango device of the photon counter: one gate of `dwell` seconds per Start, its counts."""

from tango import AttrWriteType, DevState
from tango.server import attribute, command

from .base import InstrumentDevice
from .validation import fail, require_finite


class PhotonCounter(InstrumentDevice):
    """APD + counter card; RUNNING while a gate is open, ALARM when the APD saturates."""

    INSTRUMENT = "photon_counter"

    def init_instrument(self) -> None:
        c = self.driver.constraints
        self.set_write_limits("dwell", c.min_dwell, c.max_dwell)
        self._dwell = c.min_dwell
        self._gate = 0.0  # dwell of the gate whose counts `counts` holds

    @attribute(
        dtype=float,
        access=AttrWriteType.READ_WRITE,
        unit="s",
        format="%.3e",
        memorized=True,
        hw_memorized=True,
        doc="length of the next counting gate",
    )
    def dwell(self) -> float:
        return self._dwell

    @dwell.write
    def dwell(self, value: float) -> None:
        if self.driver.is_counting():
            fail("BUSY", "cannot change dwell while a gate is open; Stop it first")
        self._dwell = require_finite("dwell", value)

    @attribute(dtype=int, unit="counts", format="%d", doc="photons counted in the last gate")
    def counts(self) -> int:
        return int(self.driver.counts())

    @attribute(dtype=float, unit="counts/s", format="%.4e", doc="count rate of the last gate")
    def count_rate(self) -> float:
        return self._rate()

    def _rate(self) -> float:
        return self.driver.counts() / self._gate if self._gate > 0 else 0.0

    @command(doc_in="Open one counting gate of `dwell` seconds")
    def Start(self) -> None:
        if self.driver.is_counting():
            fail("BUSY", "a gate is already open")
        self.driver.start(self._dwell)
        self._gate = self._dwell

    @command(doc_in="Close the gate now (safe state)")
    def Stop(self) -> None:
        self.safe_state()

    def safe_state(self) -> None:
        self.driver.stop()

    def dev_state(self) -> DevState:
        if self._driver is None:
            return DevState.FAULT
        if self._driver.is_counting():
            return DevState.RUNNING
        if self._rate() > self._driver.constraints.max_count_rate:
            return DevState.ALARM
        return DevState.ON

    def dev_status(self) -> str:
        state = self.dev_state()
        if state == DevState.ALARM:
            limit = self._driver.constraints.max_count_rate
            return f"detector saturated: {self._rate():.3g} counts/s > {limit:.3g} counts/s"
        if state == DevState.RUNNING:
            return f"counting for {self._gate:g} s"
        return self.get_status() if state == DevState.FAULT else "idle"
