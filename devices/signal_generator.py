"""Tango device of a MW or RF signal generator: CW output, sweeps and lists stepped on triggers."""

from dataclasses import replace

import numpy as np
from tango import AttrWriteType, DevState
from tango.server import attribute, command

from nanomri.interfaces.signal_generator import (
    Mode,
    TriggerSource,
    dbm_to_watt,
    watt_to_dbm,
)

from .base import InstrumentDevice
from .validation import fail, refusals, require_finite

LIST_DIM = 100_000  # declared spectrum size; the driver's list_max_points is the real limit
RW = AttrWriteType.READ_WRITE


def _enum(kind: type, value: int, name: str):
    """`value` as a member of `kind`, or DevFailed NANOMRI_OUT_OF_RANGE naming the choices."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(f"{m.value} ({m.name})" for m in kind)
        fail("OUT_OF_RANGE", f"{name} {value!r} is not one of {choices}")


class SignalGenerator(InstrumentDevice):
    """MW (NV spin) or RF (dark spins, STM tip) source. ON while the output is on, RUNNING
    while it steps through a sweep or list, OFF while off (its safe state)."""

    INSTRUMENT = "signal_generator"

    def init_instrument(self) -> None:
        c = self.driver.constraints
        for name in ("frequency", "sweep_start", "sweep_stop", "list_frequencies"):
            self.set_write_limits(name, c.frequency_min, c.frequency_max)
        for name in ("power", "list_powers"):
            self.set_write_limits(name, c.power_min, c.power_max)
        self.set_write_limits("power_dbm", watt_to_dbm(c.power_min), watt_to_dbm(c.power_max))
        self.set_write_limits("phase", -c.phase_max, c.phase_max)
        self.set_write_limits("sweep_points", 2, c.list_max_points)
        self.set_write_limits("dwell", c.dwell_min, c.dwell_max)
        self.driver.set_output(False)

    # --- CW output ------------------------------------------------------------------------

    @attribute(dtype=float, access=RW, unit="Hz", format="%.3f",
               doc="CW frequency, on the output in FIXED mode (the generator keeps it: not "
                   "memorized, a scan sets it at every point)")
    def frequency(self) -> float:
        return self.driver.frequency()

    @frequency.write
    def frequency(self, value: float) -> None:
        with refusals():
            self.driver.set_frequency(require_finite("frequency", value))

    @attribute(dtype=float, access=RW, unit="W", format="%.4e", memorized=True,
               hw_memorized=True, doc="output level (1 mW = 0 dBm), in FIXED and SWEEP mode")
    def power(self) -> float:
        return self.driver.power()

    @power.write
    def power(self, value: float) -> None:
        with refusals():
            self.driver.set_power(require_finite("power", value))

    @attribute(dtype=float, access=RW, unit="dBm", format="%.2f",
               doc="output level in dBm, the same setting as power")
    def power_dbm(self) -> float:
        return watt_to_dbm(self.driver.power())

    @power_dbm.write
    def power_dbm(self, value: float) -> None:
        c = self.driver.constraints
        watt = dbm_to_watt(require_finite("power_dbm", value))
        with refusals():  # clip: the dBm limits are the W limits up to rounding
            self.driver.set_power(float(np.clip(watt, c.power_min, c.power_max)))

    @attribute(dtype=bool, access=RW, doc="True switches the RF output on, False off")
    def output(self) -> bool:
        return self.driver.output()

    @output.write
    def output(self, on: bool) -> None:
        with refusals():
            self.driver.set_output(bool(on))

    @attribute(dtype=float, access=RW, unit="rad", format="%.4f", memorized=True,
               hw_memorized=True, doc="phase of the output relative to the reference")
    def phase(self) -> float:
        return self.driver.phase()

    @phase.write
    def phase(self, value: float) -> None:
        with refusals():
            self.driver.set_phase(require_finite("phase", value))

    # --- sweep and list -------------------------------------------------------------------

    @attribute(dtype=Mode, access=RW,
               doc="FIXED: CW frequency; SWEEP: linear sweep; LIST: list of points")
    def mode(self) -> Mode:
        return self.driver.mode()

    @mode.write
    def mode(self, value: int) -> None:
        mode = _enum(Mode, value, "mode")
        with refusals():
            self.driver.set_mode(mode)

    @attribute(dtype=float, access=RW, unit="Hz", format="%.3f", memorized=True,
               hw_memorized=True, doc="first frequency of the sweep")
    def sweep_start(self) -> float:
        return self.driver.sweep().start

    @sweep_start.write
    def sweep_start(self, value: float) -> None:
        self._set_sweep(start=require_finite("sweep_start", value))

    @attribute(dtype=float, access=RW, unit="Hz", format="%.3f", memorized=True,
               hw_memorized=True, doc="last frequency of the sweep")
    def sweep_stop(self) -> float:
        return self.driver.sweep().stop

    @sweep_stop.write
    def sweep_stop(self, value: float) -> None:
        self._set_sweep(stop=require_finite("sweep_stop", value))

    @attribute(dtype=int, access=RW, format="%d", memorized=True, hw_memorized=True,
               doc="number of points of the sweep, start and stop included")
    def sweep_points(self) -> int:
        return self.driver.sweep().points

    @sweep_points.write
    def sweep_points(self, value: int) -> None:
        self._set_sweep(points=int(value))

    def _set_sweep(self, **changes) -> None:
        with refusals():
            self.driver.set_sweep(replace(self.driver.sweep(), **changes))

    @attribute(dtype=float, access=RW, unit="s", format="%.3e", memorized=True,
               hw_memorized=True, doc="time per sweep or list point under IMMEDIATE trigger")
    def dwell(self) -> float:
        return self.driver.dwell()

    @dwell.write
    def dwell(self, value: float) -> None:
        with refusals():
            self.driver.set_dwell(require_finite("dwell", value))

    @attribute(dtype=(float,), max_dim_x=LIST_DIM, access=RW, unit="Hz", format="%.3f",
               doc="frequencies of the list; a new length sets every list power to power")
    def list_frequencies(self) -> np.ndarray:
        return self.driver.list_frequencies()

    @list_frequencies.write
    def list_frequencies(self, values: np.ndarray) -> None:
        f = self._checked_list("list_frequencies", values)
        powers = self.driver.list_powers()
        if len(powers) != len(f):
            powers = np.full(len(f), self.driver.power())
        with refusals():
            self.driver.set_list(f, powers)

    @attribute(dtype=(float,), max_dim_x=LIST_DIM, access=RW, unit="W", format="%.4e",
               doc="levels of the list points, as many as list_frequencies")
    def list_powers(self) -> np.ndarray:
        return self.driver.list_powers()

    @list_powers.write
    def list_powers(self, values: np.ndarray) -> None:
        p = self._checked_list("list_powers", values)
        f = self.driver.list_frequencies()
        if len(p) != len(f):
            fail("LIST_LENGTH", f"list_powers needs one level per list frequency: "
                                f"{len(f)} expected, got {len(p)}")
        with refusals():
            self.driver.set_list(f, p)

    def _checked_list(self, name: str, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float).ravel()
        limit = self.driver.constraints.list_max_points
        if not 1 <= len(values) <= limit:
            fail("LIST_LENGTH", f"{name} has 1 to {limit} points, got {len(values)}")
        if not np.all(np.isfinite(values)):
            bad = values[~np.isfinite(values)][0]
            fail("NOT_FINITE", f"{name} must be finite numbers, got {bad}")
        return values

    @attribute(dtype=TriggerSource, access=RW, memorized=True, hw_memorized=True,
               doc="what steps a sweep or list: IMMEDIATE (every dwell), SOFTWARE (Trigger), "
                   "EXTERNAL (rising edges at the trigger input)")
    def trigger_source(self) -> TriggerSource:
        return self.driver.trigger()

    @trigger_source.write
    def trigger_source(self, value: int) -> None:
        source = _enum(TriggerSource, value, "trigger_source")
        with refusals():
            self.driver.set_trigger(source)

    @attribute(dtype=int, format="%d", polling_period=100, abs_change="1",
               doc="index of the current sweep or list point; -1 in FIXED mode or unknown "
                   "(polled every 0.1 s: read with source DEV right after a command)")
    def step(self) -> int:
        return self.driver.step()

    @attribute(dtype=float, unit="s", format="%.3e",
               doc="time the output takes to settle on a new frequency (data sheet): a sweep or "
                   "list point is usable that long after the trigger that stepped to it")
    def settle_time(self) -> float:
        return self.driver.constraints.frequency_settle_time

    @attribute(dtype=bool, doc="True once the output carries the commanded frequency and level")
    def settled(self) -> bool:
        return self.driver.settled()

    @command(doc_in="Step the sweep or list by one point (trigger_source SOFTWARE)")
    def Trigger(self) -> None:
        with refusals():
            self.driver.software_trigger()

    @command(doc_in="Go back to the first point of the sweep or list")
    def Restart(self) -> None:
        with refusals():
            self.driver.restart()

    @command(doc_in="Switch the RF output off (safe state)")
    def Stop(self) -> None:
        self.safe_state()

    def safe_state(self) -> None:
        self.driver.set_output(False)

    # --- state ----------------------------------------------------------------------------

    def _condition(self) -> tuple[DevState, str]:
        if self._driver is None:
            return DevState.FAULT, self.get_status()
        d = self._driver
        try:
            on, mode, settled = d.output(), d.mode(), d.settled()
            where = f"{d.frequency():.6g} Hz at {watt_to_dbm(d.power()):.2f} dBm"
            if mode != Mode.FIXED:
                where = (f"{mode.name.lower()} point {d.step()}, "
                         f"{d.trigger().name.lower()} trigger")
        except Exception as exc:  # a generator that stops answering is a FAULT, not a crash
            return DevState.FAULT, f"instrument not answering: {exc}"
        if not on:
            return DevState.OFF, f"output off ({where})"
        state = DevState.ON if mode == Mode.FIXED else DevState.RUNNING
        return state, f"output on, {where}{'' if settled else ', settling'}"

    def dev_state(self) -> DevState:
        return self._condition()[0]

    def dev_status(self) -> str:
        return self._condition()[1]
