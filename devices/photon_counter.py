"""Tango device of the photon counter: timed gates, or counts per sequencer gate of a run."""

import numpy as np
from tango import AttrWriteType, DevState
from tango.server import attribute, command

from nanomri.interfaces.photon_counter import CountingMode

from .base import InstrumentDevice
from .validation import fail, refusals, require_finite

MAX_GATES = 1_000_000  # declared length of gate_counts: a GATES scan's pixels, or a SEQUENCE
# run's bins x gates per repetition (bins are limited to fit), at most


class PhotonCounter(InstrumentDevice):
    """APD + counter card; RUNNING while a gate is open or while armed for a sequence run,
    ALARM when the count rate of the last gate saturates the APD."""

    INSTRUMENT = "photon_counter"

    def init_instrument(self) -> None:
        c = self.driver.constraints
        self.set_write_limits("dwell", c.min_dwell, c.max_dwell)
        self.set_write_limits("bins", 1, min(c.max_gates, MAX_GATES))
        self.get_device_attr().get_attr_by_name("count_rate").set_max_alarm(c.max_count_rate)
        self._dwell = c.min_dwell
        self._mode = CountingMode.TIMED
        self._gate = 0.0  # dwell of the gate whose counts `counts` holds

    def _refuse_while_counting(self, what: str) -> None:
        if self.driver.is_counting():
            fail("BUSY", f"cannot change {what} while counting; Stop first")

    @attribute(
        dtype=float,
        access=AttrWriteType.READ_WRITE,
        unit="s",
        format="%.3e",
        memorized=True,
        hw_memorized=True,
        doc="length of the next timed counting gate",
    )
    def dwell(self) -> float:
        return self._dwell

    @dwell.write
    def dwell(self, value: float) -> None:
        self._refuse_while_counting("dwell")
        self._dwell = require_finite("dwell", value)

    @attribute(
        dtype=CountingMode,
        access=AttrWriteType.READ_WRITE,
        memorized=True,
        hw_memorized=True,
        doc="TIMED: Start opens one gate of dwell; SEQUENCE: Start arms counting in the gate "
            "windows of the next sequencer run",
    )
    def counting_mode(self) -> CountingMode:
        return self._mode

    @counting_mode.write
    def counting_mode(self, value: int) -> None:
        self._refuse_while_counting("counting_mode")
        self._mode = CountingMode(value)

    @attribute(
        dtype=int,
        access=AttrWriteType.READ_WRITE,
        format="%d",
        min_value=1,
        doc="SEQUENCE: sets of gate sums kept; sequencer repetition r is summed into bin r mod "
            "bins (a hardware-stepped sweep: bin j is point j); bins x gates per repetition "
            "must fit in the counter's max_gates",
    )
    def bins(self) -> int:
        return self.driver.bins()

    @bins.write
    def bins(self, value: int) -> None:
        self._refuse_while_counting("bins")
        with refusals():
            self.driver.set_bins(value)

    @attribute(dtype=int, format="%d", doc="gate sums the counter keeps: bins x gates per "
                                            "repetition in SEQUENCE mode, gate windows in GATES")
    def max_gates(self) -> int:
        return min(self.driver.constraints.max_gates, MAX_GATES)

    @attribute(dtype=int, unit="counts", format="%d", polling_period=200, abs_change="1",
               doc="photons counted in the last timed gate")
    def counts(self) -> int:
        return int(self.driver.counts())

    @attribute(
        dtype=(int,),
        max_dim_x=MAX_GATES,
        unit="counts",
        format="%d",
        polling_period=200,
        abs_change="1",
        doc="SEQUENCE: counts per gate of the repetition summed over the repetitions "
            "counted, bins x gates, bin 0's gates first; GATES: one value per window",
    )
    def gate_counts(self) -> np.ndarray:
        with refusals():
            return self.driver.gate_counts()

    @attribute(dtype=int, doc="values in gate_counts: bins x gates per repetition (SEQUENCE) "
                              "or gate windows counted so far (GATES)")
    def gate_count(self) -> int:
        with refusals():
            return len(self.driver.gate_counts())

    @command(dtype_in=int, doc_in="index of the first gate wanted", dtype_out=(int,),
             doc_out="gate_counts from that index on: a reader takes only what is new")
    def ReadGateCounts(self, first: int) -> np.ndarray:
        with refusals():
            counts = self.driver.gate_counts()
        if not 0 <= first <= len(counts):
            fail("OUT_OF_RANGE", f"first gate index {first} outside [0, {len(counts)}] (the "
                                 "gates counted so far)")
        return counts[first:]

    @attribute(dtype=int, doc="repetitions of the sequence whose gates are in gate_counts")
    def repetitions_counted(self) -> int:
        with refusals():
            return self.driver.repetitions_counted()

    @attribute(
        dtype=float,
        unit="counts/s",
        format="%.4e",
        doc="count rate of the last timed gate; its max_alarm is the APD's saturation",
    )
    def count_rate(self) -> float:
        return self._rate()

    def _rate(self) -> float:
        return self.driver.counts() / self._gate if self._gate > 0 else 0.0

    @command(doc_in="TIMED: open one gate of dwell; SEQUENCE: arm for the next sequencer run")
    def Start(self) -> None:
        self._refuse_while_counting("the gate (already counting)")
        if self._mode != CountingMode.TIMED:
            self.driver.arm(self._mode)
            return
        self.driver.start(self._dwell)
        self._gate = self._dwell

    @command(doc_in="Close the gate or disarm now (safe state)")
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
            if self._mode != CountingMode.TIMED:
                return "armed: counting in the sequencer's gate windows"
            return f"counting for {self._gate:g} s"
        return self.get_status() if state == DevState.FAULT else "idle"
